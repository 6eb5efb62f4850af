"""Reading pose JSON (the spec's format) into per-joint arrays, and a clip's fps.

Pose JSON: ``[{"frame": int, "joints": {name: {"x": px, "y": px, "score": 0..1}} | null}]``
(:mod:`gaitprep.results`). Coordinates are full-frame px, x right, y down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ..errors import InputError

#: joints the gait code reads (others in the file are ignored)
GAIT_JOINTS = (
    "nose", "l_shoulder", "r_shoulder", "l_hip", "r_hip", "hip", "l_knee", "r_knee",
    "l_ankle", "r_ankle", "l_heel", "r_heel", "l_big_toe", "r_big_toe",
)  # fmt: skip


@dataclass
class PoseSeries:
    """Keypoint trajectories of one clip on a contiguous frame axis.

    Attributes:
        frames: ``(T,)`` int64 source frame indices ``first..last`` (no holes; frames absent
            from the file or with ``joints: null`` are NaN rows).
        xy: joint name -> ``(T, 2)`` float64 px (x, y); NaN where missing.
        score: joint name -> ``(T,)`` float64 in [0, 1]; 0 where missing.
        width, height: image size in px when known (from the provenance), else None.
        t: ``(T,)`` float64 s, the presentation time of each frame of ``frames`` (same
            order), or None until :func:`attach_times` sets it. Gait events are timed
            from it (interpolated at fractional frames), so a variable frame rate gives
            correct step times. :func:`gaitprep.gait.preprocess.prepare` falls back to
            ``frames / fps`` (with a warning) when it is None.
        time_source: where ``t`` came from: ``"timestamps"`` (the container's frame
            timestamps, provenance ``timing``), ``"fps"`` (frame / fps) or None.
    """

    frames: np.ndarray
    xy: dict[str, np.ndarray]
    score: dict[str, np.ndarray]
    width: Optional[int] = None
    height: Optional[int] = None
    source: str = "<records>"
    extra: dict = field(default_factory=dict)
    t: Optional[np.ndarray] = None
    time_source: Optional[str] = None

    @property
    def n(self) -> int:
        return int(len(self.frames))

    def has(self, name: str) -> bool:
        """True when the joint exists with a finite value in at least one frame."""
        return name in self.xy and bool(np.isfinite(self.xy[name][:, 0]).any())

    def copy(self) -> "PoseSeries":
        return PoseSeries(
            self.frames.copy(),
            {k: v.copy() for k, v in self.xy.items()},
            {k: v.copy() for k, v in self.score.items()},
            self.width,
            self.height,
            self.source,
            dict(self.extra),
            None if self.t is None else self.t.copy(),
            self.time_source,
        )


def record_frames(records, source: str) -> tuple[list, np.ndarray]:
    """The pose JSON records as a list and their ``frame`` numbers, ``(N,)`` int64.

    Raises:
        InputError: no records, or a record without an integer ``frame`` (naming ``source``).
    """
    recs = list(records)
    if not recs:
        raise InputError(f"{source}: pose JSON holds no frames")
    try:
        return recs, np.array([int(r["frame"]) for r in recs], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{source}: every pose record needs an integer 'frame' ({e})") from e


def series_from_records(
    records: Iterable[dict],
    source: str = "<records>",
    width: Optional[int] = None,
    height: Optional[int] = None,
) -> PoseSeries:
    """Build a :class:`PoseSeries` from the spec's per-frame records.

    Raises:
        InputError: a record without an int ``frame`` or with malformed joints, or no
            records at all (the message names ``source``).
    """
    recs, idx = record_frames(records, source)
    first, last = int(idx.min()), int(idx.max())
    frames = np.arange(first, last + 1, dtype=np.int64)
    T = len(frames)
    xy = {k: np.full((T, 2), np.nan) for k in GAIT_JOINTS}
    score = {k: np.zeros(T) for k in GAIT_JOINTS}
    for r, f in zip(recs, idx):
        joints = r.get("joints")
        if not joints:
            continue
        if not isinstance(joints, dict):
            raise InputError(f"{source}: frame {f}: 'joints' must be an object or null")
        t = int(f) - first
        for k in GAIT_JOINTS:
            j = joints.get(k)
            if j is None:
                continue
            try:
                xy[k][t] = (float(j["x"]), float(j["y"]))
                score[k][t] = float(j.get("score", 1.0))
            except (KeyError, TypeError, ValueError) as e:
                raise InputError(f"{source}: frame {f}: joint {k!r} needs numeric x, y, score ({e})") from e
    return PoseSeries(frames, xy, score, width, height, source)


def read_json_file(path: str | Path, missing: str, error=InputError):
    """Parse a JSON file, raising ``error`` with ``"<path>: <missing>"`` when it is absent and
    ``"<path>: not valid JSON (...)"`` when it does not parse."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON ({e})") from e


