# The Python of the workflow: config and sample validation, wildcard constraints, and the
# small input/param functions the rules use. Rules themselves stay thin.
import json

from snakemake.logging import logger
import shlex
from pathlib import Path

from gaitprep.backends import FLOW_METHOD, GPU_BACKENDS, ONE_THREAD_BACKENDS
from gaitprep.config import load_schema, load_yaml, path_hint, prepare_config
from gaitprep.errors import InputError
from gaitprep.healthgait.naming import ClipId, set_participant_pattern
from gaitprep.samples import Sample, discover, load_sheet
from gaitprep.sanity import check_samples
from gaitprep.synth.model import WalkerParams

#: the synthetic walker's default image scale (px/cm): the demo clips' calibration
DEMO_PX_PER_CM = WalkerParams().px_per_cm

SCHEMA = load_schema(Path(workflow.current_basedir) / ".." / "schemas" / "config.schema.yaml")


def _config_layers():
    """The config layers, earliest first (see gaitprep.config). Run from the command line,
    the files named by --configfile (config/config.yaml, the demo, only when none is named),
    then --config; used as a module, the config the outer Snakefile passes."""
    if getattr(workflow.modifier, "skip_configfile", False):  # a module given `config:`
        return [dict(config)]
    files = list(workflow.config_settings.configfiles or [])
    if not files:
        return [dict(config)]  # configfile: config/config.yaml (+ --config, merged by Snakemake)
    return [load_yaml(f) for f in files] + [dict(workflow.config_settings.config or {})]


CONFIG_FILES = [str(f) for f in (workflow.config_settings.configfiles or [])]
_cfg = prepare_config(_config_layers(), SCHEMA)
config.clear()
config.update(_cfg)

OUT = config["output_dir"].rstrip("/")
DEMO = config["demo"].get("dir", "demo").rstrip("/")
MODALITIES = config["modalities"]
PY = "python -m gaitprep"
# participant IDs: config participant_id (jobs inherit it through GAITPREP_PARTICIPANT_ID)
set_participant_pattern(config["participant_id"])


def keep_going():
    """Whether snakemake runs with --keep-going (known once the DAG is built, not at parse time)."""
    return bool(getattr(getattr(workflow, "execution_settings", None), "keep_going", False))


def demo_video(key):
    """Where the synth job writes a demo clip (<demo dir>/<PID>_<GT>_<stem>.mp4)."""
    c = ClipId.from_key(key)
    return f"{DEMO}/{c.participant}_{c.gait_type}_{c.stem}.mp4"


def _load_samples():
    demo = config.get("demo", {})
    if config.get("samples") and config.get("videos_dir"):
        raise InputError("config: give either `samples` (a TSV) or `videos_dir`, not both")
    samples = []
    for key, what in (("samples", "sample sheet"), ("videos_dir", "videos folder")):
        if config.get(key) and not Path(config[key]).exists():
            raise InputError(f"config {key}: {what} {config[key]} does not exist{path_hint(config[key], CONFIG_FILES)}")
    if config.get("samples"):
        samples += load_sheet(config["samples"], strict_files=False)
    elif config.get("videos_dir"):
        samples += discover(config["videos_dir"])
    if demo.get("enabled"):
        for c in demo.get("clips", []):
            samples.append(Sample(ClipId.from_key(c["id"]), Path(demo_video(c["id"]))))
    if not samples:
        raise InputError("config: no input clips (set `samples`, `videos_dir` or `demo.enabled`)")
    seen = set()
    for s in samples:
        if s.key in seen:
            raise InputError(f"config: clip {s.key} is given twice (sample sheet/videos folder and demo)")
        seen.add(s.key)
    return {s.key: s for s in samples}


SAMPLES = _load_samples()
CLIPS = sorted(SAMPLES)
# frame ranges vs the videos (error), a video under two clips (warning); see gaitprep.sanity
SHEET_WARNINGS = check_samples(SAMPLES.values(), past_end=config.get("end_frame_past_end", "error"))
# A missing or unreadable video: with --keep-going only its own clip's jobs fail (they report
# the file); without it, every such problem stops the run before any job starts.
BAD_CLIPS = {k: s.problem for k, s in SAMPLES.items() if s.problem}


