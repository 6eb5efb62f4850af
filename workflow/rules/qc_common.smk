# Functions of the qc rules (workflow/rules/qc.smk): which files the QC pictures read, and
# the per-clip split of the manual event overrides. Kept apart from the rules (snakemake --lint).
from gaitprep.reporting.qc import clip_override_rows

_IMAGE_MODALITIES = ("pose", "silhouette", "segmentation", "flow")
#: the modalities whose outputs the montage shows: those that run (all four if none does)
QC_IMAGE_MODALITIES = [m for m in _IMAGE_MODALITIES if m in MODALITIES] or list(_IMAGE_MODALITIES)
#: the manual event overrides TSV (config gait.event_overrides); None: no overrides
EVENT_OVERRIDES = config.get("gait", {}).get("event_overrides")
if EVENT_OVERRIDES and not Path(EVENT_OVERRIDES).is_file():
    # a warning, not an error: configs copied from config/config.yaml into another folder
    # name the demo's file relative to the repository
    logger.warning(
        f"config gait.event_overrides: {EVENT_OVERRIDES} does not exist{path_hint(EVENT_OVERRIDES, CONFIG_FILES)};"
        " no manual event overrides"
    )
    EVENT_OVERRIDES = None


def clip_overrides(w):
    """The rows of the event overrides TSV that name this clip (TSV text, "" if none).

    A param of rule split_event_overrides. Snakemake reruns a job when its params change, so editing the
    TSV reruns only the jobs of the clips whose rows changed.
    """
    return clip_override_rows(EVENT_OVERRIDES, clip_key(w))


def clip_overrides_file(w):
    """The clip's own overrides TSV (header and its rows; written by split_event_overrides)."""
    return f"{OUT}/gait_overrides/{w.pid}/{w.gt}/{w.stem}.tsv"


def provenance_of(modality, key, method=None):
    """<OUT>/provenance/<PID>/<GT>/<stem>.<modality>[.<METHOD>].json of one clip."""
    tag = modality if method is None else f"{modality}.{method}"
    return clip_path(f"{{OUT}}/provenance/{{pid}}/{{gt}}/{{stem}}.{tag}.json", key)


def qc_montage_inputs(w):
    """Named inputs of one clip's montage: the outputs of the image modalities that run."""
    key = clip_key(w)
    ins = {}
    for m in QC_IMAGE_MODALITIES:
        files = outputs_of(m, key)
        ins[m] = files if m == "flow" else files[0]
    methods = {m: (flow_methods() if m == "flow" else [None]) for m in QC_IMAGE_MODALITIES}
    ins["prov"] = [provenance_of(m, key, x) for m in QC_IMAGE_MODALITIES for x in methods[m]]
    return ins


def qc_montage_args(w, input):
    """The `gaitprep qc-montage` options for the montage's inputs (quoted)."""
    args, key = [], clip_key(w)
    for m in ("pose", "silhouette", "segmentation"):
        if m in input.keys():
            args += [f"--{m}", tree_outputs_of(m, key)[0]]
    if "flow" in input.keys():
        args += ["--flow", *tree_outputs_of("flow", key)]
    args += ["--provenance", *input.prov]
    return " ".join(shlex.quote(str(a)) for a in args)


def has_producer(path):
    """Whether a rule of the workflow makes ``path`` (the gait rules may be absent)."""
    return any(r.is_producer(path) for r in workflow.rules)


def qc_gait():
    """Gait results enter the QC when "gait" is a modality and the gait rules make them."""
    key = CLIPS[0]
    return "gait" in MODALITIES and has_producer(clip_path("{OUT}/qc/gait/{pid}/{gt}/{stem}.png", key))


def qc_jobs():
    """The jobs expected per clip, as `gaitprep qc-summary --jobs` spells them."""
    jobs = []
    for m in ("pose", "silhouette", "segmentation", "flow", "gait"):
        if m not in MODALITIES or (m == "gait" and not qc_gait()):
            continue
        jobs += [f"flow:{x}" for x in flow_methods()] if m == "flow" else [m]
    return jobs


def _job_record(job, key):
    """(file that proves the job finished, log a failed job leaves) of one job of a clip."""
    m, _, method = job.partition(":")
    if m == "gait":
        record = clip_path("{OUT}/gait_steps/{pid}/{gt}/{stem}.summary.json", key)
        return record, clip_path("{OUT}/logs/gait_clip/{pid}/{gt}/{stem}.log", key)
    sub = f"{method}/" if method else ""
    return provenance_of(m, key, method or None), clip_path(
        f"{{OUT}}/logs/{m}_clip/{{pid}}/{{gt}}/{sub}{{stem}}.log", key
    )


def qc_job_table():
    """(record, log, failed) per expected job of every clip; failed: the job ran and left a
    log but no record, or its clip's video is missing."""
    rows = []
    for key in CLIPS:
        for job in qc_jobs():
            rec, log = _job_record(job, key)
            failed = key in BAD_CLIPS or (Path(log).exists() and not Path(rec).exists())
            rows.append((rec, log, failed))
    return rows


def qc_summary_inputs(w):
    """The records the summary waits for: every job's, except jobs that already ran and
    failed: the summary reports those (reason from their log) without waiting for a retry.
    """
    return [rec for rec, _, failed in qc_job_table() if not failed]


def qc_failed_jobs(w):
    """The logs of jobs that failed earlier (a param: the summary reruns when they change)."""
    return " ".join(sorted(log for _, log, failed in qc_job_table() if failed))


def qc_targets():
    """What the qc target (and the default target when "qc" is in modalities) builds."""
    out = [f"{OUT}/qc/run_summary.csv", f"{OUT}/qc/run_summary.html"]
    if qc_gait():
        out.append(f"{OUT}/qc/report/gait_parameters_estimation.csv")
    for key in CLIPS:
        if key in BAD_CLIPS:
            continue
        out.append(clip_path("{OUT}/qc/montage/{pid}/{gt}/{stem}.png", key))
        if qc_gait():
            out.append(clip_path("{OUT}/qc/report/gait/{pid}/{gt}/{stem}.png", key))
    return out
