"""One small result type per kind of backend output, each carrying its source frame index.

Coordinates are full-frame pixels of the source video: x to the right, y down, origin at
the top-left pixel corner. Images are ``H x W`` of the source frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

#: COCO-17 keypoint names in AlphaPose/COCO order, snake case as the spec writes them.
COCO17 = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
#: Halpe-26 = COCO-17 + these, in AlphaPose's Halpe order (indices 17..25).
HALPE_EXTRA = ("head", "neck", "hip", "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel")
HALPE26 = COCO17 + HALPE_EXTRA


@dataclass(frozen=True)
class Frame:
    """A decoded video frame.

    Attributes:
        index: 0-based frame index in the source video (not in the trimmed range).
        image: ``(H, W, 3)`` uint8, BGR channel order (OpenCV's).
        t: presentation timestamp in s from the start of the video stream (the
            container's, see :class:`gaitprep.video.VideoReader`); None when unknown.
    """

    index: int
    image: np.ndarray
    t: Optional[float] = None


@dataclass(frozen=True)
class Joint:
    """One keypoint: ``x``, ``y`` in full-frame px, ``score`` in [0, 1]."""

    x: float
    y: float
    score: float

    @classmethod
    def in_frame(cls, x: float, y: float, score: float, width: int, height: int) -> "Joint":
        """A keypoint a model placed at ``(x, y)`` px, kept inside the ``width`` x ``height``
        frame: outside ``[0, width-1] x [0, height-1]`` it is clipped to the border and its
        score set to 0 (the pose JSON holds only in-frame joints; a score-0 joint is not
        used by the gait code). ``score`` is clipped to [0, 1]."""
        inside = 0 <= x <= width - 1 and 0 <= y <= height - 1
        s = float(min(max(score, 0.0), 1.0)) if inside else 0.0
        return cls(float(np.clip(x, 0, width - 1)), float(np.clip(y, 0, height - 1)), s)


@dataclass
class PoseResult:
    """Keypoints of the main subject in one frame; ``joints is None`` when nobody was found.

    ``joints`` maps spec names (:data:`COCO17`, :data:`HALPE_EXTRA`) to :class:`Joint`.
    """

    index: int
    joints: Optional[dict[str, Joint]]
    box: Optional[tuple[float, float, float, float]] = None  # x_min, y_min, x_max, y_max px

    def to_record(self) -> dict:
        """The spec's per-frame JSON element ``{"frame": int, "joints": {...} | null}``."""
        if self.joints is None:
            return {"frame": int(self.index), "joints": None}
        return {
            "frame": int(self.index),
            "joints": {
                k: {"x": round(float(j.x), 2), "y": round(float(j.y), 2), "score": round(float(j.score), 4)}
                for k, j in self.joints.items()
            },
        }


@dataclass
class MaskResult:
    """Binary person mask of the main subject: ``(H, W)`` bool, or ``None`` (no person)."""

    index: int
    mask: Optional[np.ndarray]


@dataclass
class PartsResult:
    """Coarse body-part labels of the main subject: ``(H, W)`` uint8 in 0..14 (0 background,
    see :data:`gaitprep.healthgait.palette.PARTS`), or ``None`` when no person was found."""

    index: int
    parts: Optional[np.ndarray]


@dataclass
class FlowResult:
    """Optical flow from frame ``index`` to ``index + 1``: ``(H, W, 2)`` float32, (dx, dy) in px."""

    index: int
    flow: np.ndarray
    extra: dict = field(default_factory=dict)
