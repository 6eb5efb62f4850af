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
"time": float (s, frame / fps), "pass": int, "edited": bool, "extremum_frame": float}``;
``frame`` is the source frame index (fractional; refined, see :func:`zeni_events`) and
``extremum_frame`` the unrefined Zeni extremum (absent on manually added events).
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
    """Per foot, keep HS and TO alternating.

    Two HS of one foot with no TO between them (or two TO) mean one is spurious, usually
    a pose glitch. The one kept is the more extreme: for HS the heel farther ahead of the
    pelvis, for TO the toe farther behind (the ``_value`` each event carries), which is
    what Zeni's criterion selects over a whole cycle.
    """
    out = []
    for foot in ("left", "right"):
        fe = sorted([e for e in evs if e["foot"] == foot], key=lambda e: e["frame"])
        kept: list[dict] = []
        for e in fe:
            if kept and kept[-1]["event"] == e["event"]:
                if e.get("_value", 0.0) > kept[-1].get("_value", 0.0):
                    kept[-1] = e
            else:
                kept.append(e)
        out += kept
    for e in out:
        e.pop("_value", None)
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
                    value = _interp(y, pos)
                    extremum = float(prep.series.frames[p.start] + pos)
                    if refine:
                        pos = refine_event(yy, pos, v, kind, prep.fps, alpha)
                    frame = float(prep.series.frames[p.start] + pos)
                    pev.append({"foot": FOOT_NAME[side], "event": kind, "frame": frame, "time": frame / prep.fps,
                                "pass": p.index, "edited": False, "_value": value, "extremum_frame": extremum})  # fmt: skip
        pev = _consistent_extent(pev, sig)
        pev = _drop_close_pairs(pev, "HS")
        pev = _drop_close_pairs(pev, "TO")
        events += _clean_alternation(pev)
    return sorted(events, key=lambda e: e["frame"])


#: two events of one kind (either foot) closer than this fraction of the pass's median
#: interval between such events cannot both be real (see :func:`_drop_close_pairs`)
MIN_INTERVAL_FRAC = 0.4


def _violations(ev: list[dict]) -> int:
    return sum(1 for a, b in zip(ev, ev[1:]) if a["foot"] == b["foot"])


def _drop_close_pairs(pev: list[dict], kind: str) -> list[dict]:
    """Resolve implausibly close events of one kind (e.g. a left and a right HS 0.1 s apart).

    In walking, heel strikes alternate left/right about one step time apart (toe-offs
    likewise). For a pair closer than :data:`MIN_INTERVAL_FRAC` x the median interval,
    the event whose removal leaves the better left/right alternation is dropped; on a
    tie, the less extreme one (``_value``).
    """
    ev = sorted([e for e in pev if e["event"] == kind], key=lambda e: e["frame"])
    other = [e for e in pev if e["event"] != kind]
    changed = True
    while changed and len(ev) >= 3:
        changed = False
        gaps = np.diff([e["frame"] for e in ev])
        med = float(np.median(gaps))
        i = int(np.argmin(gaps))
        if gaps[i] < MIN_INTERVAL_FRAC * med:
            a, b = ev[i], ev[i + 1]
            wa = [e for e in ev if e is not a]
            wb = [e for e in ev if e is not b]
            va, vb = _violations(wa), _violations(wb)
            if va < vb or (va == vb and a.get("_value", 0) < b.get("_value", 0)):
                ev = wa
            else:
                ev = wb
            changed = True
    return other + ev


#: an event whose extremum falls short of the pass's typical one by more than this
#: fraction of the signal's range is dropped (see :func:`_consistent_extent`)
EXTENT_TOLERANCE = 0.4


def _consistent_extent(pev: list[dict], sig: dict) -> list[dict]:
    """Drop events whose extremum is far less extreme than the other events of that kind.

    Every heel strike of a steady pass puts the heel about the same distance ahead of the
    pelvis (and every toe-off the toe about the same distance behind). A local maximum
    that falls short of the median of the pass's HS maxima by more than
    :data:`EXTENT_TOLERANCE` x the 5-95 % range of the signal is not a heel strike but a
    glitch or a swing cut off at the edge of the view; likewise for TO.
    """
    out = []
    for kind, key in (("HS", "hs"), ("TO", "to")):
        ev = [e for e in pev if e["event"] == kind]
        if len(ev) < 3:
            out += ev
            continue
        vals = np.array([e["_value"] for e in ev])
        allv = np.concatenate([sig[s][key] for s in SIDES])
        allv = allv[np.isfinite(allv)]
        rng = np.percentile(allv, 95) - np.percentile(allv, 5) if len(allv) else 0.0
        thr = np.median(vals) - EXTENT_TOLERANCE * rng
        out += [e for e in ev if e["_value"] >= thr]
    return out


def ankle_distance_peaks(prep: Prepared, to_floor) -> list[dict]:
    """Step events of the published Health&Gait method: maxima of the ankle-to-ankle distance.

    Per pass, the distance between the two ankles on the floor plane (``to_floor`` maps
    ``(N, 2)`` px to ``(N, 2)`` cm; Euclidean) is smoothed as in the published code,
    which keeps only the frequencies up to the signal's dominant one (the step
    frequency): here a zero-phase 2nd-order Butterworth low-pass at 1.5 x the dominant
    frequency (a brick-wall FFT filter rings at the pass ends). Its maxima are steps;
    the step length is the distance at the maximum. The foot in front at a maximum is
    taken as the foot that strikes (the Health&Gait code only counts peaks). Returns
    events ``event == "HS"`` with extra keys ``"distance_cm"`` and ``"rear_foot"``.
    """
    events = []
    for p in prep.passes:
        sl = slice(p.start, p.stop)
        la, ra = prep.foot_points["l"]["ankle"][sl], prep.foot_points["r"]["ankle"][sl]
        fl, fr = to_floor(la), to_floor(ra)
        dist = np.linalg.norm(fl - fr, axis=1)
        smooth, f0 = _dominant_lowpass(dist, prep.fps)
        spacing = 0.5 / f0 if f0 else 0.25
        for pos in signal_peaks(smooth, prep.fps, spacing_s=spacing):
            pos = float(np.clip(pos, 0, len(dist) - 1))
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


def _dominant_lowpass(x: np.ndarray, fps: float) -> tuple[np.ndarray, Optional[float]]:
    """Low-pass ``x`` at 1.5 x its dominant frequency in 0.5-4 Hz; returns ``(y, f0)``."""
    from scipy.signal import butter, sosfiltfilt

    fin = np.isfinite(x)
    if fin.sum() < 16 or not fin.all():
        return x, None
    spec = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(len(x), 1.0 / fps)
    band = (freqs >= 0.5) & (freqs <= 4.0)
    if not band.any():
        return x, None
    f0 = float(freqs[band][np.argmax(spec[band])])
    cut = min(1.5 * f0, 0.45 * fps)
    sos = butter(2, cut, btype="low", fs=fps, output="sos")
    return sosfiltfilt(sos, x, padlen=min(len(x) - 1, 15)), f0


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
