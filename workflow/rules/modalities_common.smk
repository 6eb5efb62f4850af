# Functions of the per-modality rules (workflow/rules/modalities.smk), apart from the rules
# (snakemake --lint). One definition makes pose_clip, silhouette_clip, segmentation_clip and
# flow_clip; what differs per modality and backend is decided here, at parse time, from the
# config's backends only (never from `modalities`, so that asking for fewer modalities
# never changes a rule and reruns it).
#
# Shared BlazePose intermediate: when pose is `blazepose` and silhouette `blazepose-mask`
# (with no BlazePose model parameter of its own that differs from the pose's), pose_clip
# runs BlazePose once with its segmentation head and writes, beside the pose JSON,
# <output_dir>/intermediate/blazepose/<PID>/<GT>/<stem>.npz (landmarks + soft mask,
# gaitprep.backends.blazepose_cache); silhouette_clip only thresholds it. `pose-parts`
# segmentation reads the pose JSON and the silhouettes (any backends). Every other
# combination runs each modality on the video, as before.
from gaitprep.backends.blazepose import MODEL_PARAMS as _BLAZEPOSE_MODEL_PARAMS
from gaitprep.backends.blazepose import BlazePoseParams as _BlazePoseParams

#: what each per-clip rule is called and where its outputs go (modality -> name, paths)
CLIP_RULES = {
    "pose": {
        "out": "{OUT}/pose/{{pid}}/{{gt}}/{{stem}}_AlphaPose.json",
        "prov": "{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.pose.json",
        "log": "{OUT}/logs/pose_clip/{{pid}}/{{gt}}/{{stem}}.log",
    },
    "silhouette": {
        "prov": "{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.silhouette.json",
        "log": "{OUT}/logs/silhouette_clip/{{pid}}/{{gt}}/{{stem}}.log",
    },
    "segmentation": {
        "prov": "{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.segmentation.json",
        "log": "{OUT}/logs/segmentation_clip/{{pid}}/{{gt}}/{{stem}}.log",
    },
    "flow": {
        "prov": "{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.flow.{{method}}.json",
        "log": "{OUT}/logs/flow_clip/{{pid}}/{{gt}}/{{method}}/{{stem}}.log",
    },
}
INTERMEDIATE = "{OUT}/intermediate/blazepose/{{pid}}/{{gt}}/{{stem}}.npz".format(OUT=OUT)


def _shares_blazepose():
    """Whether pose_clip writes the shared BlazePose intermediate that silhouette_clip reads."""
    if config["pose"]["backend"] != "blazepose" or config["silhouette"]["backend"] != "blazepose-mask":
        return False
    pose = {**vars(_BlazePoseParams()), **(config["pose"].get("params") or {})}
    sil = config["silhouette"].get("params") or {}
    return all(sil[k] == pose.get(k) for k in _BLAZEPOSE_MODEL_PARAMS if k in sil)


SHARED_BLAZEPOSE = _shares_blazepose()
#: segmentation backends that read the clip's pose JSON and silhouettes instead of the video
TREE_SEGMENTATION = config["segmentation"]["backend"] == "pose-parts"


def clip_rule_output(modality):
    """Named outputs of a modality's per-clip rule. Image folders are not declared (they
    are written atomically by the job); the provenance record, written last, is the
    declared output, so no Snakemake marker lands in the Health&Gait folders."""
    paths = CLIP_RULES[modality]
    out = {"prov": paths["prov"].format(OUT=OUT)}
    if modality == "pose":
        out["json"] = paths["out"].format(OUT=OUT)
        if SHARED_BLAZEPOSE:
            out["intermediate"] = INTERMEDIATE
    return out


def clip_rule_log(modality):
    return CLIP_RULES[modality]["log"].format(OUT=OUT)


