"""Segmentation backend ``pose-parts``: an approximation of DensePose's coarse body parts.

Not DensePose, and no model of its own: it reads what the pose and silhouette jobs wrote
(the clip's pose JSON and silhouette folder, whatever backends made them) and gives each
silhouette pixel to the nearest body segment of the pose skeleton (head, torso, upper/lower
arms, hands, upper/lower legs, feet; left and right), with a per-segment thickness so that
the wide torso wins over a thin arm at equal distance to their bones:
part(p) = argmin_k ( d(p, bone_k) - r_k ), where r_k is a fraction of the torso length
(mid-shoulder to mid-hip). Depth order of overlapping limbs (near vs far leg in side view)
is not modelled. Colours are the spec's palette (:mod:`gaitprep.healthgait.palette`), so
the feet are (255,255,0) and (128,0,0) as the published gait code expects.

Joints come from the pose JSON by the spec's names; the hand segment runs from the wrist to
``wrist + HAND_FRACTION * (wrist - elbow)`` (the pose files carry no finger tips; BlazePose's
hand tips lie at 0.29 forearm lengths beyond the wrist, in the forearm direction: median
over gait_abnormal_01, cos 0.99). A segment with a joint missing from the pose (COCO-17 has
no heels or toes: no foot segment) is left out; its pixels go to the nearest other segment.
Frames: those with both a silhouette image and a pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..healthgait.palette import PART_LABEL
from ..results import PartsResult
from .base import SegmentationBackend
from .blazepose import BLAZEPOSE_HAND, BLAZEPOSE_INDEX

# (part name, landmark A, landmark B, radius as a fraction of torso length). A landmark is a
# BlazePose index or a tuple of indices (their mean).
SEGMENTS = (
    ("head", (7, 8), 0, 0.28),
    ("torso", (11, 12), (23, 24), 0.30),
    ("l_upper_arm", 11, 13, 0.10), ("r_upper_arm", 12, 14, 0.10),
    ("l_lower_arm", 13, 15, 0.08), ("r_lower_arm", 14, 16, 0.08),
    ("l_hand", 15, BLAZEPOSE_HAND["l"], 0.07), ("r_hand", 16, BLAZEPOSE_HAND["r"], 0.07),
    ("l_upper_leg", 23, 25, 0.16), ("r_upper_leg", 24, 26, 0.16),
    ("l_lower_leg", 25, 27, 0.11), ("r_lower_leg", 26, 28, 0.11),
    ("l_foot", 29, 31, 0.07), ("r_foot", 30, 32, 0.07),
)  # fmt: skip
#: hand tip = wrist + HAND_FRACTION * (wrist - elbow) when the pose has no finger landmarks
HAND_FRACTION = 0.3


def _point(lm: np.ndarray, ref) -> np.ndarray:
    idx = ref if isinstance(ref, tuple) else (ref,)
    return lm[list(idx), :2].mean(axis=0)


def _endpoints(lm: np.ndarray, refs) -> np.ndarray:
    """``(K, 2)`` float32 segment end points: each ref's landmark, or the mean of a pair,
    computed in the landmarks' own precision as :func:`_point` (its mean), then float32."""
    xy = np.asarray(lm)[:, :2]
    if not np.issubdtype(xy.dtype, np.floating):
        xy = xy.astype(np.float64)
    one = np.array([r if not isinstance(r, tuple) else r[0] for r in refs])
    two = np.array([r[1] if isinstance(r, tuple) else -1 for r in refs])
    out = xy[one]
    pair = two >= 0
    out[pair] = (xy[one[pair]] + xy[two[pair]]) / xy.dtype.type(2)
    return out.astype(np.float32)


_SEG_A = tuple(s[1] for s in SEGMENTS)
_SEG_B = tuple(s[2] for s in SEGMENTS)
_SEG_R = np.array([s[3] for s in SEGMENTS], np.float32)


