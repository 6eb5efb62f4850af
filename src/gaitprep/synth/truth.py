"""Ground truth of a synthetic walking clip: per-frame keypoints and the truth JSON.

Truth JSON (written by :func:`gaitprep.synth.render_walker` next to the video as
``<video>.truth.json``; all times in s, lengths in cm, frames 0-based at ``time * fps``)::

    {"fps": float, "width": int, "height": int, "n_frames": int, "px_per_cm": float,
     "direction": "left_to_right" | "right_to_left", "height_cm": float,
     "events": [{"foot": "left"|"right", "event": "HS"|"TO", "frame": float, "time": float}, ...],
     "fully_visible_frames": [int, ...],
     "step_length_cm": float, "stride_length_cm": float, "step_time_s": float,
     "stride_time_s": float, "cadence_steps_per_min": float, "speed_m_per_s": float,
     "stance_s": float, "swing_s": float, "double_support_s": float, "single_support_s": float,
     "params": {WalkerParams fields}}

``events`` are sorted by time and hold only events at which that foot (heel and big toe)
is inside the frame; ``frame`` is exact and generally fractional (frame ``i`` shows time
``i / fps``). ``double_support_s`` is ONE double-support period (HS of one foot to TO of
the other foot; there are two per gait cycle); ``single_support_s`` is TO of the
contralateral foot to its next HS (= contralateral swing). So ``stance = 2 * double_support
+ single_support`` and ``stride_time = stance + swing``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..results import HALPE26, Joint, PoseResult
from .model import Walker, WalkerParams


def _inside(xy: np.ndarray, w: int, h: int) -> bool:
    return bool(0 <= xy[0] < w and 0 <= xy[1] < h)


def frame_keypoints(walker: Walker, index: int, include_outside: bool = False) -> dict:
    """Exact keypoints of frame ``index`` (time ``index / fps``).

    Returns ``{"frame": int, "time": s, "joints": {name: {"x": px, "y": px, "score": 1.0}}
    | None}`` in full-frame px (x right, y down), names from
    :data:`gaitprep.results.HALPE26`; joints outside the frame are left out unless
    ``include_outside``; ``joints`` is ``None`` when none is inside.
    """
    p = walker.p
    t = index / p.fps
    b = walker.image_body(t)
    joints = {}
    for name in HALPE26:
        xy = b[name]
        if include_outside or _inside(xy, p.width, p.height):
            joints[name] = {"x": float(xy[0]), "y": float(xy[1]), "score": 1.0}
    return {"frame": int(index), "time": float(t), "joints": joints or None}


def walker_keypoints(params: WalkerParams, include_outside: bool = False) -> list[dict]:
    """Exact 2D keypoints of every frame of the clip defined by ``params`` (no rendering).

    Returns one dict per frame (see :func:`frame_keypoints`), the same layout as the
    spec's pose JSON records (``PoseResult.to_record``) plus ``"time"``. All 26 Halpe
    names are given (COCO-17 + head, neck, hip, big/small toes, heels); far-side joints are
    given even when the near side of the body hides them.
    """
    w = Walker(params)
    return [frame_keypoints(w, i, include_outside) for i in range(w.n_frames)]


def walker_pose_results(params: WalkerParams) -> list[PoseResult]:
    """:func:`walker_keypoints` as :class:`gaitprep.results.PoseResult` objects (score 1)."""
    out = []
    for rec in walker_keypoints(params):
        j = rec["joints"]
        joints = None if j is None else {k: Joint(v["x"], v["y"], 1.0) for k, v in j.items()}
        out.append(PoseResult(rec["frame"], joints))
    return out


def body_box(walker: Walker, t: float) -> tuple[float, float, float, float]:
    """Image-px box ``(x_min, y_min, x_max, y_max)`` enclosing the drawn figure at time t."""
    b = walker.image_body(t)
    pts = np.array([v for v in b.values() if isinstance(v, np.ndarray)])
    r = 0.035 * walker.H * walker.p.px_per_cm  # limb half-width / shoe margin
    hr = 0.075 * walker.H * walker.p.px_per_cm  # head radius
    hc = b["head_center"]
    x0 = min(pts[:, 0].min() - r, hc[0] - hr)
    x1 = max(pts[:, 0].max() + r, hc[0] + hr)
    y0 = min(pts[:, 1].min() - r, hc[1] - hr)
    y1 = max(pts[:, 1].max() + r, hc[1] + hr)
    return float(x0), float(y0), float(x1), float(y1)


def fully_visible_frames(walker: Walker) -> list[int]:
    """Frames in which the whole figure (:func:`body_box`) lies inside the image."""
    p = walker.p
    out = []
    for i in range(walker.n_frames):
        x0, y0, x1, y1 = body_box(walker, i / p.fps)
        if x0 >= 0 and y0 >= 0 and x1 <= p.width - 1 and y1 <= p.height - 1:
            out.append(i)
    return out


def events_in_view(params: WalkerParams, walker: Optional[Walker] = None) -> list[dict]:
    """Every contact of the walker whose own point is inside the frame: the heel for a heel
    strike, the big toe for a toe-off (``{"foot", "event", "frame", "time"}``, sorted by
    time). The truth JSON's ``events`` require heel *and* toe inside, which leaves out the
    last heel strike of a walker whose toe is already past the border while its heel lands
    in view; scoring a detector on what a pose model can see uses these instead."""
    w = walker or Walker(params)
    p = w.p
    out = []
    for e in w.events():
        point = f"{e['foot'][0]}_{'heel' if e['event'] == 'HS' else 'big_toe'}"
        if _inside(w.image_body(e["time"])[point], p.width, p.height):
            out.append({"foot": e["foot"], "event": e["event"], "frame": e["frame"], "time": e["time"]})
    return out


def walker_truth(params: WalkerParams, walker: Optional[Walker] = None) -> dict:
    """The truth dict (format in this module's docstring) for the clip of ``params``."""
    w = walker or Walker(params)
    p = w.p
    events = []
    for e in w.events():
        b = w.image_body(e["time"])
        s = "l" if e["foot"] == "left" else "r"
        if _inside(b[f"{s}_heel"], p.width, p.height) and _inside(b[f"{s}_big_toe"], p.width, p.height):
            events.append({"foot": e["foot"], "event": e["event"], "frame": e["frame"], "time": e["time"]})
    return {
        "fps": float(p.fps),
        "width": int(p.width),
        "height": int(p.height),
        "n_frames": int(w.n_frames),
        "px_per_cm": float(p.px_per_cm),
        "direction": p.direction,
        "height_cm": float(p.height_cm),
        "events": events,
        "fully_visible_frames": fully_visible_frames(w),
        "step_length_cm": float(p.step_length_cm),
        "stride_length_cm": float(2 * p.step_length_cm),
        "step_time_s": float(w.step_time),
        "stride_time_s": float(w.stride_time),
        "cadence_steps_per_min": float(p.cadence),
        "speed_m_per_s": float(w.speed / 100.0),
        "stance_s": float(w.stance),
        "swing_s": float(w.swing),
        "double_support_s": float(w.double_support),
        "single_support_s": float(w.single_support),
        "params": p.to_dict() | {"phase0": w.phase0},
    }
