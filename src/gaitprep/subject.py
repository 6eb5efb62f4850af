"""Main-subject selection: stay on the same person across frames when others are visible.

A small IoU-continuity tracker (in the spirit of SORT without the Kalman filter, Bewley et
al. 2016): the subject starts as the largest confident detection; in every later frame it
is the detection whose box overlaps most (IoU) with the subject's last box, provided the
IoU is at least ``min_iou``; a backend may pass tracker ids (e.g. ultralytics' ByteTrack
or AlphaPose's pose flow), which take precedence. After ``max_lost`` frames without a
match the subject is re-acquired as the largest detection.

Every tracker also counts the frames in which it sees another confident person besides the
subject (:class:`CrowdStats`); the counts of all trackers of a process are summed in a
module-level tally that :func:`gaitprep.runner.run_modality` resets before and reads after
each job, so that its provenance record says when a second person was in view (a
bystander can steal joints, masks and parts from the walker). Backends that see one
person only (BlazePose) do not use the tracker and cannot report this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a`` (4,) and ``b`` (N, 4), both ``x_min, y_min, x_max, y_max`` px -> (N,)."""
    b = np.asarray(b, float).reshape(-1, 4)
    a = np.asarray(a, float).reshape(4)
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


#: detections overlapping the subject by more than this IoU are the same person (duplicates)
SAME_PERSON_IOU = 0.5


@dataclass
class CrowdStats:
    """How often more than one person was in view.

    Attributes:
        frames: frames with at least one confident detection.
        frames_with_others: of those, frames with another confident person besides the
            subject (IoU with the subject's box <= :data:`SAME_PERSON_IOU`).
        max_persons: most confident persons in one frame.
    """

    frames: int = 0
    frames_with_others: int = 0
    max_persons: int = 0

    def add(self, n_persons: int) -> None:
        self.frames += 1
        self.frames_with_others += n_persons > 1
        self.max_persons = max(self.max_persons, n_persons)

    def to_dict(self) -> dict:
        return asdict(self)


_TALLY = CrowdStats()


def reset_crowd_stats() -> None:
    """Zero the process-wide tally of :class:`CrowdStats` (start of a job)."""
    global _TALLY
    _TALLY = CrowdStats()


def crowd_stats() -> Optional[dict]:
    """The process-wide tally since the last reset, or None when no tracker saw a frame."""
    return _TALLY.to_dict() if _TALLY.frames else None


class MainSubjectTracker:
    """Pick the main subject's detection in each frame.

    Args:
        min_iou: least IoU with the last subject box to count as the same person.
        max_lost: frames without a match before re-acquiring the largest detection.
        min_score: detections below this confidence are ignored.

    Call :meth:`select` once per frame, in frame order.
    """

    def __init__(self, min_iou: float = 0.2, max_lost: int = 15, min_score: float = 0.25):
        self.min_iou = min_iou
        self.max_lost = max_lost
        self.min_score = min_score
        self.last_box: Optional[np.ndarray] = None
        self.track_id: Optional[int] = None
        self.lost = 0
        self.crowd = CrowdStats()

    def select(
        self,
        boxes: np.ndarray,
        scores: Optional[np.ndarray] = None,
        track_ids: Optional[Sequence[Optional[int]]] = None,
    ) -> Optional[int]:
        """Return the index of the subject among this frame's detections, or ``None``.

        Args:
            boxes: ``(N, 4)`` ``x_min, y_min, x_max, y_max`` px.
            scores: ``(N,)`` confidences (default all 1).
            track_ids: optional per-detection tracker ids.

        Frames with a subject are counted in :attr:`crowd` (and the process-wide tally),
        with the number of other confident persons in them.
        """
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        n = len(boxes)
        scores = np.ones(n) if scores is None else np.asarray(scores, float).reshape(-1)
        ok = scores >= self.min_score
        if not ok.any():
            self._miss()
            return None
        choice = None
        if self.track_id is not None and track_ids is not None:
            for i, t in enumerate(track_ids):
                if ok[i] and t is not None and int(t) == self.track_id:
                    choice = i
                    break
        if choice is None and self.last_box is not None and self.lost <= self.max_lost:
            iou = np.where(ok, box_iou(self.last_box, boxes), -1.0)
            if iou.max() >= self.min_iou:
                choice = int(iou.argmax())
        if choice is None and (self.last_box is None or self.lost > self.max_lost):
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            choice = int(np.where(ok, area * scores, -1.0).argmax())
        if choice is None:
            self._miss()
            return None
        others = ok & (box_iou(boxes[choice], boxes) <= SAME_PERSON_IOU)
        others[choice] = False
        persons = 1 + int(others.sum())
        self.crowd.add(persons)
        _TALLY.add(persons)
        self.last_box = boxes[choice]
        self.lost = 0
        if track_ids is not None and track_ids[choice] is not None:
            self.track_id = int(track_ids[choice])
        return choice

    def _miss(self) -> None:
        self.lost += 1