def check_bad_clips():
    """Raise, listing every bad video, unless --keep-going lets the other clips run."""
    if BAD_CLIPS and not keep_going():
        raise InputError(
            f"{len(BAD_CLIPS)} input video(s) cannot be read (use --keep-going to process the other clips):\n  "
            + "\n  ".join(BAD_CLIPS.values())
        )


DEMO_CLIPS = {c["id"]: c for c in config.get("demo", {}).get("clips", []) if config["demo"].get("enabled")}


def _calibration_clips():
    """gait.calibration.clips with the enabled demo clips' own calibration added (demo
    settings live in the demo block, so they never reach a real clip); a key that names no
    input clip is an error."""
    cal = config["gait"]["calibration"]
    clips = dict(cal.get("clips") or {})
    unknown = sorted(k for k in clips if k not in SAMPLES)
    if unknown:
        raise InputError(
            "config gait.calibration.clips: no input clip "
            + ", ".join(unknown)
            + f" (the inputs are: {', '.join(CLIPS[:10])}{' ...' if len(CLIPS) > 10 else ''})"
        )
    for key, c in DEMO_CLIPS.items():
        # a demo clip is calibrated by its renderer's own scale unless its block says otherwise
        scale = (c.get("walker") or {}).get("px_per_cm", DEMO_PX_PER_CM)
        own = c.get("calibration") or {"method": "px_per_cm", "px_per_cm": float(scale)}
        clips[key] = {**own, **clips.get(key, {})}
    cal["clips"] = clips
    if "gait" not in MODALITIES:
        return
    # the height method needs a stature: say so before any job starts (the gait jobs of those
    # clips fail naming it; with --keep-going the other clips finish, docs/faults.md)
    no_height = []
    for key in CLIPS:
        c = {**(cal.get("default") or {}), **clips.get(key, {})}
        if c.get("method", "height") == "height" and not (
            c.get("height_cm") or c.get("participants_measures") or config.get("participants_measures")
        ):
            no_height.append(key)
    if no_height:
        logger.warning(
            f"config gait.calibration: {len(no_height)} clip(s) use the height method but no stature is given, "
            f"their gait jobs will fail ({', '.join(no_height[:5])}{' ...' if len(no_height) > 5 else ''}): set "
            "`participants_measures` (CSV with columns ID, Height in cm), or give those clips `height_cm`, "
            "`px_per_cm` or `sensor_bars` under gait.calibration (config/README.md)"
        )


_calibration_clips()


wildcard_constraints:
    pid=config["participant_id"],
    gt=r"UGS|FGS",
    stem=r"(NW|FW)-(WJ|WoJ)_[12]",
    method=r"TVL1|GMFLOW",


def clip_key(w):
    return f"{w.pid}/{w.gt}/{w.stem}"


def clip_path(pattern, key):
    """Fill a path pattern with {pid}, {gt}, {stem} from a clip key."""
    pid, gt, stem = key.split("/")
    return pattern.format(pid=pid, gt=gt, stem=stem, OUT=OUT)


def video_path(w):
    """The clip's video path (also for a clip whose video is missing: its job reports it)."""
    key = clip_key(w)
    if key not in SAMPLES:
        raise InputError(f"clip {key} is not among the inputs")
    return str(SAMPLES[key].path)


def get_video(w):
    """The video as a rule input; none for a bad clip, so that only its own job fails."""
    check_bad_clips()
    if SAMPLES[clip_key(w)].problem:
        logger.warning(f"clip {clip_key(w)} will fail: {SAMPLES[clip_key(w)].problem}")
        return []
    return video_path(w)


def frame_range(w):
    """`--start N --end M` for the clip's optional frame range."""
    s = SAMPLES[clip_key(w)]
    args = []
    if s.start_frame is not None:
        args += ["--start", str(s.start_frame)]
    if s.end_frame is not None:
        args += ["--end", str(s.end_frame)]
    return " ".join(args)


def tree_root(w, output):
    """The tree's root from a job's provenance output <root>/provenance/<PID>/<GT>/<file>."""
    return str(Path(output.prov).parents[3])


def walker_args(walker):
    """Config `walker:` mapping -> `gaitprep synth` flags ({step_length: 65} -> --step-length 65)."""
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(str(v))}" for k, v in walker.items())


