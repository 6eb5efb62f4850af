"""The Health&Gait layout contract (``shared/spec/healthgait.md``), in one place.

* :mod:`~gaitprep.healthgait.naming` - the tree: folders, file names, frame numbering, CSV
  columns;
* :mod:`~gaitprep.healthgait.palette` - the DensePose body-part colours;
* :mod:`~gaitprep.healthgait.flowcode` - the optical-flow HSV colour coding;
* :mod:`~gaitprep.healthgait.writers` - atomic writers for every file kind of the tree;
* :mod:`~gaitprep.healthgait.tables` - the user's input tables written into the tree
  (``participants_measures.csv`` in the spec's columns);
* :mod:`~gaitprep.healthgait.validate` - ``gaitprep validate``: a tree against the contract;
* ``schemas/pose.schema.json`` - the per-frame pose JSON.
"""