def load_pose(
    path: str | Path, width: Optional[int] = None, height: Optional[int] = None, provenance: Optional[str | Path] = None
) -> PoseSeries:
    """Read a pose JSON file into a :class:`PoseSeries`.

    With ``provenance`` (the pose job's provenance JSON), the frame timestamps it holds
    (:func:`read_provenance_timing`) become ``series.t`` (``time_source ==
    "timestamps"``) and its ``backend`` goes to ``series.extra["backend"]`` (the event
    detector's timing correction for that pose model); without timestamps ``series.t``
    stays None and :func:`gaitprep.gait.preprocess.prepare` times frames as frame / fps.

    Raises:
        InputError: the file is missing, not JSON, or not a list of pose records; the
            provenance is missing, not JSON or has a malformed ``timing``.
    """
    path = Path(path)
    data = read_json_file(path, "pose JSON not found")
    if not isinstance(data, list):
        raise InputError(f"{path}: pose JSON must be a list of per-frame records")
    series = series_from_records(data, str(path), width, height)
    if provenance is not None:
        timing = read_provenance_timing(provenance)
        if timing is not None:
            attach_times(series, timing, timing.get("header_fps"))
        backend = read_provenance_backend(provenance)
        if backend:
            series.extra["backend"] = backend
    return series


def read_provenance_video(path: str | Path) -> dict:
    """The ``video`` block of a pose job's provenance JSON (``fps``, ``width``, ``height``...).

    Raises:
        InputError: the file is missing, not JSON, or has no positive ``video.fps``.
    """
    path = Path(path)
    data = read_json_file(path, "provenance JSON not found (needed for the clip's fps; or pass --fps)")
    video = data.get("video") if isinstance(data, dict) else None
    fps = video.get("fps") if isinstance(video, dict) else None
    try:
        ok = fps is not None and float(fps) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{path}: provenance has no positive video.fps (pass --fps instead)")
    return dict(video)


def read_provenance_timing(path: str | Path) -> Optional[dict]:
    """The frame timing block of a pose job's provenance JSON, or None when it has none.

    Format (written by the video reader/runner): ``"timing": {"frames": [int, ...],
    "t_s": [float, ...], "header_fps": float, ...}``: the presentation timestamp (s) of
    each listed source frame. Older provenance records have no ``timing`` or one
    without ``frames``/``t_s`` (the runner's wall-clock ``wall_s``/``load_s``): None,
    and the gait code times frames as ``frame / fps`` (and says so in its warnings).

    Raises:
        InputError: the file is missing or not JSON, or ``timing`` is present but
            malformed (lists of unequal length, non-numeric, or timestamps that go
            backwards), naming the file.
    """
    path = Path(path)
    data = read_json_file(path, "provenance JSON not found")
    timing = data.get("timing") if isinstance(data, dict) else None
    if not isinstance(timing, dict) or ("frames" not in timing and "t_s" not in timing):
        return None
    return check_timing(timing, str(path))


def read_provenance_backend(path: str | Path) -> Optional[str]:
    """The pose backend named in a pose job's provenance JSON (``"backend"``, e.g.
    ``"blazepose"``), or None. The event detector applies the timing correction
    calibrated for that backend (:data:`gaitprep.gait.events.EVENT_OFFSET_S`); set it as
    ``series.extra["backend"]``. Raises InputError when the file is missing or not JSON."""
    data = read_json_file(Path(path), "provenance JSON not found")
    b = data.get("backend") if isinstance(data, dict) else None
    return str(b) if isinstance(b, str) and b else None


