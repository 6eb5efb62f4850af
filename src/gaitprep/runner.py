"""Run one (clip, modality) job: decode once, stream frames through the backend, write the
output atomically, then a provenance record. This is the one function every rule calls.

Three sources of a job's frames (:func:`run_modality` dispatches):

* the video (every backend with a model): decode, stream through the backend, write;
  a ``blazepose`` pose job with ``JobSpec.intermediate`` also writes the shared BlazePose
  intermediate (landmarks + soft mask, :mod:`gaitprep.backends.blazepose_cache`);
* the shared intermediate (``blazepose-mask`` silhouettes with ``JobSpec.intermediate``):
  no decode, no model, only the mask threshold;
* the tree (backends with ``reads``, e.g. ``pose-parts``): the clip's pose JSON and
  silhouettes, no decode, no model.

Completeness: the provenance record is written last and is what the workflow tracks; at
the start of a job the old record is removed, and a failed job also removes the old output,
so the tree never holds an output without its record (as Snakemake does with the outputs of
a job it reruns). Folders are written atomically (:class:`FrameDirWriter`).
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from . import __version__
from .backends import FLOW_METHOD, GPU_BACKENDS, get_backend_class
from .backends.base import Context
from .device import resolve_device
from .errors import GaitprepError
from .healthgait.flowcode import flow_to_bgr
from .healthgait.naming import ClipId, IMAGE_EXT, output_path, pose_path, provenance_path
from .healthgait.palette import colorize
from .results import PoseResult
from .subject import crowd_stats, reset_crowd_stats
from .video import VideoReader, orientation_warning
from .healthgait.writers import FrameDirWriter, atomic_path, write_json_atomic, write_mask, write_pose_json

log = logging.getLogger("gaitprep")


@dataclass
class JobSpec:
    """What the config says for one modality job (the rule passes it as JSON).

    Attributes:
        backend: registered backend name (see :data:`gaitprep.backends.REGISTRY`).
        params: the backend's own parameters.
        device: ``auto|cpu|cuda|cuda:N``.
        models_dir: folder searched for weights (else ``$GAITPREP_MODELS``).
        allow_download: let libraries download weights by name (online users only).
        coding: flow coding options for :func:`gaitprep.healthgait.flowcode.flow_to_bgr`.
        prefetch: frames decoded ahead of the backend.
        progress: show a progress bar (on stderr, i.e. in the job log).
        intermediate: the shared BlazePose intermediate (``.npz`` path, or ``True`` for
            :func:`gaitprep.backends.blazepose_cache.intermediate_path`): a ``blazepose``
            pose job writes it, a ``blazepose-mask`` silhouette job reads it instead of
            running BlazePose. None: no sharing.
    """

    backend: str
    params: dict = field(default_factory=dict)
    device: str = "auto"
    models_dir: Optional[str] = None
    allow_download: bool = False
    coding: dict = field(default_factory=dict)
    prefetch: int = 8
    progress: bool = True
    intermediate: Optional[str | bool] = None

    @classmethod
    def from_json(cls, text: str) -> "JobSpec":
        d = json.loads(text) if isinstance(text, str) else dict(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def _progress(it, total: Optional[int], desc: str, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    # a log file is not a terminal: print a line every 10 % rather than redraw
    return tqdm(it, total=total, desc=desc, unit="frame", file=sys.stderr, mininterval=2.0, ascii=True)


def _check_size(img: np.ndarray, w: int, h: int, what: str) -> None:
    if img.shape[0] != h or img.shape[1] != w:
        raise GaitprepError(f"{what}: backend produced {img.shape[1]}x{img.shape[0]}, expected source size {w}x{h}")


#: share of frames with another person in view above which a job warns
MULTI_PERSON_SHARE = 0.05


def provenance_extras(modality: str, reader: VideoReader, stats: dict) -> tuple[dict, list[str]]:
    """Frame timing and warnings for a job's provenance record (after the reader is exhausted).

    Returns:
        ``(timing, warnings)``: ``timing`` as :func:`gaitprep.video.frame_timing` gives it for
        every frame the job decoded (``frames`` source indices, ``t_s`` their container
        timestamps in s, ``header_fps``, ``median_fps``, ``uniform``, ``max_jitter_ms``,
        ``source``); ``warnings``: a header rate that disagrees with the timestamps (both
        named), missing timestamps, a portrait or sideways video, and for flow (which
        assumes a constant rate) non-uniform timing with its measured spread; and, when a
        subject tracker ran (YOLO, AlphaPose, DensePose), another person in view in more than
        :data:`MULTI_PERSON_SHARE` of the frames. The tracker counts go to
        ``stats["persons"]`` (see :class:`gaitprep.subject.CrowdStats`).
    """
    timing, tw = reader.timing()
    warnings = [w for w in tw if "not uniform" not in w]
    if modality == "flow" and not timing["uniform"]:
        warnings += [f"{w}; optical flow assumes a constant frame rate: flow magnitudes of those pairs "
                     f"are per frame pair, not comparable across pairs" for w in tw if "not uniform" in w]  # fmt: skip
    ow = orientation_warning(reader.info)
    if ow:
        warnings.append(ow)
    crowd = crowd_stats()
    if crowd is not None:
        stats["persons"] = crowd
        share = crowd["frames_with_others"] / crowd["frames"]
        if share > MULTI_PERSON_SHARE:
            warnings.append(
                f"{reader.path}: another person is in view in {crowd['frames_with_others']} of the {crowd['frames']} "
                f"frames with a subject ({share:.0%}; up to {crowd['max_persons']} persons in one frame): the subject "
                f"was kept by box continuity; check that joints/masks are the walker's"
            )
    return timing, warnings


def _resolve_device(backend: str, device: str) -> str:
    """The job's device: resolved (torch imported) only for backends that run torch, or when
    a CUDA device is asked for explicitly (so that a missing GPU is still an error)."""
    if backend in GPU_BACKENDS or str(device or "auto").strip() not in ("auto", "cpu"):
        return resolve_device(device)
    return "cpu"


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _intermediate(spec: JobSpec, root, clip: ClipId) -> Optional[Path]:
    if not spec.intermediate:
        return None
    if spec.intermediate is True:
        from .backends.blazepose_cache import intermediate_path

        return intermediate_path(root, clip)
    return Path(spec.intermediate)


def video_record(video, info, start, end) -> dict:
    """The provenance ``video`` block of a job that decoded ``video`` (also stored in the
    shared intermediate, so that the jobs reading it record the same)."""
    return {"path": str(video), "width": info.width, "height": info.height, "fps": info.fps,
            "frame_count": info.frame_count, "start": start, "end": end,
            "rotation": info.rotation, "auto_rotated": info.auto_rotated}  # fmt: skip


def provenance_record(clip: ClipId, modality: str, method, out, backend: dict, device: str, video: dict,
                      stats: dict, timing: dict, extra: Optional[dict] = None,
                      warnings: Optional[list] = None) -> dict:  # fmt: skip
    """The provenance record of one job (one function for every kind of job).

    Args:
        backend: :meth:`Backend.provenance` (backend, params, model...).
        video: :func:`video_record` of the decoded video.
        stats: frame counts (``frames``/``pairs``, ``frames_with_person``, ``frames_decoded``,
            ``frames_skipped``).
        timing: the frame timing of the clip (:func:`provenance_extras`: ``frames``, ``t_s``,
            ``header_fps``, ``median_fps``, ``uniform``, ``max_jitter_ms``, ``source``) with
            ``wall_s``, ``load_s`` (imports and model load) and ``processing_fps`` of the job.
        extra: further keys (``coding`` of flow, ``source`` of jobs that read no video).
        warnings: what the job found suspicious about its input (shown by the run report).
    """
    return {
        "clip": clip.key,
        "modality": modality,
        "method": method,
        "output": str(out),
        **backend,
        "device": device,
        "video": video,
        "stats": stats,
        "timing": timing,
        "warnings": list(warnings or []),
        **(extra or {}),
        "gaitprep": __version__,
        "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def run_modality(
    modality: str,
    clip: ClipId,
    video: str | Path,
    root: str | Path,
    spec: JobSpec,
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> dict:
    """Produce one modality's output for one clip under ``root`` (the Health&Gait tree).

    Args:
        modality: ``pose``, ``silhouette``, ``segmentation`` or ``flow``.
        clip: the clip's id (names the output).
        video: the source video.
        root: the tree's root folder.
        spec: backend and options (:class:`JobSpec`).
        start, end: source frame range ``[start, end)``; frame numbers in the output stay
            the source indices.

    Returns:
        The provenance record written to :func:`gaitprep.healthgait.naming.provenance_path`.

    Raises:
        GaitprepError: bad video, unknown backend or parameter, missing weights or library,
            missing or foreign input of a job that reads the tree or the intermediate;
            nothing is left at the output path (writes are atomic) and no record.
    """
    t0 = time.perf_counter()
    cls = get_backend_class(modality, spec.backend)
    method = FLOW_METHOD.get(spec.backend) if modality == "flow" else None
    out = output_path(root, clip, modality, method)
    prov = provenance_path(root, clip, modality, method)
    inter = _intermediate(spec, root, clip)
    _remove(prov)
    try:
        if getattr(cls, "reads", None):
            job = _run_from_tree(cls, modality, clip, root, spec, out, t0)
        elif inter is not None and modality == "silhouette":
            job = _run_from_intermediate(cls, clip, video, inter, spec, out, t0, root)
        else:
            job = _run_on_video(cls, modality, clip, video, spec, out, start, end, method, inter if modality == "pose" else None, t0)
    except BaseException:
        _remove(out)
        if inter is not None and modality == "pose":
            _remove(inter)
        raise
    wall = time.perf_counter() - t0
    n = job["stats"].get("frames_decoded", job["stats"].get("frames", 0)) or 0
    timing = {**job.get("frame_timing", {}), "wall_s": round(wall, 3), "load_s": round(job["load_s"], 3),
              "processing_fps": round(n / max(wall - job["load_s"], 1e-9), 2)}  # fmt: skip
    record = provenance_record(clip, modality, method, out, job["backend"], job["device"], job["video"],
                               job["stats"], timing, job.get("extra"), job.get("warnings"))  # fmt: skip
    write_json_atomic(prov, record)
    log.info("%s %s: %s in %.1f s -> %s", clip, modality, job["stats"], wall, out)
    # the job's last line: the workflow's rule prints it on the console (one line per job)
    st = job["stats"]
    what = f"{st['pairs']} pairs" if "pairs" in st else f"{st.get('frames', 0)} frames, {st.get('frames_with_person', 0)} with a person"
    name = f"{modality}.{method}" if method else modality
    warn = f"; {len(record['warnings'])} warning(s) in {prov}" if record["warnings"] else ""
    print(f"gaitprep: {clip} {name} done: {what} in {wall:.1f} s ({timing['processing_fps']} frames/s){warn}", file=sys.stderr, flush=True)
    return record


def _run_on_video(cls, modality, clip, video, spec, out, start, end, method, inter, t0) -> dict:
    """Decode the clip and stream it through the backend (one model load per job)."""
    reader = VideoReader(video, start=start or 0, end=end, prefetch=spec.prefetch)
    reset_crowd_stats()
    info = reader.info
    device = _resolve_device(spec.backend, spec.device)
    ctx = Context(device=device, models_dir=spec.models_dir, allow_download=spec.allow_download, video=info, log=log)
    if inter is not None:
        ctx.extra["share_mask"] = True
    log.info("%s %s: backend %s on %s, video %s (%dx%d, %.3f fps, %d frames)",
             clip, modality, spec.backend, device, video, info.width, info.height, info.fps, info.frame_count)  # fmt: skip
    backend = cls(spec.params, ctx)
    if inter is not None and not hasattr(backend, "run_shared"):
        raise GaitprepError(f"pose backend {spec.backend!r} cannot write the shared BlazePose intermediate (only blazepose)")
    t_load = time.perf_counter() - t0
    n_total = (end or info.frame_count) - (start or 0)
    w, h = info.width, info.height
    stats = {"frames": 0, "frames_with_person": 0}
    extra = {}
    try:
        frames = iter(reader)
        if modality == "pose":
            recs = []
            if inter is not None:
                from .backends.blazepose_cache import IntermediateWriter

                with atomic_path(inter) as tmp:
                    iw = IntermediateWriter(tmp)
                    try:
                        for r, lm, soft in _progress(backend.run_shared(frames), n_total, f"{clip} pose+mask", spec.progress):
                            recs.append(r)
                            iw.add(r.index, lm, soft)
                    except BaseException:
                        iw.abort()
                        raise
                    meta = {"clip": clip.key, "video": video_record(video, info, start, end),
                            "frames_decoded": reader.decoded, "frames_skipped": list(reader.skipped),
                            "params": backend.provenance()["params"], "model": backend.provenance()["model"]}  # fmt: skip
                    iw.close(meta)
                    extra["intermediate"] = {"path": str(inter), "frames": len(iw.index),
                                             "mask_bytes": iw.bytes_masks}  # fmt: skip
                    _write_pose(out, recs, reader, stats)
            else:
                recs = list(_progress(backend.run(frames), n_total, f"{clip} pose", spec.progress))
                _write_pose(out, recs, reader, stats)
        elif modality == "flow":
            results = _progress(backend.run(frames), n_total - 1, f"{clip} flow", spec.progress)
            coding = dict(spec.coding)
            with FrameDirWriter(out, IMAGE_EXT["flow"]) as wr:
                for r in results:
                    if r.index + 1 in reader.skipped:  # the pair spans undecodable frames
                        log.warning("%s: no flow for frame %d: frame %d could not be decoded", video, r.index, r.index + 1)
                        continue
                    _check_size(r.flow, w, h, f"{clip} flow frame {r.index}")
                    wr.write(r.index, flow_to_bgr(r.flow, **coding))
                    stats["frames"] += 1
                if reader.decoded < 2:
                    raise GaitprepError(f"{video}: optical flow needs at least 2 frames, {clip} has {reader.decoded}")
            stats["pairs"] = stats.pop("frames")
            stats.pop("frames_with_person")
            extra["coding"] = spec.coding
        else:
            results = _progress(backend.run(frames), n_total, f"{clip} {modality}", spec.progress)
            _write_images(modality, out, results, w, h, stats, clip)
    finally:
        backend.close()
    stats["frames_decoded"] = reader.decoded
    stats["frames_skipped"] = list(reader.skipped)
    if reader.skipped:
        log.warning("%s: %d undecodable frame(s) skipped: %s", video, len(reader.skipped), reader.skipped)
    frame_timing, warnings = provenance_extras(modality, reader, stats)
    for w_ in warnings:
        log.warning("%s", w_)
    return {"backend": backend.provenance(), "device": device, "video": video_record(video, info, start, end),
            "stats": stats, "load_s": t_load, "extra": extra, "frame_timing": frame_timing, "warnings": warnings}  # fmt: skip


def _write_pose(out, recs, reader, stats) -> None:
    for r in recs:
        stats["frames"] += 1
        stats["frames_with_person"] += r.joints is not None
    # one element per source frame: undecodable frames get "joints": null (timing kept)
    recs = sorted(recs + [PoseResult(i, None) for i in reader.skipped], key=lambda r: r.index)
    write_pose_json(out, recs)


def _write_images(modality, out, results, w, h, stats, clip) -> None:
    """Silhouette masks or part labels, one image per frame with a person, atomically."""
    with FrameDirWriter(out, IMAGE_EXT[modality]) as wr:
        for r in results:
            stats["frames"] += 1
            data = r.mask if modality == "silhouette" else r.parts
            if data is None:
                continue
            _check_size(data, w, h, f"{clip} {modality} frame {r.index}")
            stats["frames_with_person"] += 1
            if modality == "silhouette":
                write_mask(wr, r.index, data)
            else:
                wr.write(r.index, colorize(data))


#: the keys of a provenance ``timing`` block that describe the clip's frames (not the job)
FRAME_TIMING_KEYS = ("frames", "t_s", "header_fps", "median_fps", "uniform", "max_jitter_ms", "source")


def _pose_frame_timing(root, clip: ClipId) -> dict:
    """The clip's frame timing as the pose job recorded it (for jobs that decode no video)."""
    try:
        t = json.loads(provenance_path(root, clip, "pose").read_text()).get("timing") or {}
    except (OSError, ValueError):
        return {}
    return {k: t[k] for k in FRAME_TIMING_KEYS if k in t}