def modality_cfg(modality, method=None):
    if modality != "flow":
        return config[modality]
    for e in config["flow"]["engines"]:
        if FLOW_METHOD[e["backend"]] == method:
            return e
    raise InputError(f"config: no flow engine writes method {method}")


def flow_methods():
    methods = [FLOW_METHOD[e["backend"]] for e in config["flow"]["engines"]]
    if len(set(methods)) != len(methods):
        raise InputError(f"config: two flow engines write the same folder ({methods})")
    return methods


def job_spec(modality, method=None):
    """The JSON the rule hands to `gaitprep run` (see gaitprep.runner.JobSpec)."""
    m = modality_cfg(modality, method)
    spec = {
        "backend": m["backend"],
        "params": m.get("params") or {},
        "device": m.get("device", config.get("device", "auto")),
        "models_dir": config.get("models_dir"),
        "allow_download": config.get("allow_download", False),
    }
    if modality == "flow":
        spec["coding"] = config["flow"].get("coding", {})
    return json.dumps(spec, sort_keys=True)


def uses_gpu(modality, method=None):
    m = modality_cfg(modality, method)
    return int(m["backend"] in GPU_BACKENDS and m.get("device", config.get("device", "auto")) != "cpu")


#: scheduling priority per modality (higher first): pose and gait results arrive before the
#: long flow jobs; for the rules' `priority:` (rule_priority)
_PRIORITY = {"synth": 50, "pose": 40, "gait": 40, "silhouette": 20, "segmentation": 20, "flow": 0}


def rule_priority(modality):
    """`priority:` of a modality's rules: pose and gait before silhouette/segmentation, flow last."""
    return _PRIORITY.get(modality, 0)


_DEFAULT_RESOURCES = {
    "pose": {"mem_mb": 3000, "runtime": 30, "threads": 2},
    "silhouette": {"mem_mb": 3000, "runtime": 30, "threads": 2},
    "segmentation": {"mem_mb": 3000, "runtime": 30, "threads": 2},
    "flow": {"mem_mb": 4000, "runtime": 240, "threads": 2},
    "gait": {"mem_mb": 1000, "runtime": 10, "threads": 1},
}


#: backend -> conda environment file (for `--sdm conda`); others use envs/gaitprep.yaml
_CONDA_ENVS = {"densepose": "../envs/densepose.yaml"}


def conda_env(modality, method=None):
    """The conda env file for a modality's configured backend (parse-time, per rule)."""
    if modality == "flow":
        return "../envs/gaitprep.yaml"
    return _CONDA_ENVS.get(config[modality]["backend"], "../envs/gaitprep.yaml")


def res(modality, key):
    """A resource for a modality: config `resources.<modality>.<key>` or the default."""
    return config.get("resources", {}).get(modality, {}).get(key, _DEFAULT_RESOURCES[modality][key])


def outputs_of(modality, key):
    """The final outputs of one clip for one modality (what target rules ask for); for the
    image folders, their provenance record (tree_outputs_of gives the folders)."""
    if modality == "pose":
        return [clip_path("{OUT}/pose/{pid}/{gt}/{stem}_AlphaPose.json", key)]
    # image folders: their provenance record, the rule's declared output (modalities.smk)
    if modality in ("silhouette", "segmentation"):
        return [clip_path(f"{{OUT}}/provenance/{{pid}}/{{gt}}/{{stem}}.{modality}.json", key)]
    if modality == "flow":
        return [clip_path(f"{{OUT}}/provenance/{{pid}}/{{gt}}/{{stem}}.flow.{m}.json", key) for m in flow_methods()]
    if modality == "gait":
        return [clip_path("{OUT}/gait_steps/{pid}/{gt}/{stem}.parquet", key)]
    raise ValueError(modality)


def targets(modality):
    """Every output of a modality over all clips, plus the tree-level files it implies."""
    out = [p for key in CLIPS for p in outputs_of(modality, key)]
    if modality == "gait":
        out.append(f"{OUT}/gait_parameters_estimation.csv")
    return out


def all_targets():
    out = [p for m in MODALITIES if m not in ("qc",) for p in targets(m)]
    if "qc" in MODALITIES:
        out += qc_targets()  # workflow/rules/qc.smk
    for name in ("participants_measures", "gait_parameters"):
        if config.get(name):
            out.append(f"{OUT}/{name}.csv")
    return out
