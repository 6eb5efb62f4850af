# run_report.smk: write <output_dir>/run_report.json at the end of every run, success or
# failure, and print its summary (clips complete, each failed job with the file and the
# reason from its log, undecodable frames skipped). Include it last in the Snakefile:
#     include: "rules/run_report.smk"
# Snakemake keeps one onsuccess/onerror handler per workflow: a Snakefile that needs its
# own should call _gaitprep_run_report(log, status) from it.
# `log` in the handlers is the list of Snakemake log files of the run.
# The handlers also hold <output_dir>/.gaitprep.lock for the run (gaitprep.lock): onstart
# takes it (Snakemake runs onstart only for a real run, never for --dry-run) and refuses a
# second run on the same output folder; onsuccess/onerror release it.


def _gaitprep_import():
    import sys as _sys
    from pathlib import Path as _Path

    try:
        import gaitprep.lock  # noqa: F401
    except ImportError:
        _sys.path.insert(0, str(_Path(workflow.basedir).parent / "src"))


def _gaitprep_run_report(log, status):
    import sys as _sys

    _gaitprep_import()
    from gaitprep.lock import release
    from gaitprep.reporting.run_report import write_run_report

    root = config.get("output_dir") or "results"
    try:
        write_run_report(root, snakemake_logs=log, status=status)
    except Exception as e:  # a report problem must never hide the run's own outcome
        print(f"gaitprep: could not write {root}/run_report.json: {e}", file=_sys.stderr)
    finally:
        release(root)


def _gaitprep_lock():
    import sys as _sys

    _gaitprep_import()
    from gaitprep.lock import LockError, acquire

    root = config.get("output_dir") or "results"
    try:
        acquire(root)
    except LockError as e:
        print(f"gaitprep: error: {e}", file=_sys.stderr)
        raise
    # the sample sheet's parse-time warnings (common.smk: SHEET_WARNINGS), for the run report
    from gaitprep.sanity import write_sheet_warnings

    write_sheet_warnings(root, globals().get("SHEET_WARNINGS") or [])


onstart:
    _gaitprep_lock()


onsuccess:
    _gaitprep_run_report(log, "success")


onerror:
    _gaitprep_run_report(log, "error")