def _run_from_intermediate(cls, clip, video, inter, spec, out, t0, root=None) -> dict:
    """Silhouettes from the pose job's shared BlazePose intermediate (no decode, no model)."""
    from .backends.blazepose import MODEL_PARAMS
    from .backends.blazepose_cache import IntermediateReader

    reader = IntermediateReader(inter)
    meta = reader.meta
    if meta.get("clip") != clip.key:
        raise GaitprepError(f"{inter}: intermediate of clip {meta.get('clip')}, not {clip.key}")
    ctx = Context(device="cpu", models_dir=spec.models_dir, allow_download=spec.allow_download, log=log)
    ctx.extra["intermediate"] = str(inter)
    backend = cls(spec.params, ctx)
    made = meta.get("params") or {}
    differ = {k: (getattr(backend.params, k), made.get(k)) for k in MODEL_PARAMS if getattr(backend.params, k) != made.get(k)}
    if differ:
        raise GaitprepError(f"{inter}: made with other BlazePose parameters than this silhouette job's "
                            f"({', '.join(f'{k}: {b} here, {a} there' for k, (b, a) in differ.items())})")  # fmt: skip
    v = meta["video"]
    log.info("%s silhouette: %s from the shared intermediate %s (%d frames)", clip, spec.backend, inter, len(reader))
    t_load = time.perf_counter() - t0
    stats = {"frames": 0, "frames_with_person": 0}
    try:
        results = _progress(backend.run_intermediate(reader), len(reader), f"{clip} silhouette", spec.progress)
        _write_images("silhouette", out, results, v["width"], v["height"], stats, clip)
    finally:
        backend.close()
        reader.close()
    stats["frames_decoded"] = meta["frames_decoded"]
    stats["frames_skipped"] = meta["frames_skipped"]
    return {"backend": {**backend.provenance(), "model": meta.get("model")}, "device": "cpu", "video": v,
            "stats": stats, "load_s": t_load, "extra": {"source": {"intermediate": str(inter), "shared_with": "pose"}},
            "frame_timing": _pose_frame_timing(root, clip) if root is not None else {}}  # fmt: skip


