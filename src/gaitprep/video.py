"""Streaming video decoding: one decode per job, frame by frame, never the whole clip in memory.

Frames come from OpenCV's ``VideoCapture`` (FFmpeg backend). A background thread decodes
ahead into a bounded queue (``prefetch`` frames) so that decoding overlaps inference.

Frame timing comes from the container, not from the header frame rate: every frame carries
its presentation timestamp (``CAP_PROP_POS_MSEC`` right after ``grab()``, i.e. the frame's
pts minus the stream's start time, in s). Phone videos are often variable-frame-rate, and
a header rate can be plausible but wrong; :func:`frame_timing` summarises the timestamps
and says when they disagree with the header or are not uniform.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from .errors import VideoError
from .results import Frame

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
#: consecutive undecodable frames after which a video is considered truncated/ended
MAX_CONSECUTIVE_FAILURES = 25


#: frame intervals farther than this fraction of the median interval from it make the
#: timing non-uniform (a 30 fps clip: +-3.3 ms; timestamp rounding is far below that)
UNIFORM_TOLERANCE = 0.10
#: header and measured (median) frame rate differing by more than this fraction -> warning
HEADER_FPS_TOLERANCE = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video: ``frame_count`` may be approximate.

    Attributes:
        width, height: frame size in px as the frames are decoded (after auto-rotation).
        fps: the header's frame rate (frames/s); the real timing is in the frames' ``t``.
        frame_count: frames the container reports.
        rotation: display rotation from the container metadata, degrees (0, 90, 180, 270;
            ``CAP_PROP_ORIENTATION_META``).
        auto_rotated: whether the decoder applies ``rotation`` to the frames
            (``CAP_PROP_ORIENTATION_AUTO``): then ``width``/``height`` are the rotated ones.
    """

    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    rotation: int = 0
    auto_rotated: bool = True

    @property
    def portrait(self) -> bool:
        """Frames taller than wide (a phone held upright, or a sideways picture)."""
        return self.height > self.width


def orientation_warning(info: VideoInfo) -> Optional[str]:
    """A sentence saying that the video is portrait or sideways, or None for a landscape one.

    Side-view gait needs the walker to cross a landscape frame; a portrait frame (or one
    stored sideways with a rotation flag the decoder does not apply) otherwise shows up
    downstream only as "person never fully in view".
    """
    rot = info.rotation % 360
    if rot in (90, 270) and not info.auto_rotated:
        return (
            f"{info.path}: the video is stored sideways (rotation metadata {rot} degrees, not applied by the "
            f"decoder): frames are decoded as {info.width}x{info.height} px with the picture turned by {rot} degrees"
        )
    if rot == 180 and not info.auto_rotated:
        return f"{info.path}: the video is stored upside down (rotation metadata 180 degrees, not applied by the decoder)"
    if info.portrait:
        how = (f"rotation metadata {rot} degrees, auto-rotated upright by the decoder" if rot
               else "no rotation metadata: if the camera was held sideways the picture is turned")  # fmt: skip
        return (
            f"{info.path}: portrait video ({info.width}x{info.height} px, taller than wide; {how}); "
            f"side-view gait needs a landscape frame in which the walker crosses the field of view"
        )
    return None


def check_video_file(path: str | Path) -> None:
    """Fail fast on a path that cannot be a readable video.

    Raises:
        VideoError: the file is missing, not a regular file, unreadable (permissions), empty,
            or has an unsupported extension.
    """
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: video file does not exist")
    if not p.is_file():
        raise VideoError(f"{p}: not a regular file")
    if p.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VideoError(f"{p}: unsupported extension {p.suffix!r} (expected one of {', '.join(VIDEO_EXTENSIONS)})")
    if not os.access(p, os.R_OK):
        raise VideoError(f"{p}: permission denied (file is not readable)")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: file is empty (0 bytes)")


