"""Writers for the tree: every output is written to a temporary sibling and renamed into
place at the end, so a failed or killed job leaves nothing half-written.

Temporary names are ``<final>.tmp-<pid>``; :func:`clean_stale_temps` removes those left by
killed jobs, and only those: a temporary whose process is still alive on this host belongs
to a job that is writing the same output right now, and is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from .naming import frame_name, frame_width
from ..results import PoseResult

TMP_TAG = ".tmp-"
_TMP_PID = re.compile(r"\.tmp-(\d+)$")
log = logging.getLogger(__name__)


def _tmp_sibling(final: Path) -> Path:
    return final.with_name(f"{final.name}{TMP_TAG}{os.getpid()}")


#: a temporary untouched for this long is stale even if a process with its pid is alive
#: (the pid was reused after the writer was killed); a live writer touches its folder with
#: every frame
STALE_TEMP_S = 6 * 3600


def temp_owner_alive(tmp: str | Path) -> bool:
    """Whether a ``<final>.tmp-<pid>`` temporary belongs to a live writer: another process
    (not this one) with that pid is alive on this host and the temporary was modified within
    :data:`STALE_TEMP_S`. Names without a pid count as dead."""
    from ..lock import pid_alive

    m = _TMP_PID.search(Path(tmp).name)
    if not m:
        return False
    pid = int(m[1])
    if pid == os.getpid() or not pid_alive(pid):
        return False
    try:
        return time.time() - Path(tmp).stat().st_mtime < STALE_TEMP_S
    except OSError:
        return False


def clean_stale_temps(final: str | Path) -> list[Path]:
    """Remove temporary siblings of ``final`` left by dead (killed) jobs; return those kept.

    A temporary of a live process (another job writing the same output at this moment) is
    kept and logged: removing it would make that job fail with a misleading write error.
    """
    final = Path(final)
    kept = []
    if final.parent.exists():
        for p in final.parent.glob(f"{final.name}{TMP_TAG}*"):
            if temp_owner_alive(p):
                log.warning("%s: another live process (pid %s) is writing this output now; its temporary %s is left alone",
                            final, _TMP_PID.search(p.name)[1], p.name)  # fmt: skip
                kept.append(p)
                continue
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return kept


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


@contextmanager
def atomic_path(final: str | Path, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``final`` into; rename it into place on success.

    On any exception the temporary is removed and ``final`` is left as it was before (a
    previous complete output is replaced only by a new complete one).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(final)
    tmp = _tmp_sibling(final)
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
        if final.exists() or final.is_symlink():
            _remove(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.exists():
            _remove(tmp)
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file, fsync, rename).

    Raises:
        OSError: the write failed (disk full, permissions); the message names ``path`` and
            ``errno`` is kept. Nothing is left at ``path`` or beside it.
    """
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                json.dump(obj, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
    except OSError as e:
        if str(path) in str(e):
            raise
        raise OSError(e.errno, f"{path}: cannot write ({e.strerror or e})") from e


def write_pose_json(path: str | Path, results: Iterable[PoseResult]) -> int:
    """Write the spec's pose JSON (one element per frame) atomically; return the frame count."""
    records = [r.to_record() for r in results]
    write_json_atomic(path, records)
    return len(records)


class FrameDirWriter:
    """Write one image per frame into a folder, atomically as a whole.

    Images are written as ``<index>.<ext>`` into a temporary folder; :meth:`commit` renames
    them to the final zero-padded width (3 digits, more when the clip has >= 1000 frames;
    ``width`` fixes it) and renames the folder into place. Use as a context manager: an
    exception inside the block discards everything.

    Args:
        final: the output folder, e.g. ``naming.silhouette_dir(root, clip)``.
        ext: ``.jpg`` or ``.png``.
        width: digits of the frame numbers; default: from the largest index written.
        jpeg_quality: JPEG quality 0..100 (``.jpg`` only).

    Raises:
        OSError: when a write fails (disk full, permissions); ``cv2.imwrite`` returning
            False is turned into an ``OSError`` naming the file.
    """

    def __init__(self, final: str | Path, ext: str, width: int | None = None, jpeg_quality: int = 95):
        self.final = Path(final)
        self.ext = ext
        self.width = width
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if ext == ".jpg" else []
        self.indices: list[int] = []
        self._cm = None
        self.tmp: Path | None = None

    def __enter__(self) -> "FrameDirWriter":
        self._cm = atomic_path(self.final, is_dir=True)
        self.tmp = self._cm.__enter__()
        return self

    def write(self, index: int, image: np.ndarray) -> None:
        """Write one ``(H, W)`` or ``(H, W, 3)`` uint8 (BGR) image for source frame ``index``."""
        p = self.tmp / f"{int(index)}{self.ext}"
        if not cv2.imwrite(str(p), image, self.params):
            raise OSError(f"{self.final}: could not write frame {index} (disk full or not writable?)")
        self.indices.append(int(index))

    def _rename_to_width(self) -> None:
        width = self.width or frame_width(max(self.indices, default=0))
        for i in self.indices:
            os.rename(self.tmp / f"{i}{self.ext}", self.tmp / f"{frame_name(i, width)}{self.ext}")

    def __exit__(self, et, ev, tb):
        if et is None:
            try:
                self._rename_to_width()
            except BaseException as e:
                return self._cm.__exit__(type(e), e, e.__traceback__)
        return self._cm.__exit__(et, ev, tb)


def write_mask(writer: FrameDirWriter, index: int, mask: np.ndarray) -> None:
    """Write a boolean ``(H, W)`` mask as a binary 0/255 single-channel image."""
    mask = np.asarray(mask)
    if mask.dtype == bool:  # the same 0/255 image, without np.where's int64 temporary
        writer.write(index, mask.view(np.uint8) * np.uint8(255))
    else:
        writer.write(index, np.where(mask, 255, 0).astype(np.uint8))