def _run_from_tree(cls, modality, clip, root, spec, out, t0) -> dict:
    """A backend that reads other modalities of the clip from the tree (``cls.reads``)."""
    from .healthgait.naming import silhouette_dir

    need = {"pose": pose_path(root, clip), "pose provenance": provenance_path(root, clip, "pose"),
            "silhouette": silhouette_dir(root, clip), "silhouette provenance": provenance_path(root, clip, "silhouette")}  # fmt: skip
    for what, p in need.items():
        if not p.exists():
            raise GaitprepError(f"{clip} {modality} backend {spec.backend!r} reads the clip's {what}: {p} does not exist")
    try:
        records = json.loads(need["pose"].read_text())
        pose_prov = json.loads(need["pose provenance"].read_text())
    except (OSError, ValueError) as e:
        raise GaitprepError(f"{clip} {modality}: cannot read the pose JSON or its provenance: {e}") from e
    v = pose_prov["video"]
    ps = pose_prov.get("stats") or {}
    skipped = set(ps.get("frames_skipped") or [])
    records = [r for r in records if r.get("frame") not in skipped]  # undecodable: no frame
    backend = cls(spec.params, Context(device="cpu", log=log))
    log.info("%s %s: %s from %s and %s", clip, modality, spec.backend, need["pose"], need["silhouette"])
    t_load = time.perf_counter() - t0
    stats = {"frames": 0, "frames_with_person": 0}
    try:
        results = _progress(backend.run_tree(records, need["silhouette"], (v["width"], v["height"])), len(records),
                            f"{clip} {modality}", spec.progress)  # fmt: skip
        _write_images(modality, out, results, v["width"], v["height"], stats, clip)
    finally:
        backend.close()
    stats["frames_decoded"] = ps.get("frames_decoded")
    stats["frames_skipped"] = ps.get("frames_skipped", [])
    source = {m: str(need[m]) for m in ("pose", "silhouette")}
    pt = pose_prov.get("timing") or {}
    return {"backend": backend.provenance(), "device": "cpu", "video": v, "stats": stats, "load_s": t_load,
            "extra": {"source": source}, "frame_timing": {k: pt[k] for k in FRAME_TIMING_KEYS if k in pt}}  # fmt: skip