def probe(path: str | Path) -> VideoInfo:
    """Open a video and read its size, frame rate and frame count.

    Raises:
        VideoError: see :func:`check_video_file`; or the container cannot be opened, or it
            reports no frames, a zero size or a non-positive frame rate.
    """
    check_video_file(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: cannot open video (corrupt file or unsupported codec)")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if w <= 0 or h <= 0:
            raise VideoError(f"{path}: video reports no frame size (corrupt file or unsupported codec)")
        if not fps > 0:
            raise VideoError(f"{path}: video reports no frame rate")
        if n <= 0:
            raise VideoError(f"{path}: video has no frames")
        rot = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
        auto = bool(cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
        return VideoInfo(str(path), w, h, fps, n, rot, auto)
    finally:
        cap.release()


class VideoReader:
    """Iterate the frames ``[start, end)`` of a video, decoded once, in order.

    Args:
        path: the video file.
        start: first source frame index to yield (default 0).
        end: one past the last source frame index (default: to the end).
        prefetch: frames decoded ahead in a background thread (0: decode inline).

    Attributes:
        info: :class:`VideoInfo` of the file.
        skipped: source indices of frames that failed to decode and were skipped
            (recoverable faults in the middle of a video), filled while iterating.
        decoded: number of frames yielded.
        indices, timestamps: source index and presentation timestamp (s, from the
            container, see the module doc) of every frame yielded, filled while iterating.

    Yields :class:`gaitprep.results.Frame` with the *source* frame index and its
    timestamp ``t`` (s).

    Raises:
        VideoError: the file cannot be opened, or no frame in the range decodes.
    """

    def __init__(self, path: str | Path, start: int = 0, end: Optional[int] = None, prefetch: int = 8):
        self.path = str(path)
        self.info = probe(path)
        self.start = int(start or 0)
        self.end = None if end is None else int(end)
        if self.start < 0 or (self.end is not None and self.end <= self.start):
            raise VideoError(f"{path}: bad frame range start={self.start} end={self.end}")
        self.prefetch = int(prefetch)
        self.skipped: list[int] = []
        self.decoded = 0
        self.indices: list[int] = []
        self.timestamps: list[Optional[float]] = []

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in px."""
        return self.info.width, self.info.height

    def _frames(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise VideoError(f"{self.path}: cannot open video")
        try:
            idx = 0
            if self.start:
                # grab() keeps source indices exact where seeking in compressed streams may not
                while idx < self.start and cap.grab():
                    idx += 1
            pending: list[int] = []  # failures count as skipped only if a later frame decodes
            while self.end is None or idx < self.end:
                ok = cap.grab()
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if ok else None
                if ok:
                    ok, img = cap.retrieve()
                if not ok or img is None:
                    if len(pending) >= MAX_CONSECUTIVE_FAILURES:
                        break
                    pending.append(idx)
                    idx += 1
                    continue
                if pending:
                    log.warning("%s: frames %s could not be decoded and were skipped", self.path, pending)
                    self.skipped.extend(pending)
                    pending = []
                yield Frame(idx, img, t)
                idx += 1
        finally:
            cap.release()

    def __iter__(self) -> Iterator[Frame]:
        it = self._frames() if self.prefetch <= 0 else _prefetched(self._frames(), self.prefetch)
        for frame in it:
            self.decoded += 1
            self.indices.append(frame.index)
            self.timestamps.append(frame.t)
            yield frame
        if self.decoded == 0:
            raise VideoError(f"{self.path}: no frame could be decoded in range [{self.start}, {self.end})")


    def timing(self) -> tuple[dict, list[str]]:
        """:func:`frame_timing` of the frames read so far (call after iterating)."""
        return frame_timing(self.indices, self.timestamps, self.fps, self.path)


def frame_timing(
    indices: list[int], t_s: list[Optional[float]], header_fps: float, path: str = "the video"
) -> tuple[dict, list[str]]:
    """Summarise frame timestamps; say where they disagree with the header or are uneven.

    Args:
        indices: source frame indices, increasing.
        t_s: their presentation timestamps, s (None where unknown).
        header_fps: the container's frame rate, frames/s.
        path: named in the messages.

    Returns:
        ``(timing, warnings)``. ``timing`` is ``{"frames": [int], "t_s": [float],
        "header_fps", "median_fps", "uniform": bool, "max_jitter_ms", "source"}``:
        ``median_fps`` is 1 / the median per-frame interval (intervals across skipped frames
        divided by the number of frames they span); ``max_jitter_ms`` the largest deviation
        of a per-frame interval from that median, ms; ``uniform`` whether every interval is
        within :data:`UNIFORM_TOLERANCE` of the median. ``source`` is ``"container"``, or
        ``"header"`` when the timestamps are missing or not increasing: then ``t_s`` is
        ``index / header_fps`` and a warning says so. ``warnings`` also holds a header rate
        more than :data:`HEADER_FPS_TOLERANCE` off the measured one (naming both), and
        non-uniform timing (the measured spread).
    """
    idx = [int(i) for i in indices]
    ts = list(t_s)
    warnings: list[str] = []
    source = "container"
    def _bad(k):
        if ts[k] is None or not math.isfinite(ts[k]):
            return True
        return k > 0 and ts[k - 1] is not None and ts[k] <= ts[k - 1]

    bad = [k for k in range(len(ts)) if _bad(k)]
    if bad and header_fps > 0:
        k = bad[0]
        warnings.append(
            f"{path}: the container's frame timestamps are missing or not increasing (first at frame {idx[k]}); "
            f"frames are timed as index / header rate {header_fps:g} fps"
        )
        ts = [i / header_fps for i in idx]
        source = "header"
    timing = {"frames": idx, "t_s": [round(float(t), 6) for t in ts], "header_fps": round(float(header_fps), 4),
              "median_fps": None, "uniform": True, "max_jitter_ms": 0.0, "source": source}  # fmt: skip
    if len(idx) < 2:
        return timing, warnings
    di = np.diff(np.asarray(idx, float))
    dt = np.diff(np.asarray(ts, float)) / di  # s per frame
    med = float(np.median(dt))
    dev = np.abs(dt - med)
    timing["median_fps"] = round(1.0 / med, 4)
    timing["max_jitter_ms"] = round(float(dev.max()) * 1000, 3)
    uneven = dev > UNIFORM_TOLERANCE * med
    timing["uniform"] = not bool(uneven.any())
    if source == "container" and header_fps > 0 and abs(header_fps * med - 1) > HEADER_FPS_TOLERANCE:
        warnings.append(
            f"{path}: the header frame rate {header_fps:g} fps disagrees with the frame timestamps "
            f"({1 / med:.3f} fps, median interval {med * 1000:.2f} ms); gaitprep times frames by their timestamps"
        )
    if uneven.any():
        k = int(np.argmax(dev))
        rates = 1.0 / dt
        warnings.append(
            f"{path}: frame timing is not uniform: {int(uneven.sum())} of {len(dt)} frame intervals differ from the "
            f"median {med * 1000:.2f} ms by more than {UNIFORM_TOLERANCE:.0%} (max jitter {dev[k] * 1000:.1f} ms "
            f"after frame {idx[k]}; rate {rates.min():.2f}-{rates.max():.2f} fps)"
        )
    return timing, warnings


_END = object()


def _prefetched(it: Iterator, depth: int) -> Iterator:
    """Run ``it`` in a daemon thread, buffering at most ``depth`` items; re-raise its errors."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in it:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    t = threading.Thread(target=work, daemon=True, name="video-prefetch")
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def batched(frames, n: int):
    """Group an iterable into lists of at most ``n`` items (the last may be shorter)."""
    batch = []
    for f in frames:
        batch.append(f)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch
