"""Streaming video decoding: one decode per job, frame by frame, never the whole clip in memory.

Frames come from OpenCV's ``VideoCapture`` (FFmpeg backend). A background thread decodes
ahead into a bounded queue (``prefetch`` frames) so that decoding overlaps inference.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2

from .errors import VideoError
from .results import Frame

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
#: consecutive undecodable frames after which a video is considered truncated/ended
MAX_CONSECUTIVE_FAILURES = 25


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video: ``frame_count`` may be approximate."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int


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
        return VideoInfo(str(path), w, h, fps, n)
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

    Yields :class:`gaitprep.results.Frame` with the *source* frame index.

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
                yield Frame(idx, img)
                idx += 1
        finally:
            cap.release()

    def __iter__(self) -> Iterator[Frame]:
        it = self._frames() if self.prefetch <= 0 else _prefetched(self._frames(), self.prefetch)
        for frame in it:
            self.decoded += 1
            yield frame
        if self.decoded == 0:
            raise VideoError(f"{self.path}: no frame could be decoded in range [{self.start}, {self.end})")


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
