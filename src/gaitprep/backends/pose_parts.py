"""Segmentation backend ``pose-parts``: an approximation of DensePose's coarse body parts.

Not DensePose. Each pixel of BlazePose's person mask is given to the nearest body segment
of BlazePose's skeleton (head, torso, upper/lower arms, hands, upper/lower legs, feet; left
and right), with a per-segment thickness so that the wide torso wins over a thin arm at
equal distance to their bones: part(p) = argmin_k ( d(p, bone_k) - r_k ), where r_k is a
fraction of the torso length (mid-shoulder to mid-hip). Depth order of overlapping limbs
(near vs far leg in side view) is not modelled. Colours are the spec's palette
(:mod:`gaitprep.healthgait.palette`), so the feet are (255,255,0) and (128,0,0) as the published gait
code expects.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ..healthgait.palette import PART_LABEL
from ..results import Frame, PartsResult
from .base import SegmentationBackend
from .blazepose import BLAZEPOSE_HAND, BlazePoseModel, BlazePoseParams

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


def _point(lm: np.ndarray, ref) -> np.ndarray:
    idx = ref if isinstance(ref, tuple) else (ref,)
    return lm[list(idx), :2].mean(axis=0)


def assign_parts(mask: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Label each mask pixel with its nearest body segment.

    Args:
        mask: ``(H, W)`` bool person mask.
        lm: ``(33, >=2)`` BlazePose landmarks in px (x, y).

    Returns:
        ``(H, W)`` uint8 coarse part labels (0 background, 1..14 see :data:`gaitprep.healthgait.palette.PARTS`).
    """
    out = np.zeros(mask.shape, np.uint8)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return out
    p = np.stack([xs, ys], 1).astype(np.float32)  # (P, 2)
    torso = float(np.linalg.norm(_point(lm, (11, 12)) - _point(lm, (23, 24)))) or 1.0
    a = np.stack([_point(lm, s[1]) for s in SEGMENTS]).astype(np.float32)  # (K, 2)
    b = np.stack([_point(lm, s[2]) for s in SEGMENTS]).astype(np.float32)
    r = np.array([s[3] for s in SEGMENTS], np.float32) * torso
    ab = b - a
    denom = np.maximum((ab**2).sum(1), 1e-6)
    cost = np.empty((len(SEGMENTS), len(p)), np.float32)
    for k in range(len(SEGMENTS)):  # K = 14 vectorised passes over all pixels
        t = np.clip(((p - a[k]) @ ab[k]) / denom[k], 0.0, 1.0)
        d = np.linalg.norm(p - (a[k] + t[:, None] * ab[k]), axis=1)
        cost[k] = d - r[k]
    labels = np.array([PART_LABEL[s[0]] for s in SEGMENTS], np.uint8)
    out[ys, xs] = labels[cost.argmin(0)]
    return out


class PosePartsBackend(SegmentationBackend):
    """Segmentation backend ``pose-parts`` (see the module docstring)."""

    name = "pose-parts"
    Params = BlazePoseParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        self.model = BlazePoseModel(self.params, segmentation=True)

    def run(self, frames: Iterable[Frame]) -> Iterator[PartsResult]:
        for f, lm, mask in self.model.process(frames):
            if lm is None or mask is None or not mask.any():
                yield PartsResult(f.index, None)
            else:
                yield PartsResult(f.index, assign_parts(mask, lm))

    def provenance(self) -> dict:
        import mediapipe as mp

        return {
            **super().provenance(),
            "model": f"mediapipe {mp.__version__} BlazePose landmarks + segmentation, nearest-segment parts",
            "note": "approximation of DensePose coarse parts, not DensePose",
        }

    def close(self) -> None:
        self.model.close()