def clip_rule_input(modality):
    """The input function of a modality's per-clip rule."""

    def inputs(w):
        if modality == "silhouette" and SHARED_BLAZEPOSE:
            return {"intermediate": INTERMEDIATE.format(pid=w.pid, gt=w.gt, stem=w.stem)}
        if modality == "segmentation" and TREE_SEGMENTATION:
            key = clip_key(w)
            return {
                "pose": clip_path("{OUT}/pose/{pid}/{gt}/{stem}_AlphaPose.json", key),
                "pose_prov": clip_path("{OUT}/provenance/{pid}/{gt}/{stem}.pose.json", key),
                "silhouette_prov": clip_path("{OUT}/provenance/{pid}/{gt}/{stem}.silhouette.json", key),
            }
        video = get_video(w)
        return {"video": video} if video else {}

    return inputs


def clip_rule_spec(modality):
    """The `--spec` param function of a modality's per-clip rule (see job_spec)."""

    def spec(w):
        method = getattr(w, "method", None) if modality == "flow" else None
        s = json.loads(job_spec(modality, method))
        if SHARED_BLAZEPOSE and modality in ("pose", "silhouette"):
            s["intermediate"] = INTERMEDIATE.format(pid=w.pid, gt=w.gt, stem=w.stem)
            if modality == "silhouette":  # the pose's model parameters, its own threshold
                pose = config["pose"].get("params") or {}
                s["params"] = {**{k: pose[k] for k in _BLAZEPOSE_MODEL_PARAMS if k in pose}, **s["params"]}
        return json.dumps(s, sort_keys=True)

    return spec


def _runs_no_model(modality):
    """silhouette_clip reading the shared intermediate, segmentation_clip reading the tree:
    no model, no decode, one thread of Python."""
    return (modality == "silhouette" and SHARED_BLAZEPOSE) or (modality == "segmentation" and TREE_SEGMENTATION)


def clip_rule_threads(modality):
    """`threads:` of a per-clip rule: the config's `resources.<modality>.threads` or the
    default; 1 by default for a job that runs no model (Snakemake also sets
    OPENBLAS_NUM_THREADS etc. to it: numpy's BLAS thread start costs such a job ~70 ms CPU)
    and for flow jobs whose engines all run on one thread (tvl1-fused)."""
    if _runs_no_model(modality) and "threads" not in (config.get("resources", {}).get(modality) or {}):
        return 1
    if modality == "flow" and "threads" not in (config.get("resources", {}).get("flow") or {}):
        if all(e["backend"] in ONE_THREAD_BACKENDS for e in config["flow"]["engines"]):
            return 1
    return res(modality, "threads")


def clip_rule_gpu(modality):
    def gpu(w):
        if _runs_no_model(modality):
            return 0
        return uses_gpu(modality, getattr(w, "method", None) if modality == "flow" else None)

    return gpu


def tree_outputs_of(modality, key):
    """The files or folders one clip's modality puts in the Health&Gait tree (what the QC
    montage reads; the rules declare the provenance records instead, see outputs_of)."""
    if modality == "pose":
        return [clip_path("{OUT}/pose/{pid}/{gt}/{stem}_AlphaPose.json", key)]
    if modality == "silhouette":
        return [clip_path("{OUT}/silhouette/{pid}/{gt}/{stem}_YOLOV8", key)]
    if modality == "segmentation":
        return [clip_path("{OUT}/semantic_segmentation/{pid}/{gt}/{stem}_DensePose", key)]
    if modality == "flow":
        return [clip_path(f"{{OUT}}/optical_flow/{{pid}}/{{gt}}/{m}/{{stem}}", key) for m in flow_methods()]
    raise ValueError(modality)


#: lines MediaPipe/TFLite's C++ code prints at every graph start (not errors; they ignore
#: GLOG_minloglevel): kept out of the job logs by the rules' shell (grep -v -E); anything
#: else the job prints, errors and a native crash's last words included, stays in the log
NATIVE_LOG_NOISE = "|".join(
    (
        "Created TensorFlow Lite XNNPACK delegate",
        "All log messages before absl::InitializeLog",
        "inference_feedback_manager\\.cc",
    )
)
