"""gaitprep: raw side-view walking videos to the Health&Gait dataset layout.

The package holds everything the Snakemake rules call: the naming of the tree
(:mod:`gaitprep.healthgait.naming`), the sample sheet (:mod:`gaitprep.samples`), the streaming
video reader (:mod:`gaitprep.video`), the writers (:mod:`gaitprep.healthgait.writers`), one
backend interface per modality (:mod:`gaitprep.backends`) and the gait-parameter
estimation (:mod:`gaitprep.gait`).
"""

__version__ = "0.1.0"