def assign_parts(mask: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Label each mask pixel with its nearest body segment.

    Args:
        mask: ``(H, W)`` bool person mask.
        lm: ``(33, >=2)`` BlazePose-indexed landmarks in px (x, y); NaN for a missing joint
            (segments that need it are left out).

    Returns:
        ``(H, W)`` uint8 coarse part labels (0 background, 1..14 see :data:`gaitprep.healthgait.palette.PARTS`).
    """
    out = np.zeros(mask.shape, np.uint8)
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return out
    cols = np.flatnonzero(mask.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    box = mask[y0 : int(rows[-1]) + 1, x0 : int(cols[-1]) + 1]  # the person's bounding box
    ys, xs = np.nonzero(box)  # row-major, as over the whole mask
    px, py = (xs + x0).astype(np.float32), (ys + y0).astype(np.float32)  # (P,) pixel centres, px
    torso = float(np.linalg.norm(_point(lm, (11, 12)) - _point(lm, (23, 24))))
    torso = torso or 1.0
    a = _endpoints(lm, _SEG_A)  # (K, 2)
    b = _endpoints(lm, _SEG_B)
    r = _SEG_R * torso
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if not np.isfinite(torso):
        ok[:] = False
    if not ok.any():
        return out
    keep = np.nonzero(ok)[0]
    a, b, r = a[keep], b[keep], r[keep]
    ab = b - a
    denom = np.maximum((ab**2).sum(1), 1e-6)
    n = len(px)
    best = np.full(n, np.inf, np.float32)
    arg = np.zeros(n, np.intp)
    dx, dy, t, u = (np.empty(n, np.float32) for _ in range(4))
    better = np.empty(n, bool)
    for k in range(len(keep)):  # K <= 14 vectorised passes over the person's pixels, in place
        np.subtract(px, a[k, 0], out=dx)
        np.subtract(py, a[k, 1], out=dy)
        np.multiply(dx, ab[k, 0], out=t)  # t = clip((dx ab_x + dy ab_y) / |ab|^2, 0, 1)
        np.multiply(dy, ab[k, 1], out=u)
        t += u
        t /= denom[k]
        np.clip(t, 0.0, 1.0, out=t)
        np.multiply(t, ab[k, 0], out=u)
        dx -= u
        np.multiply(t, ab[k, 1], out=u)
        dy -= u
        dx *= dx  # cost = sqrt(dx^2 + dy^2) - r_k
        dy *= dy
        dx += dy
        np.sqrt(dx, out=dx)
        dx -= r[k]
        np.less(dx, best, out=better)  # ties: the first segment, as argmin
        np.copyto(best, dx, where=better)
        np.copyto(arg, k, where=better)
    labels = np.array([PART_LABEL[SEGMENTS[k][0]] for k in keep], np.uint8)
    out[ys + y0, xs + x0] = labels[arg]
    return out


def joints_to_landmarks(joints: dict) -> np.ndarray:
    """Spec-named joints of one pose-JSON frame ``{name: {x, y, score}}`` -> ``(33, 2)``
    float32 BlazePose-indexed landmarks in px, NaN where the pose has no such joint; the
    hand tips (17..20) extrapolated from elbow and wrist (:data:`HAND_FRACTION`)."""
    lm = np.full((33, 2), np.nan, np.float32)
    for name, i in BLAZEPOSE_INDEX.items():
        j = joints.get(name)
        if j is not None:
            lm[i] = (j["x"], j["y"])
    for side, elbow, wrist in (("l", 13, 15), ("r", 14, 16)):
        tip = lm[wrist] + HAND_FRACTION * (lm[wrist] - lm[elbow])
        for i in BLAZEPOSE_HAND[side]:
            lm[i] = tip
    return lm


def read_silhouette(path: Path) -> np.ndarray:
    """A silhouette image (binary 0/255 JPEG or PNG) -> ``(H, W)`` bool, ``> 127``.

    Raises:
        GaitprepError: the image cannot be read (names the file).
    """
    import cv2

    from ..errors import GaitprepError

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise GaitprepError(f"{path}: cannot read the silhouette image")
    return img > 127


@dataclass
class PosePartsParams:
    """``pose-parts`` has no parameters: it follows the pose and silhouette settings."""


class PosePartsBackend(SegmentationBackend):
    """Segmentation backend ``pose-parts`` (see the module docstring). It reads the tree,
    not the video: :meth:`run_tree` instead of :meth:`run`."""

    name = "pose-parts"
    Params = PosePartsParams
    #: the modalities of the same clip this backend reads (the rule's inputs)
    reads = ("pose", "silhouette")

    def run(self, frames) -> Iterator[PartsResult]:
        raise NotImplementedError("pose-parts reads the pose JSON and the silhouettes: use run_tree")

    def run_tree(self, pose_records: list[dict], silhouette_dir: Path, size: Optional[tuple[int, int]] = None) -> Iterator[PartsResult]:
        """One result per pose frame (source order): parts where the frame has a pose and a
        silhouette image ``<silhouette_dir>/NNN.jpg``, else None.

        Args:
            pose_records: the pose JSON's elements ``{"frame", "joints"}``.
            silhouette_dir: the clip's silhouette folder.
            size: ``(width, height)`` px the images must have, when known.

        Raises:
            GaitprepError: a silhouette image unreadable or of another size (names the file).
        """
        from ..errors import GaitprepError

        images = {int(p.stem): p for p in Path(silhouette_dir).iterdir() if p.suffix in (".jpg", ".png") and p.stem.isdigit()}
        for rec in pose_records:
            i = int(rec["frame"])
            if rec.get("joints") is None or i not in images:
                yield PartsResult(i, None)
                continue
            mask = read_silhouette(images[i])
            if size is not None and (mask.shape[1], mask.shape[0]) != tuple(size):
                raise GaitprepError(f"{images[i]}: silhouette is {mask.shape[1]}x{mask.shape[0]}, the video {size[0]}x{size[1]}")
            parts = assign_parts(mask, joints_to_landmarks(rec["joints"])) if mask.any() else None
            yield PartsResult(i, parts if parts is not None and parts.any() else None)

    def provenance(self) -> dict:
        return {
            **super().provenance(),
            "model": "nearest-segment parts from the clip's pose JSON and silhouettes (no model)",
            "note": "approximation of DensePose coarse parts, not DensePose",
        }
