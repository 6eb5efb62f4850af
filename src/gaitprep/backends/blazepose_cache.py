"""The shared BlazePose intermediate of one clip: landmarks + soft person mask, compressed.

When pose (``blazepose``) and silhouette (``blazepose-mask``) both use BlazePose, the pose
job runs BlazePose once with its segmentation head on and writes, besides the pose JSON,
this file; the silhouette job only thresholds the stored mask (``mask_threshold``), so a
threshold change reruns the silhouettes (and what reads them), not the model.

Location (outside the Health&Gait folders, :func:`intermediate_path`)::

    <output_dir>/intermediate/blazepose/<PID>/<GT>/<WC>_<clip>.npz

Format: a zip (NumPy ``.npz``: ``np.load`` reads it) written frame by frame, members

* ``meta.json``: format tag, clip, video block, decoded/skipped frames, model params;
* ``index.npy`` ``(N,)`` int32 source frame indices, ``found.npy`` ``(N,)`` bool (a pose);
* ``landmarks.npy`` ``(N, 33, 4)`` float32: x px, y px, visibility, z (NaN where no pose),
  exactly what :class:`gaitprep.backends.blazepose.BlazePoseModel` returned;
* ``box.npy`` ``(N, 4)`` int32 ``x0, y0, x1, y1`` (end exclusive) of the stored mask crop,
  ``-1`` where no mask;
* ``mask/<index>.npy`` ``(y1-y0, x1-x0)`` uint8: the soft mask ``p`` (MediaPipe's person
  probability, float32 0..1) quantised as ``q = clip(ceil(256 p) - 1, 0, 255)`` and cropped
  to the bounding box of ``q > 0`` (outside it ``q = 0``), deflate-compressed.

Threshold: ``p > t`` is ``q >= ceil(256 t)`` (:func:`threshold`), exact for every ``t`` that
is a multiple of 1/256 (0.5, 0.25, 0.75, ...: the default 0.5 gives the same mask as
thresholding MediaPipe's float mask); for other ``t``, only pixels with ``p`` within 1/256
of ``t`` can differ. Size: about 13 KB per 960x540 frame with a person (gait_normal_01:
mean 12.8 KB, max 18.5 KB), 0.5 KB per frame of landmarks: bounded, and deleted with
``intermediate/`` when not needed (deleting it reruns the pose job on the next run).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

FORMAT = "gaitprep-blazepose-intermediate/1"
N_LANDMARKS = 33


def intermediate_path(root: str | Path, clip) -> Path:
    """``<root>/intermediate/blazepose/<PID>/<GT>/<WC>_<clip>.npz`` of a :class:`ClipId`."""
    return Path(root) / "intermediate" / "blazepose" / clip.participant / clip.gait_type / f"{clip.stem}.npz"


def quantise(p: np.ndarray) -> np.ndarray:
    """``(H, W)`` float mask in [0, 1] -> ``(H, W)`` uint8 ``clip(ceil(256 p) - 1, 0, 255)``."""
    t = np.multiply(np.asarray(p, np.float32), np.float32(256.0))  # float32 throughout, in place
    np.ceil(t, out=t)
    t -= np.float32(1.0)
    np.clip(t, 0, 255, out=t)
    return t.astype(np.uint8)


def threshold(q: np.ndarray, t: float) -> np.ndarray:
    """The bool mask ``p > t`` from a quantised mask ``q`` (see the module docstring)."""
    return q >= math.ceil(256.0 * float(t))


def _npy(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, np.ascontiguousarray(a), allow_pickle=False)
    return b.getvalue()


class IntermediateWriter:
    """Write the intermediate frame by frame into ``path`` (a temporary file the caller
    renames into place; see :func:`gaitprep.healthgait.writers.atomic_path`).

    Holds only the landmarks (0.5 KB per frame); each mask goes to the zip as it comes.
    """

    def __init__(self, path: str | Path, compresslevel: int = 6):
        self.compresslevel = compresslevel
        self.zf = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self.index: list[int] = []
        self.lms: list[np.ndarray] = []
        self.boxes: list[tuple[int, int, int, int]] = []
        self.bytes_masks = 0

    def add(self, index: int, lm: Optional[np.ndarray], soft: Optional[np.ndarray]) -> None:
        """One frame: ``lm`` ``(33, 4)`` float32 or None, ``soft`` ``(H, W)`` float 0..1 or None."""
        self.index.append(int(index))
        self.lms.append(np.full((N_LANDMARKS, 4), np.nan, np.float32) if lm is None else np.asarray(lm, np.float32))
        box = (-1, -1, -1, -1)
        if lm is not None and soft is not None:
            q = quantise(soft)
            rows = np.flatnonzero(q.any(axis=1))
            if len(rows):  # the bounding box of q > 0
                cols = np.flatnonzero(q.any(axis=0))
                box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
                data = _npy(q[box[1] : box[3], box[0] : box[2]])
                self._write(f"mask/{int(index)}.npy", data)
                self.bytes_masks += self.zf.getinfo(f"mask/{int(index)}.npy").compress_size
        self.boxes.append(box)

    def _write(self, name: str, data: bytes) -> None:
        """One member, with a fixed time stamp: the same frames give the same bytes (a rerun, a
        cluster run and a local run of the same clip compare equal)."""
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        self.zf.writestr(info, data, compresslevel=self.compresslevel)

    def close(self, meta: dict) -> None:
        """Write the landmark arrays and ``meta`` (JSON-serialisable) and close the zip."""
        n = len(self.index)
        lms = np.stack(self.lms) if n else np.zeros((0, N_LANDMARKS, 4), np.float32)
        self._write("index.npy", _npy(np.asarray(self.index, np.int32)))
        self._write("found.npy", _npy(~np.isnan(lms[:, 0, 0]) if n else np.zeros(0, bool)))
        self._write("landmarks.npy", _npy(lms))
        self._write("box.npy", _npy(np.asarray(self.boxes, np.int32).reshape(n, 4)))
        self._write("meta.json", json.dumps({"format": FORMAT, **meta}, sort_keys=True))
        self.zf.close()

    def abort(self) -> None:
        self.zf.close()


class IntermediateReader:
    """Read an intermediate written by :class:`IntermediateWriter`.

    Raises:
        GaitprepError: the file is missing, not a zip, or not this format (names the file).
    """

    def __init__(self, path: str | Path):
        from ..errors import GaitprepError

        self.path = Path(path)
        try:
            self.zf = zipfile.ZipFile(self.path)
            self.meta = json.loads(self.zf.read("meta.json"))
            self.index = self._arr("index.npy")
            self.landmarks = self._arr("landmarks.npy")
            self.boxes = self._arr("box.npy")
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise GaitprepError(f"{self.path}: not a readable BlazePose intermediate ({e}); delete it to rerun the pose job") from e
        if self.meta.get("format") != FORMAT:
            raise GaitprepError(f"{self.path}: format {self.meta.get('format')!r}, expected {FORMAT!r}; delete it to rerun the pose job")

    def _arr(self, name: str) -> np.ndarray:
        with self.zf.open(name) as f:
            return np.lib.format.read_array(io.BytesIO(f.read()), allow_pickle=False)

    def __len__(self) -> int:
        return len(self.index)

    def frames(self) -> Iterator[tuple[int, Optional[np.ndarray], Optional[np.ndarray]]]:
        """Yield ``(index, landmarks (33, 4) or None, quantised mask (H, W) uint8 or None)``
        in source order, one full-size mask at a time."""
        w, h = int(self.meta["video"]["width"]), int(self.meta["video"]["height"])
        for k, i in enumerate(self.index):
            lm = self.landmarks[k]
            if np.isnan(lm[0, 0]):
                yield int(i), None, None
                continue
            x0, y0, x1, y1 = (int(v) for v in self.boxes[k])
            if x0 < 0:
                yield int(i), lm, None
                continue
            q = np.zeros((h, w), np.uint8)
            q[y0:y1, x0:x1] = self._arr(f"mask/{int(i)}.npy")
            yield int(i), lm, q

    def close(self) -> None:
        self.zf.close()
