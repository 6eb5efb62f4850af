"""What a run tells its user: per-clip QC pictures and run summary (:mod:`~gaitprep.reporting.qc`)
and ``run_report.json`` with every failure and its reason (:mod:`~gaitprep.reporting.run_report`)."""