def check_timing(timing, source: str = "<timing>") -> dict:
    """Validate a ``timing`` block (see :func:`read_provenance_timing`); returns a copy with
    ``frames`` as int64 and ``t_s`` as float64 arrays. Raises InputError naming ``source``."""
    if not isinstance(timing, dict) or "frames" not in timing or "t_s" not in timing:
        raise InputError(f"{source}: provenance 'timing' needs lists 'frames' and 't_s'")
    try:
        fr = np.asarray(timing["frames"], dtype=np.int64)
        ts = np.asarray(timing["t_s"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{source}: provenance 'timing' frames/t_s must be numbers ({e})") from e
    if fr.ndim != 1 or fr.shape != ts.shape or len(fr) == 0:
        raise InputError(f"{source}: provenance 'timing' frames and t_s must be equal-length, non-empty lists")
    if not np.isfinite(ts).all():
        raise InputError(f"{source}: provenance 'timing' t_s holds a non-finite value")
    order = np.argsort(fr, kind="stable")
    fr, ts = fr[order], ts[order]
    if (np.diff(fr) <= 0).any() or (np.diff(ts) <= 0).any():
        raise InputError(f"{source}: provenance 'timing' frames must be unique and t_s strictly increasing with the frame")
    out = dict(timing)
    out["frames"], out["t_s"] = fr, ts
    return out


def attach_times(series: PoseSeries, timing: Optional[dict] = None, fps: Optional[float] = None) -> PoseSeries:
    """Set ``series.t`` (s per frame, in place; returns the series).

    With ``timing`` (:func:`read_provenance_timing`), each frame's time is its timestamp;
    frames between or beyond the listed ones are interpolated / extrapolated linearly
    (at the mean rate of the listed frames, or ``fps`` when only one is listed), and
    ``time_source`` is ``"timestamps"``. Without it, ``t = frames / fps`` and
    ``time_source`` is ``"fps"``.

    Raises:
        InputError: neither usable ``timing`` nor a positive ``fps``.
    """
    if timing is not None:
        tm = check_timing(timing, series.source)
        fr, ts = tm["frames"].astype(float), tm["t_s"]
        f = series.frames.astype(float)
        if len(fr) >= 2:
            rate = (ts[-1] - ts[0]) / (fr[-1] - fr[0])
        elif fps and fps > 0:
            rate = 1.0 / fps
        else:
            raise InputError(f"{series.source}: timing lists one frame and no fps is given")
        t = np.interp(f, fr, ts)
        t = np.where(f < fr[0], ts[0] + (f - fr[0]) * rate, t)
        t = np.where(f > fr[-1], ts[-1] + (f - fr[-1]) * rate, t)
        series.t, series.time_source = t.astype(np.float64), "timestamps"
        return series
    if not (fps and fps > 0):
        raise InputError(f"{series.source}: frame times need timestamps or a positive fps")
    series.t, series.time_source = series.frames.astype(np.float64) / float(fps), "fps"
    return series


def time_at(series: PoseSeries, frame: float) -> float:
    """Time (s) of a fractional source frame: ``series.t`` interpolated linearly (and
    extrapolated at the local rate beyond the ends). Needs ``series.t``."""
    f = series.frames.astype(float)
    t = series.t
    if len(f) == 1:
        return float(t[0])
    if frame < f[0]:
        return float(t[0] + (frame - f[0]) * (t[1] - t[0]))
    if frame > f[-1]:
        return float(t[-1] + (frame - f[-1]) * (t[-1] - t[-2]))
    return float(np.interp(frame, f, t))


def frame_at(series: PoseSeries, time_s: float) -> float:
    """Fractional source frame at a time (s): the inverse of :func:`time_at`."""
    f = series.frames.astype(float)
    t = series.t
    if len(f) == 1:
        return float(f[0])
    if time_s < t[0]:
        return float(f[0] + (time_s - t[0]) / (t[1] - t[0]))
    if time_s > t[-1]:
        return float(f[-1] + (time_s - t[-1]) / (t[-1] - t[-2]))
    return float(np.interp(time_s, t, f))


def clip_video_info(root: str | Path, clip) -> dict:
    """The ``video`` block (``fps``, ``width``, ``height``...) of a clip's pose provenance in
    the tree: :func:`gaitprep.healthgait.naming.provenance_path` ``(root, clip, "pose")``.

    ``clip`` is a :class:`gaitprep.healthgait.naming.ClipId` or its key. Raises InputError (see
    :func:`read_provenance_video`).
    """
    from ..healthgait.naming import ClipId, provenance_path

    c = clip if isinstance(clip, ClipId) else ClipId.from_key(str(clip))
    return read_provenance_video(provenance_path(root, c, "pose"))
