"""Run one (clip, modality) job: decode once, stream frames through the backend, write the
output atomically, then a provenance record. This is the one function every rule calls.
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
from .backends import FLOW_METHOD, get_backend_class
from .backends.base import Context
from .device import resolve_device
from .errors import GaitprepError
from .healthgait.flowcode import flow_to_bgr
from .healthgait.naming import ClipId, IMAGE_EXT, output_path, provenance_path
from .healthgait.palette import colorize
from .results import PoseResult
from .subject import crowd_stats, reset_crowd_stats
from .video import VideoReader, orientation_warning
from .healthgait.writers import FrameDirWriter, write_json_atomic, write_mask, write_pose_json

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
    """

    backend: str
    params: dict = field(default_factory=dict)
    device: str = "auto"
    models_dir: Optional[str] = None
    allow_download: bool = False
    coding: dict = field(default_factory=dict)
    prefetch: int = 8
    progress: bool = True

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
        The provenance record written to :func:`gaitprep.healthgait.naming.provenance_path`
        (see :func:`provenance_extras` for ``timing`` and ``warnings``).

    Raises:
        GaitprepError: bad video, unknown backend or parameter, missing weights or library;
            nothing is left at the output path (writes are atomic).
    """
    t0 = time.perf_counter()
    cls = get_backend_class(modality, spec.backend)
    method = FLOW_METHOD.get(spec.backend) if modality == "flow" else None
    out = output_path(root, clip, modality, method)
    reader = VideoReader(video, start=start or 0, end=end, prefetch=spec.prefetch)
    reset_crowd_stats()
    info = reader.info
    device = resolve_device(spec.device)
    ctx = Context(device=device, models_dir=spec.models_dir, allow_download=spec.allow_download, video=info, log=log)
    log.info("%s %s: backend %s on %s, video %s (%dx%d, %.3f fps, %d frames)",
             clip, modality, spec.backend, device, video, info.width, info.height, info.fps, info.frame_count)  # fmt: skip
    backend = cls(spec.params, ctx)
    t_load = time.perf_counter() - t0
    n_total = (end or info.frame_count) - (start or 0)
    w, h = info.width, info.height
    stats = {"frames": 0, "frames_with_person": 0}
    try:
        results = _progress(backend.run(iter(reader)), n_total if modality != "flow" else n_total - 1,
                            f"{clip} {modality}", spec.progress)  # fmt: skip
        if modality == "pose":
            recs = []
            for r in results:
                recs.append(r)
                stats["frames"] += 1
                stats["frames_with_person"] += r.joints is not None
            # one element per source frame: undecodable frames get "joints": null (timing kept)
            recs = sorted(recs + [PoseResult(i, None) for i in reader.skipped], key=lambda r: r.index)
            write_pose_json(out, recs)
        elif modality == "flow":
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
        else:
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
    finally:
        backend.close()
    stats["frames_decoded"] = reader.decoded
    stats["frames_skipped"] = list(reader.skipped)
    if reader.skipped:
        log.warning("%s: %d undecodable frame(s) skipped: %s", video, len(reader.skipped), reader.skipped)
    wall = time.perf_counter() - t0
    timing, warnings = provenance_extras(modality, reader, stats)
    for w_ in warnings:
        log.warning("%s", w_)
    record = {
        "clip": clip.key,
        "modality": modality,
        "method": method,
        "output": str(out),
        **backend.provenance(),
        "device": device,
        "video": {"path": str(video), "width": w, "height": h, "fps": info.fps,
                  "frame_count": info.frame_count, "start": start, "end": end,
                  "rotation": info.rotation, "auto_rotated": info.auto_rotated},  # fmt: skip
        "stats": stats,
        "timing": {**timing, "wall_s": round(wall, 3), "load_s": round(t_load, 3),
                   "processing_fps": round(reader.decoded / max(wall - t_load, 1e-9), 2)},  # fmt: skip
        "warnings": warnings,
        "gaitprep": __version__,
        "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if modality == "flow":
        record["coding"] = spec.coding
    write_json_atomic(provenance_path(root, clip, modality, method), record)
    log.info("%s %s: %s in %.1f s -> %s", clip, modality, stats, wall, out)
    return record
