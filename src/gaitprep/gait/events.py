"""Gait events (heel strike HS, toe-off TO) from 2D keypoint trajectories.

Zeni's coordinate-based method (Zeni, Richards & Higginson, "Two simple methods for
determining gait events during treadmill and overground walking using kinematic data",
Gait & Posture 27:710-714, 2008): along the direction of progression, heel strike is a
maximum of the heel's position relative to the sacrum (here the mid-hip "pelvis") and
toe-off a minimum of the toe's position relative to it. Where the pose has no heel/toe
keypoints (COCO-17) the ankle stands in for both.

Event times are sub-frame: the extremum of the filtered signal is refined by fitting a
parabola through the sample and its two neighbours.

Events are plain dicts ``{"foot": "left"|"right", "event": "HS"|"TO", "frame": float,
"time": float (s, frame / fps), "pass": int, "edited": bool}``; ``frame`` is the source
frame index (fractional when refined).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.signal import find_peaks

from .preprocess import FOOT_NAME, SIDES, Pass, Prepared

#: no two events of one kind and foot closer than this (s): a stride lasts >= ~0.7 s
MIN_EVENT_SPACING_S = 0.45
#: an extremum must stand out by this fraction of the signal's 5-95 % range
MIN_PROMINENCE_FRAC = 0.2


def parabolic_offset(y: np.ndarray, i: int) -> float:
    """Sub-sample offset in [-0.5, 0.5] of the extremum of ``y`` near sample ``i``.

    Vertex of the parabola through ``y[i-1], y[i], y[i+1]``; 0 at the edges or when flat.
    """
    if i <= 0 or i >= len(y) - 1:
        return 0.0
    a, b, c = y[i - 1], y[i], y[i + 1]
    den = a - 2 * b + c
    if not np.isfinite(den) or den == 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


def signal_peaks(y: np.ndarray, fps: float, spacing_s: float = MIN_EVENT_SPACING_S) -> list[float]:
    """Maxima of a 1-D signal as fractional sample positions (finite samples only).

    Peaks closer than ``spacing_s`` are thinned (the higher wins) and a peak must have a
    prominence of at least :data:`MIN_PROMINENCE_FRAC` of the 5-95 % range of ``y``.
    """
    y = np.asarray(y, float)
    fin = np.isfinite(y)
    if fin.sum() < 5:
        return []
    lo, hi = np.nanpercentile(y, [5, 95])
    prom = max(MIN_PROMINENCE_FRAC * (hi - lo), 1e-9)
    yy = np.where(fin, y, np.nanmin(y))
    idx, _ = find_peaks(yy, distance=max(1, int(spacing_s * fps)), prominence=prom)
    out = []
    for i in idx:
        if i == 0 or i == len(y) - 1 or not (fin[i - 1] and fin[i + 1]):
            continue  # an extremum at the edge of the data may be cut off
        out.append(i + parabolic_offset(yy, i))
    return out


def _interp(arr: np.ndarray, pos: float) -> float:
    i = int(np.floor(pos))
    f = pos - i
    if i + 1 >= len(arr) or f == 0:
        return float(arr[min(i, len(arr) - 1)])
    return float((1 - f) * arr[i] + f * arr[i + 1])


def zeni_signals(prep: Prepared, p: Pass) -> dict:
    """Foot-minus-pelvis horizontal position along the walking direction (px), per side.

    Returns ``{side: {"hs": (n,), "to": (n,)}}`` over the pass's frames; positive means
    the foot is ahead of the pelvis.
    """
    sl = slice(p.start, p.stop)
    px = prep.pelvis[sl, 0]
    return {
        side: {
            k: p.direction * (prep.foot_points[side][k][sl, 0] - px)
            for k in ("hs", "to")
        }
        for side in SIDES
    }


def _clean_alternation(evs: list[dict]) -> list[dict]:
    """Per foot, keep HS and TO alternating: of two same-kind events in a row keep the later-consistent one.

    Two HS without a TO between them (or two TO) mean one is spurious; the one that is
    farther from the expected spacing is dropped — here simply the first of the pair,
    since a false extremum from a shallow plateau precedes the real one more often
    than not. Rarely triggered on clean data.
    """
    out = []
    for foot in ("left", "right"):
        fe = sorted([e for e in evs if e["foot"] == foot], key=lambda e: e["frame"])
        kept: list[dict] = []
        for e in fe:
            if kept and kept[-1]["event"] == e["event"]:
                kept[-1] = e
            else:
                kept.append(e)
        out += kept
    return sorted(out, key=lambda e: e["frame"])


#: ground-speed threshold of the refinement, as a fraction of the walking speed
REFINE_ALPHA = 0.5
#: the refined event is searched within this time of Zeni's extremum (s)
REFINE_WINDOW_S = 0.15


def walking_speed_px(sig: dict, fps: float) -> float:
    """Walking speed (px/frame) of a pass from the foot-minus-pelvis signals alone.

    While a foot is on the ground its position relative to the pelvis moves back at the
    walking speed; at every instant at least one foot is on the ground, so the speed is
    minus the median over frames of the slower of the two feet's relative velocities.
    Independent of camera panning (the signals are relative to the pelvis).
    """
    vl = np.gradient(sig["l"]["hs"])
    vr = np.gradient(sig["r"]["hs"])
    m = np.fmin(vl, vr)
    m = m[np.isfinite(m)]
    return float(-np.median(m)) if len(m) else float("nan")


def refine_event(y: np.ndarray, pos: float, v: float, kind: str, fps: float, alpha: float = REFINE_ALPHA) -> float:
    """Move a Zeni event to the instant the foot point's ground speed crosses ``alpha * v``.

    ``y`` is the foot-minus-pelvis signal (px, forward positive), ``v`` the walking speed
    (px/frame). The point's ground speed is ``dy/dt + v``. Zeni's extremum is where it
    equals ``v`` (``dy/dt = 0``): the heel still moving forward before it lands, the toe
    already moving after it lifts. HS is refined forward to the first crossing below
    ``alpha * v`` after the extremum; TO backward to the last frame before the extremum
    below it. Returns ``pos`` unchanged when no crossing is found within
    :data:`REFINE_WINDOW_S`. Sub-frame by linear interpolation of the crossing.
    """
    if not (np.isfinite(v) and v > 0):
        return pos
    u = np.gradient(y) + v
    thr = alpha * v
    w = max(1, int(round(REFINE_WINDOW_S * fps)))
    i0 = int(round(pos))
    n = len(y)
    if kind == "HS":
        for i in range(max(i0, 0), min(i0 + w, n - 1)):
            if np.isfinite(u[i]) and np.isfinite(u[i + 1]) and u[i] > thr >= u[i + 1]:
                return max(pos, i + (u[i] - thr) / (u[i] - u[i + 1]))
    else:
        for i in range(min(i0, n - 1), max(i0 - w, 0), -1):
            if np.isfinite(u[i]) and np.isfinite(u[i - 1]) and u[i] > thr >= u[i - 1]:
                return min(pos, i - 1 + (thr - u[i - 1]) / (u[i] - u[i - 1]))
    return pos


def zeni_events(prep: Prepared, refine: bool = True, alpha: float = REFINE_ALPHA) -> list[dict]:
    """HS/TO events of every pass by Zeni's method (see the module docstring).

    With ``refine`` (default) each event is then moved to the instant the heel (HS) or
    toe (TO) ground speed crosses ``alpha`` x the walking speed (:func:`refine_event`),
    which removes the method's known bias (HS detected early, TO late, by a frame or so
    at 30 fps). ``refine=False`` gives Zeni et al. (2008) unchanged.
    """
    events = []
    for p in prep.passes:
        sig = zeni_signals(prep, p)
        v = walking_speed_px(sig, prep.fps) if refine else float("nan")
        pev = []
        for side in SIDES:
            for kind, y, yy in (("HS", sig[side]["hs"], sig[side]["hs"]), ("TO", -sig[side]["to"], sig[side]["to"])):
                for pos in signal_peaks(y, prep.fps):
                    if refine:
                        pos = refine_event(yy, pos, v, kind, prep.fps, alpha)
                    frame = float(prep.series.frames[p.start] + pos)
                    pev.append({"foot": FOOT_NAME[side], "event": kind, "frame": frame, "time": frame / prep.fps, "pass": p.index, "edited": False})
        events += _clean_alternation(pev)
    return sorted(events, key=lambda e: e["frame"])


def ankle_distance_peaks(prep: Prepared, to_floor) -> list[dict]:
    """Step events of the published Health&Gait method: maxima of the ankle-to-ankle distance.

    Per pass, the distance between the two ankles on the floor plane (``to_floor`` maps
    ``(N, 2)`` px to ``(N, 2)`` cm; Euclidean) is low-passed and its maxima are steps.
    The foot in front at a maximum is taken as the foot that strikes (the Health&Gait
    code only counts peaks). Returns events ``event == "HS"`` with extra keys
    ``"distance_cm"`` (the peak distance) and ``"rear_foot"``.
    """
    events = []
    for p in prep.passes:
        sl = slice(p.start, p.stop)
        la, ra = prep.foot_points["l"]["ankle"][sl], prep.foot_points["r"]["ankle"][sl]
        fl, fr = to_floor(la), to_floor(ra)
        dist = np.linalg.norm(fl - fr, axis=1)
        for pos in signal_peaks(dist, prep.fps, spacing_s=0.25):
            frame = float(prep.series.frames[p.start] + pos)
            lx = p.direction * _interp(la[:, 0], pos)
            rx = p.direction * _interp(ra[:, 0], pos)
            front = "left" if lx > rx else "right"
            events.append(
                {
                    "foot": front, "event": "HS", "frame": frame, "time": frame / prep.fps, "pass": p.index,
                    "edited": False, "distance_cm": _interp(dist, pos), "rear_foot": "right" if front == "left" else "left",
                }
            )  # fmt: skip
    return sorted(events, key=lambda e: e["frame"])


def position_at(prep: Prepared, side: str, kind: str, frame: float) -> np.ndarray:
    """Interpolated px position ``(2,)`` of a foot point (``kind`` "hs", "to", "ankle") at a fractional source frame."""
    pos = frame - prep.series.frames[0]
    arr = prep.foot_points[side][kind]
    return np.array([_interp(arr[:, 0], pos), _interp(arr[:, 1], pos)])


def side_of(foot: str) -> str:
    """``"left" -> "l"``, ``"right" -> "r"``."""
    return "l" if foot == "left" else "r"


def pass_of_frame(prep: Prepared, frame: float) -> Optional[int]:
    """Index of the pass containing a source frame, or None."""
    pos = frame - prep.series.frames[0]
    for p in prep.passes:
        if p.start <= pos < p.stop:
            return p.index
    return None
