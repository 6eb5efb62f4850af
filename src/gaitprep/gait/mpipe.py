"""Pose for gait checks: the pipeline's BlazePose backend run over a video, in memory.

Used by the gait tests and ``bench/gait_accuracy.py`` (the same backend, settings and
name mapping as ``gaitprep run pose`` with ``backend: blazepose``; see
:mod:`gaitprep.backends.blazepose`), without writing the tree.
"""

from __future__ import annotations

from pathlib import Path


def blazepose_records(video: str | Path, model_complexity: int = 1) -> tuple[list[dict], dict]:
    """Run BlazePose (video mode) over every frame of ``video``.

    Returns:
        ``(records, info)``: the spec's pose records ``[{"frame": i, "joints": {...}|None}]``
        and ``{"fps", "width", "height", "n_frames"}`` of the video.

    Raises:
        BackendUnavailableError: mediapipe is not installed.
        VideoError: the video cannot be opened.
    """
    from ..backends.blazepose import BlazePoseBackend
    from ..video import VideoReader

    reader = VideoReader(video, prefetch=0)
    backend = BlazePoseBackend({"model_complexity": model_complexity})
    try:
        records = [r.to_record() for r in backend.run(iter(reader))]
    finally:
        backend.close()
    i = reader.info
    return records, {"fps": float(i.fps), "width": int(i.width), "height": int(i.height), "n_frames": len(records)}
