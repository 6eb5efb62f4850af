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

from .preprocess import FOOT_NAME, SIDES, Pass, Prepared, uniform_timing
from .preprocess import foot_x as _point

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


def signal_peaks(
    y: np.ndarray, fps: float, spacing_s: float = MIN_EVENT_SPACING_S, open_start: bool = False
) -> list[float]:
    """Maxima of a 1-D signal as fractional sample positions (finite samples only).

    Peaks closer than ``spacing_s`` are thinned (the higher wins) and a peak must have a
    prominence of at least :data:`MIN_PROMINENCE_FRAC` of the 5-95 % range of ``y``
    (scipy's prominence: the smaller of the peak's rise from the lowest point on either
    side before a higher sample; missing samples count as the signal's minimum, so next
    to a gap only the seen side counts).

    ``open_start``: the start of the data counts as such a gap too, so a maximum a few
    samples after the data begin is judged by its fall after it alone. For a Zeni
    signal the side after the extremum is the one that shows the contact (HS: the stance
    that follows, the pelvis passing over the planted heel; TO: the swing that follows);
    the rise before it (the swing into HS, the stance before TO) is what a walker coming
    into view cuts short. The end of the data keeps the two-sided test: there the side
    that would show the contact is the one missing.
    """
    y = np.asarray(y, float)
    fin = np.isfinite(y)
    if fin.sum() < 5:
        return []
    lo, hi = np.nanpercentile(y, [5, 95])
    prom = max(MIN_PROMINENCE_FRAC * (hi - lo), 1e-9)
    yy = np.where(fin, y, np.nanmin(y))
    lead = [np.nanmin(y)] if open_start else []
    idx, _ = find_peaks(np.concatenate([lead, yy]), distance=max(1, int(spacing_s * fps)), prominence=prom)
    idx = idx - len(lead)
    out = []
    for i in idx:
        if i == 0 or i == len(y) - 1 or not (fin[i - 1] and fin[i + 1]):
            continue  # an extremum at the edge of the data may be cut off
        out.append(i + parabolic_offset(yy, i))
    return out


def _time(prep: Prepared, frame: float) -> float:
    """Time (s) of a fractional source frame from the clip's frame times (``prep.t``)."""
    f = prep.series.frames.astype(float)
    if prep.t is None or len(f) < 2:
        return float(frame / prep.fps)
    from .io import time_at

    return time_at(prep.series if prep.series.t is not None else _with_t(prep), frame)


def _with_t(prep: Prepared):
    s = prep.series.copy()
    s.t = prep.t
    return s


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
        x = _crossing(u, thr, range(max(i0, 0) + 1, min(i0 + w, n - 1) + 1), falling=True)
        return pos if x is None else max(pos, x)
    x = _crossing(u, thr, range(min(i0, n - 1), max(i0 - w, 0), -1), falling=False)
    return pos if x is None else min(pos, x)


def _crossing(u: np.ndarray, thr: float, js, falling: bool) -> Optional[float]:
    """Sub-sample position of the first crossing of ``thr`` by ``u`` between samples
    ``j - 1`` and ``j``, for ``j`` in ``js`` in that order (linear interpolation): falling
    (``u[j-1] > thr >= u[j]``) or rising (``u[j-1] <= thr < u[j]``); None without one
    (NaN samples never cross)."""
    for j in js:
        a, b = u[j - 1], u[j]
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        if falling and a > thr >= b:
            return (j - 1) + (a - thr) / (a - b)
        if not falling and a <= thr < b:
            return (j - 1) + (thr - a) / (b - a)
    return None


def zeni_events_labelled(
    prep: Prepared, refine: bool = True, alpha: float = REFINE_ALPHA, per_foot_extent: bool = False
) -> list[dict]:
    """HS/TO events per labelled leg by Zeni's method: the detector of gaitprep <= 0.x.

    Kept for comparison (``bench/gait_accuracy.py``); it trusts the pose model's
    left/right labels after the swap correction of :func:`gaitprep.gait.preprocess.fix_leg_swaps`
    and fails where that correction does. Use :func:`zeni_events`.

    With ``refine`` (default) each event is then moved to the instant the heel (HS) or
    toe (TO) ground speed crosses ``alpha`` x the walking speed (:func:`refine_event`),
    which removes the method's known bias (HS detected early, TO late, by a frame or so
    at 30 fps). ``refine=False`` gives Zeni et al. (2008) unchanged. ``per_foot_extent``:
    see :func:`_consistent_extent`.
    """
    return _zeni_labelled(prep, refine, alpha, (per_foot_extent,))[per_foot_extent]


def _zeni_labelled(prep: Prepared, refine: bool, alpha: float, extents: tuple) -> dict:
    """:func:`zeni_events_labelled` for each ``per_foot_extent`` in ``extents`` (one peak
    search and refinement shared by all): ``{per_foot_extent: events}``."""
    events: dict = {x: [] for x in extents}
    for p in prep.passes:
        sig = zeni_signals(prep, p)
        v = walking_speed_px(sig, prep.fps) if refine else float("nan")
        pev = []
        for side in SIDES:
            for kind, y, yy in (("HS", sig[side]["hs"], sig[side]["hs"]), ("TO", -sig[side]["to"], sig[side]["to"])):
                # a walker coming into view: its first contact right after the pose begins
                # (the label-free envelope keeps the two-sided test, see zeni_events)
                for pos in signal_peaks(y, prep.fps, open_start=True):
                    value = _interp(y, pos)
                    extremum = float(prep.series.frames[p.start] + pos)
                    if refine:
                        pos = refine_event(yy, pos, v, kind, prep.fps, alpha)
                    frame = float(prep.series.frames[p.start] + pos)
                    pev.append({"foot": FOOT_NAME[side], "event": kind, "frame": frame, "time": _time(prep, frame),
                                "pass": p.index, "edited": False, "_value": value, "extremum_frame": extremum})  # fmt: skip
        for x in extents:
            kept = _consistent_extent([dict(e) for e in pev], sig, x)
            kept = _drop_close_pairs(kept, "HS")
            kept = _drop_close_pairs(kept, "TO")
            events[x] += _clean_alternation(kept)
    return {x: sorted(ev, key=lambda e: e["frame"]) for x, ev in events.items()}


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


def _consistent_extent(pev: list[dict], sig: dict, per_foot: bool = False) -> list[dict]:
    """Drop events whose extremum is far less extreme than the other events of that kind.

    Every heel strike of a steady pass puts the heel about the same distance ahead of the
    pelvis (and every toe-off the toe about the same distance behind). A local maximum
    that falls short of the median of the pass's HS maxima by more than
    :data:`EXTENT_TOLERANCE` x the 5-95 % range of the signal is not a heel strike but a
    glitch or a swing cut off at the edge of the view; likewise for TO (at least three
    events of the kind, else all are kept).

    ``per_foot``: compared with the median of the same foot's other events instead (with
    fewer than two of those, with all the pass's), so that the short leg of a step-to or
    limping gait, whose toe may never pass behind the pelvis, keeps its events. Used for
    the other foot's events of a pass already recognised as non-alternating
    (:func:`_other_foot_events`); the recognition itself keeps the pooled comparison, whose
    stricter cut drops the weak extrema a run of label swaps makes in an alternating gait.
    """
    out = []
    for kind, key in (("HS", "hs"), ("TO", "to")):
        ev = [e for e in pev if e["event"] == kind]
        if len(ev) < 3:
            out += ev
            continue
        allv = np.concatenate([sig[s][key] for s in SIDES])
        allv = allv[np.isfinite(allv)]
        rng = np.percentile(allv, 95) - np.percentile(allv, 5) if len(allv) else 0.0
        pooled = float(np.median([e["_value"] for e in ev]))
        for e in ev:
            same = [x["_value"] for x in ev if x is not e and x["foot"] == e["foot"]]
            ref = float(np.median(same)) if per_foot and len(same) >= 2 else pooled
            if e["_value"] >= ref - EXTENT_TOLERANCE * rng:
                out.append(e)
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


# ---------------------------------------------------------------------------------------
# Label-free events (default)

#: two events of one kind (either foot) are at least this far apart (s): the shortest
#: step of a walk (cadence <= ~180 steps/min even when limping)
MIN_STEP_SPACING_S = 0.25
#: model-label votes are taken over this time either side of an event (s)
VOTE_WINDOW_S = 0.1
#: an event this many signal ranges less extreme than the same foot's other events is
#: rejected (label-free detector; chosen on the real tuning video gait_abnormal_03, whose
#: first toe-off after the turn is 0.51 ranges short and real, and gait_normal_01, whose
#: heel strike behind the shoe rack is 0.60 short and not seen)
LABEL_FREE_EXTENT_TOLERANCE = 0.55
#: two TOs closer than this fraction of the step time are one step's (the less extreme
#: is rejected); a step lasts one step time, a TO comes once per step
TO_MIN_STEP_FRAC = 0.6
#: fewest label-free events of one kind in a pass for the non-alternating (step-to) test
NON_ALTERNATING_MIN_EVENTS = 3
#: mean ground speed (x the walking speed) of the foot making a double-support contact
#: over the 0.15 s of swing next to it, and the most of the supporting foot, for
#: :func:`_ds_contact` to tell them apart
DS_SWING_MIN = 1.0
DS_STAND_MAX = 0.5
#: double support: the leading heel and the trailing toe both slower than this fraction of
#: the walking speed (:func:`_double_support_events`; the refinement threshold of
#: :data:`LABEL_FREE_ALPHA`)
DS_SPEED_FRAC = 0.3
#: a pass with at least this many double-support periods per detected heel strike is a
#: non-alternating (step-to) gait: an alternating one has one per heel strike
DS_MIN_RATIO = 1.6
#: ground-speed threshold of the label-free refinement per kind (fraction of the walking
#: speed), chosen on synthetic seed set A (exact keypoints, where truth is exact)
LABEL_FREE_ALPHA = {"HS": 0.3, "TO": 0.3}
#: systematic timing correction (s) added to every refined event, per pose backend
#: (``series.extra["backend"]``, from the pose provenance) and kind, so that events time
#: the physical contact: heel strike = the first instant the heel touches the floor, toe
#: off = the last the toe does. BlazePose: calibrated on the eight hand-labelled real
#: videos (bench/data) with each label moved to the contact it implies -- the labelling
#: rule (heel within 12 px of its rest position, toe within 5 px of its stance position)
#: picks a frame 25-35 ms before the heel's contact and 8-13 ms after the toe's lift-off,
#: measured by applying the rule to the renderer's exact feet at each video's scale
#: (``bench/gait_accuracy.py --tune`` / ``--label-rule``). The renderer's walkers through
#: BlazePose, scored against their exact contacts, give a correction within 7 ms (HS)
#: and 2 ms (TO) of it (raw HS +10 to +14 ms, TO -15 to +1 ms on eight sweeps). A backend
#: not listed gets no correction (and a note in the diagnostics). To time events as the
#: hand labels do instead, set ``gait.event_offsets_s: {HS: -0.046, TO: 0.019}``.
EVENT_OFFSET_S: dict = {"blazepose": {"HS": -0.019, "TO": 0.007}}
#: what the offsets of :data:`EVENT_OFFSET_S` make the events time
EVENT_OFFSET_REFERENCE = "contact (heel's first touch, toe's last)"
TUNING_NOTE = (
    "offsets: mean error against contact over the 8 hand-labelled real videos (65 HS, 68 TO; "
    "each label moved by the labelling rule's lead, measured on the renderer's exact feet; "
    "bench/gait_accuracy.py --tune --heldout-videos DIR); held-out figure: leave-one-video-out"
)


def _to_grid(y: np.ndarray, t: np.ndarray, tg: np.ndarray) -> np.ndarray:
    """Linear resampling of ``y(t)`` onto ``tg``; NaN wherever a neighbouring sample is NaN."""
    fin = np.isfinite(y)
    if fin.sum() < 2:
        return np.full(len(tg), np.nan)
    out = np.interp(tg, t[fin], y[fin])
    ok = np.interp(tg, t, fin.astype(float)) > 1 - 1e-9
    out[~ok] = np.nan
    return out


def envelope_signals(prep: Prepared, p: Pass, series=None) -> dict:
    """Label-free foot signals of a pass: the leading heel and the trailing toe.

    Along the walking direction (``p.direction``) and relative to the pelvis (px,
    forward positive), per frame: ``lead`` = the larger of the two heel positions (the
    ankle where there is no heel), ``trail`` = the smaller of the two big-toe positions.
    Neither depends on which leg the pose model calls left: a label swap exchanges
    the two values, not their maximum or minimum. Computed from the masked keypoints
    as the pose model gave them (``prep.labelled``, or ``series``), then glitches
    removed from these label-free signals (the rule of
    :func:`gaitprep.gait.preprocess.remove_spikes`: a swap is no glitch here), gaps up to
    ``max_gap`` interpolated and low-passed like :func:`gaitprep.gait.preprocess.prepare`
    (6 Hz zero-phase Butterworth), on a uniform time grid.

    A heel masked beyond the margin of the border behind the walker (by its own
    position, :func:`gaitprep.gait.preprocess.mask_unusable`'s ``border_side``) is
    behind any heel seen, and a toe beyond the border ahead is ahead of any toe seen,
    so there ``lead`` / ``trail`` are the seen foot's (a walker coming into or leaving
    the view).

    Returns ``{"lead", "trail", "sep" (lead - trail of the heels, the inter-foot
    distance), "tg" (grid times, s), "dt" (s), "uniform" (bool: the grid is the pass's
    own frames), "<k>_measured" (seen, not interpolated), "<k>_both_seen" (seen with
    both feet in the view)}``; arrays ``(n,)`` on the grid.
    """
    from .preprocess import PrepConfig, interpolate_gaps, lowpass

    cfg = prep.cfg or PrepConfig()
    if series is None:
        series = prep.labelled if prep.labelled is not None else prep.raw
    sl = slice(p.start, p.stop)
    pel = prep.pelvis[sl, 0]
    t = prep.t[sl] if prep.t is not None else prep.series.frames[sl] / prep.fps
    uniform = uniform_timing(t)
    if uniform:
        tg, dt = t, float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / prep.fps
    else:
        dt = float(np.percentile(np.diff(t), 10))
        tg = np.arange(t[0], t[-1] + 1e-9, dt)
    fs = 1.0 / dt
    max_gap = max(1, int(round(cfg.max_gap_s * fs)))
    heel = {sd: p.direction * (_point(series, sd, "hs")[sl] - pel) for sd in SIDES}
    toe = {sd: p.direction * (_point(series, sd, "to")[sl] - pel) for sd in SIDES}
    # a heel masked beyond the margin of the border behind the walker (its own position
    # there) is behind any heel seen, a toe beyond the border ahead is ahead of any toe
    # seen: the leading heel and the trailing toe are then the seen ones (a walker coming
    # into or leaving the view)
    side = (series.extra or {}).get("border_side") or {}

    def beyond(sd: str, kind: str, way: int) -> np.ndarray:
        name = f"{sd}_heel" if kind == "hs" else f"{sd}_big_toe"
        b = side.get(name if series.has(name) else f"{sd}_ankle")
        return np.zeros(len(pel), bool) if b is None else (np.asarray(b)[sl] == way)

    lead_in = {sd: np.where(beyond(sd, "hs", -p.direction), -np.inf, heel[sd]) for sd in SIDES}
    trail_in = {sd: np.where(beyond(sd, "to", p.direction), np.inf, toe[sd]) for sd in SIDES}
    # where one foot is beyond the border (only the other one seen)
    one_seen = {
        "lead": np.isinf(lead_in["l"]) & np.isfinite(heel["r"]) | np.isinf(lead_in["r"]) & np.isfinite(heel["l"]),
        "trail": np.isinf(trail_in["l"]) & np.isfinite(toe["r"]) | np.isinf(trail_in["r"]) & np.isfinite(toe["l"]),
    }
    with np.errstate(invalid="ignore"):
        lead = np.maximum(lead_in["l"], lead_in["r"])
        trail = np.minimum(trail_in["l"], trail_in["r"])
    raw = {
        "lead": np.where(np.isfinite(lead), lead, np.nan),
        "trail": np.where(np.isfinite(trail), trail, np.nan),
        "sep": np.abs(heel["l"] - heel["r"]),
    }
    from .preprocess import leg_length_px, odd_frames

    leg = leg_length_px(series)
    back = prep.diagnostics.get("backward_frames")
    back = np.zeros(len(t), bool) if back is None else np.asarray(back, bool)[sl]
    out = {}
    for k, y in raw.items():
        if cfg.spike_frac > 0 and np.isfinite(leg):
            rate = 1.0 / float(np.median(np.diff(t))) if len(t) > 1 else prep.fps
            y = _despike(y, cfg.spike_frac * leg, odd_frames(cfg.spike_window_s, rate))
        if uniform:
            measured = np.isfinite(y) | back
        else:
            # short gaps bridged on the frames themselves, as on a uniform grid, before the
            # resampling (which would widen a one-frame gap into the next grid sample and,
            # next to the pass end, cut the last samples off)
            measured = np.isfinite(_to_grid(y, t, tg)) | (_to_grid(back.astype(float), t, tg) > 0)
            y = _to_grid(interpolate_gaps(y, max_gap), t, tg)
        out[k] = lowpass(interpolate_gaps(y, max_gap), fs, cfg.cutoff_hz, cfg.filter_order)
        out[f"{k}_measured"] = measured
        if k in one_seen:
            one = one_seen[k] if uniform else _to_grid(one_seen[k].astype(float), t, tg) > 0
            out[f"{k}_both_seen"] = measured & ~one
    out.update(tg=np.asarray(tg, float), dt=dt, uniform=uniform)
    return out


def pass_envelope(prep: Prepared, p: Pass) -> dict:
    """:func:`envelope_signals` of a pass, computed once per :class:`Prepared` (they read the
    model's own labels, ``prep.labelled``, which the relabelling after the events leaves
    alone)."""
    if prep.labelled is None:  # the signals read prep.raw, which the relabelling changes
        return envelope_signals(prep, p)
    env = prep.envelopes.get(p.index)
    if env is None:
        env = prep.envelopes[p.index] = envelope_signals(prep, p)
    return env


def support_speeds(env: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """Ground speeds of the leading heel and the trailing toe of a pass, label-free.

    ``v`` is the walking speed (px per grid sample of ``env``), estimated from the stance
    foot's backward motion relative to the pelvis (minus the median of the smaller of the two
    signals' velocities: independent of camera pan); a point's ground speed is its
    pelvis-relative velocity plus ``v``. Returns ``(|ground speed of the leading heel| / v,
    |ground speed of the trailing toe| / v, v)``, arrays ``(n,)`` on the grid; both are near 0
    only in double support. ``v`` is NaN (and the arrays NaN) without a usable estimate.
    """
    lead, trail = env["lead"], env["trail"]
    m = np.fmin(np.gradient(lead), np.gradient(trail)) if len(lead) > 1 else np.array([])
    m = m[np.isfinite(m)]
    v = float(-np.median(m)) if len(m) else float("nan")
    if len(lead) < 2 or not (np.isfinite(v) and v > 0):
        nan = np.full(len(lead), np.nan)
        return nan, nan.copy(), v
    return np.abs(np.gradient(lead) + v) / v, np.abs(np.gradient(trail) + v) / v, v


#: an event within this time (s) of a pose gap of at least GAP_REJECT_S is not trusted:
#: its extremum may be the end of an interpolated stretch, not of the motion
GAP_NEAR_S = 0.05
GAP_REJECT_S = 0.1


def _near_gap(measured: np.ndarray, pos: float, fs: float) -> float:
    """Length (s) of the longest unmeasured run within :data:`GAP_NEAR_S` of grid position
    ``pos`` (0 when none)."""
    from .preprocess import runs

    w = max(1, int(round(GAP_NEAR_S * fs)))
    lo, hi = int(np.floor(pos)) - w, int(np.ceil(pos)) + w
    longest = 0
    for a, b in runs(~measured):
        if a <= hi and b - 1 >= lo:
            longest = max(longest, b - a)
    return longest / fs


def _despike(y: np.ndarray, thr: float, window: int, passes: int = 2) -> np.ndarray:
    """NaN where ``y`` departs from its centred running median (``window`` samples) by more
    than ``thr``: :func:`gaitprep.gait.preprocess.remove_spikes` on a label-free signal."""
    import pandas as pd

    y = np.asarray(y, float).copy()
    for _ in range(passes):
        med = pd.Series(y).rolling(window, center=True, min_periods=3).median().to_numpy()
        bad = np.isfinite(y) & np.isfinite(med) & (np.abs(y - med) > thr)
        y[bad] = np.nan
    return y


def _grid_to_frame(prep: Prepared, p: Pass, env: dict, pos: float) -> float:
    """Fractional source frame of a fractional grid position."""
    if env["uniform"]:
        return float(prep.series.frames[p.start] + pos)
    te = env["tg"][0] + pos * env["dt"]
    sl = slice(p.start, p.stop)
    return float(np.interp(te, prep.t[sl], prep.series.frames[sl].astype(float)))


def _reject(rejected: list, e: dict, reason: str) -> None:
    rejected.append(
        {"frame": round(float(e["frame"]), 3), "kind": e["event"], "foot": e.get("foot"), "pass": e["pass"], "reason": reason}
    )


def _assign_feet(hs: list[dict], to: list[dict]) -> None:
    """Give every event a step index ``_k`` (HS) / the index of the step it starts (TO):
    consecutive heel strikes alternate feet, so the foot is the parity of ``_k`` once one
    parity is chosen (:func:`_vote_parity`). A gap of about two step times means a heel
    strike was not detected (occlusion): ``_k`` advances by the rounded number of steps,
    so the feet after it stay right. A TO belongs to the foot of the next HS when that
    one follows within 1.2 step times (TO of a foot comes ~0.6-0.8 step times before its
    HS), else to the foot after the previous HS."""
    if hs:
        th = np.array([e["t"] for e in hs])
        step = float(np.median(np.diff(th))) if len(th) > 1 else np.nan
        k = 0
        hs[0]["_k"] = 0
        for a, b in zip(hs, hs[1:]):
            k += max(1, int(round((b["t"] - a["t"]) / step))) if np.isfinite(step) else 1
            b["_k"] = k
    else:
        step = np.nan
    unk = []
    for e in to:
        nxt = next((h for h in hs if h["t"] > e["t"]), None)
        prv = next((h for h in reversed(hs) if h["t"] < e["t"]), None)
        if nxt is not None and np.isfinite(step) and nxt["t"] - e["t"] < 1.2 * step:
            e["_k"] = nxt["_k"]
        elif prv is not None and np.isfinite(step) and e["t"] - prv["t"] < 0.8 * step:
            e["_k"] = prv["_k"] + 1
        elif nxt is not None and len(hs) == 1:
            e["_k"] = nxt["_k"]
        else:
            unk.append(e)
    known = [e for e in to if "_k" in e]
    if unk:
        tt = np.array([e["t"] for e in to])
        tstep = float(np.median(np.diff(tt))) if len(tt) > 1 else np.nan
        chain, k = {}, 0
        for i, e in enumerate(to):
            if i:
                k += max(1, int(round((e["t"] - to[i - 1]["t"]) / tstep))) if np.isfinite(tstep) else 1
            chain[id(e)] = k
        off = 0
        if known:  # the chain's offset that agrees with most TOs placed by the heel strikes
            votes = [(e["_k"] - chain[id(e)]) % 2 for e in known]
            off = int(round(np.mean(votes)))
        for e in unk:
            e["_k"] = chain[id(e)] + off


def _label_vote(prep: Prepared, p: Pass, e: dict, series) -> float:
    """+1 .. -1: how strongly the pose model's labels say the event is the LEFT foot's.

    For an HS, the sign of (left heel - right heel) along the walking direction in the
    frames within :data:`VOTE_WINDOW_S` of it (the striking heel leads); for a TO the
    sign of (right toe - left toe) (the toe leaving the floor trails). 0 without data.
    """
    w = max(1, int(round(VOTE_WINDOW_S * prep.fps)))
    i = int(round(e["frame"] - prep.series.frames[0]))
    sl = slice(max(p.start, i - w), min(p.stop, i + w + 1))
    key = "hs" if e["event"] == "HS" else "to"
    yl = p.direction * _point(series, "l", key)[sl]
    yr = p.direction * _point(series, "r", key)[sl]
    d = (yl - yr) if key == "hs" else (yr - yl)
    d = d[np.isfinite(d)]
    return float(np.mean(np.sign(d))) if len(d) else 0.0


def _leading_foot(prep: Prepared, p: Pass, hs: list[dict], series) -> tuple[np.ndarray, np.ndarray]:
    """Which foot's heel is in front in each frame of a pass, from the assigned heel strikes.

    Between two crossings of the feet (the minima of the inter-foot distance between
    consecutive heel strikes) the heel in front is the one that struck in between;
    before the first (after the last) detected heel strike the same holds for the
    strike one step time earlier (later), of the other foot. Frames in a gap of more
    than 1.5 step times between detected heel strikes get no answer.

    Returns ``(want, d)``, ``(n,)`` over the pass frames: ``want`` +1 where the left
    heel should lead, -1 where the right one, 0 unknown; ``d`` the labelled left minus
    right heel position along the walking direction (px) in ``series``.
    """
    n = p.stop - p.start
    sl = slice(p.start, p.stop)
    f0 = int(prep.series.frames[0])
    d = p.direction * (_point(series, "l", "hs")[sl] - _point(series, "r", "hs")[sl])
    want = np.zeros(n)
    if len(hs) < 2:
        return want, d
    ad = np.abs(d)
    idx = [int(round(e["frame"] - f0)) - p.start for e in hs]
    th = np.array([e["t"] for e in hs])
    step = float(np.median(np.diff(th)))
    step_fr = max(1, int(round(float(np.median(np.diff(idx))))))
    sign = [1.0 if e["foot"] == "left" else -1.0 for e in hs]
    seps = [ad[i] for i in idx if 0 <= i < n and np.isfinite(ad[i])]
    sep = float(np.median(seps)) if seps else np.inf
    # virtual strikes one step before the first and after the last
    idx = [idx[0] - step_fr] + idx + [idx[-1] + step_fr]
    sign = [-sign[0]] + sign + [-sign[-1]]
    times = [th[0] - step] + list(th) + [th[-1] + step]
    cross: list = []
    for j in range(len(idx) - 1):
        a, b = idx[j], idx[j + 1]
        lo, hi = max(a, 0), min(max(b, 0), n)
        seg = ad[lo:hi]
        if times[j + 1] - times[j] > 1.5 * step or hi <= lo or not np.isfinite(seg).any() or np.nanmin(seg) > 0.5 * sep:
            cross.append(None)  # no crossing of the feet seen (gap, or outside the data)
        else:
            cross.append(lo + int(np.nanargmin(seg)))
    for j in range(1, len(idx) - 1):
        lo, hi = cross[j - 1], cross[j]
        # no crossing between the pass start (end) and the first (last) strike: that
        # strike's foot leads over the whole stretch
        if lo is None and j == 1 and idx[1] - step_fr <= 0:
            lo = 0
        if hi is None and j == len(idx) - 2 and idx[-2] + step_fr >= n:
            hi = n
        if lo is None or hi is None:
            continue
        want[max(lo, 0) : min(max(hi, 0), n)] = sign[j]
    # the virtual strikes' own segments (pass edges), when their crossing is known
    if cross[0] is not None:
        want[: max(cross[0], 0)] = sign[0]
    if cross[-1] is not None:
        want[min(cross[-1], n) :] = sign[-1]
    return want, d


def _swap_rate(prep: Prepared, p: Pass, hs: list[dict], series) -> tuple[int, int]:
    """``(frames whose labels in ``series`` put the wrong heel in front, frames judged)`` in
    a pass (:func:`_leading_foot`). Frames where the heels are less than 0.25 x their
    typical separation at heel strike apart are not judged (the order is ambiguous)."""
    want, d = _leading_foot(prep, p, hs, series)
    thr = _sep_threshold(prep, p, hs, d)
    ok = (want != 0) & np.isfinite(d) & (np.abs(d) > thr)
    return int((np.sign(d[ok]) != want[ok]).sum()), int(ok.sum())


def _sep_threshold(prep: Prepared, p: Pass, hs: list[dict], d: np.ndarray) -> float:
    f0 = int(prep.series.frames[0])
    idx = [int(round(e["frame"] - f0)) - p.start for e in hs]
    seps = [abs(d[i]) for i in idx if 0 <= i < len(d) and np.isfinite(d[i])]
    return 0.25 * float(np.median(seps)) if seps else np.inf


def label_swaps(prep: Prepared, events: list[dict], series=None) -> np.ndarray:
    """``(T,)`` bool over the series frames: True where the leg labels of ``series``
    (default ``prep.raw``, the keypoints the parameters read) contradict the feet of the
    label-free ``events`` (:func:`_leading_foot`). Ambiguous frames (heels close
    together) take the state of the nearest judged frame of the same pass; frames
    outside passes are False."""
    series = prep.raw if series is None else series
    out = np.zeros(prep.series.n, bool)
    for p in prep.passes:
        if p.index in (prep.diagnostics.get("step_to_passes") or []) and p.index not in (
            prep.diagnostics.get("step_to_relabelled") or []
        ):
            continue  # the other foot's strikes are not known: "the heel in front" says nothing
        hs = sorted([e for e in events if e["pass"] == p.index and e["event"] == "HS"], key=lambda e: e["frame"])
        want, d = _leading_foot(prep, p, hs, series)
        thr = _sep_threshold(prep, p, hs, d)
        ok = (want != 0) & np.isfinite(d) & (np.abs(d) > thr)
        if not ok.any():
            continue
        wrong = np.sign(d) != want
        judged = np.flatnonzero(ok)
        near = judged[np.clip(np.searchsorted(judged, np.arange(len(d))), 0, len(judged) - 1)]
        prev = judged[np.clip(np.searchsorted(judged, np.arange(len(d))) - 1, 0, len(judged) - 1)]
        pick = np.where(np.abs(prev - np.arange(len(d))) < np.abs(near - np.arange(len(d))), prev, near)
        out[p.start : p.stop] = wrong[pick] & (want != 0)
    return out


def _dominant_step_hz(sep: np.ndarray, fs: float) -> float:
    """Dominant frequency (Hz, 0.6-4 Hz) of the inter-foot distance: the step frequency
    (the feet are farthest apart once per step). NaN when the pass is shorter than 2 s
    or has gaps."""
    if len(sep) < 2 * fs or not np.isfinite(sep).all():
        return float("nan")
    x = sep - sep.mean()
    n = 8 * len(x)  # zero padding: finer frequency grid
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    band = (f >= 0.6) & (f <= 4.0)
    return float(f[band][np.argmax(spec[band])]) if band.any() else float("nan")


def zeni_events(
    prep: Prepared, refine: bool = True, alpha=None, offsets: Optional[dict] = None, label_free: bool = True
) -> list[dict]:
    """HS/TO events of every pass, independent of the pose model's left/right labels.

    Method (per pass): Zeni's criterion (module docstring) applied to the label-free
    signals of :func:`envelope_signals`: heel strikes are the maxima of the leading
    heel's position relative to the pelvis, toe-offs the minima of the trailing toe's
    (each step has exactly one of each, whichever leg the model calls left). With
    ``refine`` (default), each event then moves to the instant that foot point's
    ground speed crosses ``alpha`` x the walking speed (:func:`refine_event`; Zeni's
    extremum is early for HS and late for TO), plus the constant ``offsets`` (s, per
    kind; default: :data:`EVENT_OFFSET_S` of the pose backend in
    ``prep.series.extra["backend"]``). Implausible extrema are rejected: one closer
    than :data:`MIN_INTERVAL_FRAC` x the median interval to a stronger one, one far less
    extreme (:data:`LABEL_FREE_EXTENT_TOLERANCE` x the signal range) than the other events of the
    same foot (alternate events: a glitch or a swing cut off by the view; comparing
    within a foot keeps the short steps of a limping leg), a second TO between two
    heel strikes, one within :data:`GAP_NEAR_S` of a pose gap of :data:`GAP_REJECT_S`
    or more (its timing would come from the interpolation). Where one foot is not seen
    (a walker coming into or leaving the view, furniture) the visible foot's own
    extrema stand in (the per-leg signals, with the start of the data counting as a gap:
    :func:`signal_peaks` ``open_start``, which finds the first contact of a walker coming
    into view; the label-free envelope keeps the two-sided test: counting the start as
    a gap there, an early extremum at the start of a step-to pass broke its alternation
    in seed set S2). Feet: heel
    strikes alternate, so a pass has two possible assignments (:func:`_assign_feet`,
    which keeps the alternation across a missed event); the one the pose model's own
    labels (before any swap correction) agree with in most frames of the pass is
    chosen (:func:`_swap_rate`: which heel is in front between two crossings of the
    feet), so labels swapped in fewer than half of the frames cannot move an event
    to the wrong foot.
    All thresholds are in seconds; a variable frame rate is handled on a uniform grid.

    ``label_free=False`` runs :func:`zeni_events_labelled` (the per-labelled-leg
    detector of earlier versions) instead.

    Returns:
        events sorted by frame, dicts ``{"foot": "left"|"right", "event": "HS"|"TO",
        "frame": float (fractional source frame), "t": float (s, from the clip's frame
        timestamps, ``prep.t`` interpolated at ``frame``), "time": float (= ``t``),
        "pass": int, "edited": False, "extremum_frame": float (the unrefined Zeni
        extremum), "label_agreement": float (+1: the model's labels agree with the
        assigned foot around the event, -1: they say the other foot), and
        "source": "single-foot" on events found where only one foot was seen,
        "double-support" / "other-foot" on the other foot's events of a non-alternating
        (step-to) pass (:func:`_double_support_events`, :func:`_other_foot_events`)}``.
        A step-to pass keeps the model's leg labels (it is listed in
        ``prep.diagnostics["step_to_passes"]`` and a warning names it).

    Side effects: the leg keypoints of ``prep`` (``raw``, ``series``, ``foot_points``) are
    relabelled where they contradict the feet found here (:func:`label_swaps`,
    :func:`gaitprep.gait.preprocess.relabel_legs`), so that contact positions are read
    from the right foot; ``prep.diagnostics`` gains ``n_frames_relabelled`` and ``leg_swap_rate`` (share of judged pass
    frames in which the model's labels put the wrong heel in front; NaN when no frame
    could be judged), ``leg_swap_rate_per_pass``, ``rejected_events`` (list of
    ``{frame, kind, foot, pass, reason}``), ``foot_label_agreement`` (mean
    ``label_agreement`` over events; near 0 means the feet could not be told apart by
    the labels, near -1 is impossible by construction), ``step_frequency_hz_per_pass``
    (the dominant frequency of the inter-foot distance: an event-independent step
    rate, x 60 = cadence), ``event_method``.
    """
    if not label_free:
        ev = zeni_events_labelled(prep, refine, REFINE_ALPHA if alpha is None or isinstance(alpha, dict) else alpha)
        for e in ev:
            e["t"] = e["time"]
        prep.diagnostics.update(event_method="zeni-labelled")
        return ev
    backend = (prep.series.extra or {}).get("backend")
    if offsets is not None:
        offsets_source = "config gait.event_offsets_s"
    elif backend in EVENT_OFFSET_S:
        offsets_source = f"pose backend {backend}: gaitprep.gait.events.EVENT_OFFSET_S (docs/gait.md)"
    else:
        offsets_source = f"none calibrated for pose backend {backend!r}"
    if offsets is None:
        offsets = dict(EVENT_OFFSET_S.get(backend, {"HS": 0.0, "TO": 0.0}))
    if alpha is None or not isinstance(alpha, dict):
        alpha = dict(LABEL_FREE_ALPHA) if alpha is None else {"HS": float(alpha), "TO": float(alpha)}
    labels = prep.labelled if prep.labelled is not None else prep.raw
    events: list[dict] = []
    rejected: list[dict] = []
    swaps, freq = [], []
    agree: list[float] = []
    # where one foot is not seen (below the frame edge, behind furniture) the label-free
    # signals are undefined; the visible foot's own extrema (per-leg Zeni on the
    # swap-corrected legs) stand in there (its label is not used: feet come from the
    # alternation below)
    single: dict = {}
    step_to: list[int] = []
    step_to_relabelled: list[int] = []
    prep.diagnostics["step_to_passes"] = step_to  # read by label_swaps (below)
    prep.diagnostics["step_to_relabelled"] = step_to_relabelled
    # and with the per-foot extent check (a step-to pass's short leg kept: its other-foot events)
    single_pf: dict = {}
    per_leg = _zeni_labelled(prep, refine, alpha["HS"], (False, True))
    for per_foot, into in ((False, single), (True, single_pf)):
        for e in per_leg[per_foot]:
            # where its signal puts it (before the timing offset): what it is admitted by
            e["_signal_t"], e["_signal_frame"] = e["time"], e["frame"]
            e["t"] = e["time"] + (offsets.get(e["event"], 0.0) if refine else 0.0)
            e["time"] = e["t"]
            if refine and offsets.get(e["event"], 0.0):
                e["frame"] = _frame_of_time(prep, e["t"])
            e["source"] = "single-foot"
            into.setdefault((e["pass"], e["event"]), []).append(e)
    for p in prep.passes:
        env = pass_envelope(prep, p)
        fs = 1.0 / env["dt"]
        lead, trail = env["lead"], env["trail"]
        gl, gt, v_rest = support_speeds(env)  # v_rest: walking speed, px per grid sample
        v = v_rest if refine else float("nan")
        rng_all = np.concatenate([lead[np.isfinite(lead)], trail[np.isfinite(trail)]])
        rng = float(np.percentile(rng_all, 95) - np.percentile(rng_all, 5)) if len(rng_all) else 0.0
        pev = []
        for kind, y, yy in (("HS", lead, lead), ("TO", -trail, trail)):
            for pos in signal_peaks(y, fs, spacing_s=MIN_STEP_SPACING_S):
                value = _interp(y, pos)
                x_frame = _grid_to_frame(prep, p, env, pos)
                rpos = refine_event(yy, pos, v, kind, fs, alpha[kind]) if refine else pos
                frame = _grid_to_frame(prep, p, env, rpos)
                t = _time(prep, frame) + (offsets.get(kind, 0.0) if refine else 0.0)
                if refine and offsets.get(kind, 0.0):
                    frame = _frame_of_time(prep, t)
                pev.append({"foot": None, "event": kind, "frame": frame, "t": t, "time": t, "pass": p.index,
                            "edited": False, "extremum_frame": x_frame, "_value": value, "_gpos": rpos})  # fmt: skip
        kept = []
        for kind in ("HS", "TO"):
            ev = sorted([e for e in pev if e["event"] == kind], key=lambda e: e["t"])
            meas = env["lead_measured" if kind == "HS" else "trail_measured"]
            good = []
            for e in ev:
                g = _near_gap(meas, e["_gpos"], fs)
                if g >= GAP_REJECT_S:
                    _reject(rejected, e, f"{kind} next to a pose gap of {g:.2f} s (interpolated, not seen)")
                else:
                    good.append(e)
            ev = good
            both = env.get("lead_both_seen" if kind == "HS" else "trail_both_seen", meas)
            for e in single.get((p.index, kind), []):
                # admitted by where the signals put it, not by the timing offset
                gpos = (e["_signal_t"] - env["tg"][0]) / env["dt"]
                seen = _single_seen(prep, e, kind)
                covered = any(abs(x["t"] - e["t"]) < MIN_STEP_SPACING_S for x in ev)
                if seen and _near_gap(both, gpos, fs) >= GAP_REJECT_S and not covered:
                    sd = "l" if e["foot"] == "left" else "r"
                    rel = p.direction * (prep.foot_points[sd]["hs" if kind == "HS" else "to"][:, 0] - prep.pelvis[:, 0])
                    val = _interp(np.nan_to_num(rel), e.get("extremum_frame", e["frame"]) - float(prep.series.frames[0]))
                    e = dict(e, _value=val if kind == "HS" else -val, _gpos=gpos, foot=None)
                    ev.append(e)
            ev.sort(key=lambda e: e["t"])
            changed = True
            while changed and len(ev) >= 3:
                changed = False
                gaps = np.diff([e["t"] for e in ev])
                i = int(np.argmin(gaps))
                if gaps[i] < MIN_INTERVAL_FRAC * float(np.median(gaps)):
                    a, b = ev[i], ev[i + 1]
                    drop = a if a["_value"] < b["_value"] else b
                    why = f"{kind} {gaps[i]:.2f} s after/before a stronger one (< {MIN_INTERVAL_FRAC} x the median interval)"
                    _reject(rejected, drop, why)
                    ev = [e for e in ev if e is not drop]
                    changed = True
            # far less extreme than the other events of its foot: a glitch or a swing cut
            # off by the view. Compared with every other event of the pass (alternate
            # ones: the same foot), so that a limping leg's short steps are kept.
            bad = []
            for i, e in enumerate(ev):
                same = [x["_value"] for j, x in enumerate(ev) if j != i and (j - i) % 2 == 0]
                if same and e["_value"] < float(np.median(same)) - LABEL_FREE_EXTENT_TOLERANCE * rng:
                    bad.append(e)
                    ref = float(np.median(same))
                    why = (
                        f"{kind} extremum {e['_value']:.0f} px is far below the {ref:.0f} px of the same foot's other {kind}"
                        f" (by {(ref - e['_value']) / rng:.2f} x the signal range; glitch or swing cut off)"
                    )
                    _reject(rejected, e, why)
            ev = [e for e in ev if not any(e is x for x in bad)]
            kept.append(ev)
        hs, to = kept
        # a step-to / limping gait whose other foot never leads: the label-free signals
        # see one foot's events only. First label-free, from the double-support periods;
        # else from the other foot's own signal when the model's labels show it
        lead_foot = {}
        ds_added = _double_support_events(prep, p, env, (gl, gt, v_rest), hs, to, offsets if refine else {})
        if ds_added:
            for e in hs + to:
                e["_orig"] = True
            for e in ds_added:
                (hs if e["event"] == "HS" else to).append(e)
            hs.sort(key=lambda e: e["t"])
            to.sort(key=lambda e: e["t"])
            lead_foot = {k: 1 for k in ("HS", "TO") if any(e["event"] == k for e in ds_added)}
        for kind in ("HS", "TO") if not ds_added else ():
            cur = hs if kind == "HS" else to
            sign, extra = _other_foot_events(
                prep, p, cur, single.get((p.index, kind), []), labels, kind, confirmed="HS" in lead_foot,
                added_from=single_pf.get((p.index, kind), []),
            )
            if sign:
                lead_foot[kind] = sign
                for e in cur:
                    e["_orig"] = True
                cur += extra
                cur.sort(key=lambda e: e["t"])
        if ds_added:
            step_to.append(p.index)
            nh = sum(e["event"] == "HS" for e in ds_added)
            prep.warnings.append(
                f"pass {p.index}: non-alternating gait (the double-support periods come twice as often as the "
                f"contacts of the leading foot: step-to or limping walk): {nh} HS and {len(ds_added) - nh} TO "
                "of the other foot taken from the double-support periods"
            )
        elif lead_foot:
            step_to.append(p.index)
            prep.warnings.append(
                f"pass {p.index}: non-alternating gait (the pose model's labels put the same foot at every "
                + " and every ".join(f"{'heel strike' if k == 'HS' else 'toe-off'} the label-free signals find"
                                     for k in lead_foot)
                + "; step-to or limping walk): the other foot's "
                + " and ".join(k for k in lead_foot) + " are taken from its own heel/toe signal"
            )  # fmt: skip
        to = _one_to_per_step(hs, to, rejected)
        _assign_feet(hs, to)
        allev = hs + to
        for e in allev:
            e["_vote"] = _label_vote(prep, p, e, labels)
        # the parity the model's labels agree with in most judged frames of the pass;
        # without judged frames, in most event windows
        for e in allev:
            e["foot"] = "left" if e["_k"] % 2 == 0 else "right"
        fb, ft = _swap_rate(prep, p, hs, labels) if ds_added else (0, 0)
        if ft:
            # step-to pass with the other foot's events from the double-support periods:
            # every heel strike is known, so the heel in front between two crossings of
            # the feet is known in every frame (the other foot's stretch in front is short
            # or, at a pure step-to, ambiguous and not judged); the parity is the one the
            # model's labels agree with in most judged frames, as for an alternating pass
            # (the votes of the few label-free events alone fail when label swaps happen
            # to cover two of three)
            parity = 0 if fb <= ft - fb else 1
            bad, tot = min(fb, ft - fb), ft
            step_to_relabelled.append(p.index)  # its legs are relabelled like an alternating pass's
        elif lead_foot:
            # the label-free events are the leading foot's (the labels agree at all of
            # them); the alternation gives the inserted ones the other foot
            orig = [e for e in allev if e.get("_orig")]
            votes0 = sum((1.0 if e["_k"] % 2 == 0 else -1.0) * np.sign(e["_vote"]) for e in orig)
            parity = 0 if votes0 >= 0 else 1
            # judged on the label-free events only: at the other foot's strikes the
            # leading heel is still the first foot's, so their votes say nothing
            strong = [e for e in orig if abs(e["_vote"]) >= 0.5]
            tot = len(strong)
            bad = sum(1 for e in strong if np.sign(e["_vote"]) != (1.0 if (e["_k"] + parity) % 2 == 0 else -1.0))
        else:
            bad, tot = _swap_rate(prep, p, hs, labels)
            if tot:
                parity = 0 if bad <= tot - bad else 1
                bad = min(bad, tot - bad)
            else:
                parity = 0 if sum(e["_vote"] * (1 if e["_k"] % 2 == 0 else -1) for e in allev) >= 0 else 1
        for e in allev:
            e["foot"] = "left" if (e["_k"] + parity) % 2 == 0 else "right"
            e["label_agreement"] = round(e["_vote"] if e["foot"] == "left" else -e["_vote"], 3)
            if not lead_foot or e.get("_orig"):
                # (at the added other-foot events of a step-to pass the leading heel is still
                # the first foot's: their votes say nothing about the labels)
                agree.append(e["label_agreement"])
        swaps.append((bad, tot))
        freq.append(_dominant_step_hz(env["sep"], fs))
        for e in allev:
            for k in ("_value", "_vote", "_k", "_gpos", "_orig", "_signal_t", "_signal_frame"):
                e.pop(k, None)
        events += allev
    for r in rejected:
        if r["foot"] is None:
            r.pop("foot")
    # make the trajectories the parameters read agree with the label-free feet
    from .preprocess import relabel_legs

    n_relabelled = relabel_legs(prep, label_swaps(prep, events))
    bad = sum(b for b, _ in swaps)
    tot = sum(t for _, t in swaps)
    prep.diagnostics.update(
        event_method="zeni-label-free",
        leg_swap_rate=(bad / tot) if tot else float("nan"),
        leg_swap_rate_per_pass=[(b / t) if t else float("nan") for b, t in swaps],
        rejected_events=rejected,
        foot_label_agreement=float(np.mean(agree)) if agree else float("nan"),
        step_frequency_hz_per_pass=freq,
        event_offsets_s=offsets if refine else {"HS": 0.0, "TO": 0.0},
        event_offsets_source=offsets_source if refine else "none (unrefined)",
        event_alpha=alpha if refine else None,
        n_frames_relabelled=n_relabelled,
        pose_backend=backend,
    )
    return sorted(events, key=lambda e: e["frame"])


def _double_support_events(
    prep: Prepared, p: Pass, env: dict, speeds: tuple, hs: list[dict], to: list[dict], offsets: dict
) -> list[dict]:
    """Contacts that the leading-heel / trailing-toe extrema miss, from the double-support
    periods (label-free).

    The leading heel stands still from its heel strike on and the trailing toe until its
    toe-off, so ``D = max(|ground speed of the leading heel|, |ground speed of the
    trailing toe|) / walking speed`` (``speeds`` = :func:`support_speeds` of ``env``) stays below
    :data:`DS_SPEED_FRAC` exactly in double support, whichever foot landed and however
    short its step. Each such period starts with a heel strike and ends with a toe-off.
    Used only when the pass has clearly more of them than detected heel strikes (at
    least :data:`DS_MIN_RATIO` x, counting periods that lie wholly inside the pass, with
    at least two detected heel strikes): a step-to or limping gait whose other foot never leads, where the
    extrema find one contact per stride (periods: below the threshold for at least 0.04 s,
    i.e. one sample at 25 fps or less, two at 30 and 50, three at 60, where a double
    support of ~0.1 s shows for a sample or two; runs less than 0.08 s apart merged). Each period's start (end) that
    follows (precedes) a swing within 0.15 s (``D >= 1``: a foot moving at least at the
    walking speed), with no detected
    HS (TO) within :data:`MIN_STEP_SPACING_S`, and 0.3-0.7 strides from the detected ones
    of its kind within a stride (the other foot's contact falls between two of the leading
    foot's), becomes one, timed by the foot that makes it (:func:`_ds_contact`; else at
    the sub-sample crossing of the threshold), plus the backend ``offsets``, ``source:
    "double-support"``. Returns the added events (foot None, with ``_value`` and
    ``_gpos``); empty when the gait alternates.
    """
    from .preprocess import runs

    lead, trail = env["lead"], env["trail"]
    gl, gt, v = speeds
    n = len(lead)
    if n < 5 or not (np.isfinite(v) and v > 0):
        return []
    d = np.fmax(gl, gt)
    fs = 1.0 / env["dt"]
    raw = runs(np.isfinite(d) & (d < DS_SPEED_FRAC))
    # one double support: runs split by a jitter blip of < 0.08 s are merged; a period
    # lasts at least 0.04 s (at 24-25 fps one sample: two would miss most of them)
    merged: list = []
    for a, b in raw:
        if merged and (a - merged[-1][1]) / fs < 0.08:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    periods = [(a, b) for a, b in merged if b - a >= max(1, int(np.ceil(0.04 * fs - 1e-6)))]
    inner = [(a, b) for a, b in periods if a > 0 and b < n and np.isfinite(d[a - 1]) and np.isfinite(d[b])]
    if len(hs) < 2 or len(inner) < DS_MIN_RATIO * len(hs):
        return []  # (one detected heel strike cannot show a one-per-stride rhythm)
    out: list[dict] = []
    thr = DS_SPEED_FRAC
    # the label-free events of a kind are one stride apart here: an added one lies in
    # the middle third-ish of a stride from its label-free neighbours (else it is an
    # edge or drop-out artefact, not the other foot's contact)
    starts = [env["tg"][0] + a * env["dt"] for a, _ in inner]
    stride_ds = 2.0 * float(np.median(np.diff(starts))) if len(starts) > 1 else np.nan

    def placed(t: float, have: list[dict]) -> bool:
        ts = sorted(e["t"] for e in have)
        stride = float(np.median(np.diff(ts))) if len(ts) > 1 else stride_ds
        if not ts or not np.isfinite(stride):
            return False
        near = [abs(t - x) for x in ts if abs(t - x) < stride]
        return bool(near) and all(0.3 * stride <= dd <= 0.7 * stride for dd in near)

    w = max(1, int(round(0.15 * fs)))

    def swing(lo: int, hi: int) -> bool:  # a foot moved at >= the walking speed there
        seg = d[max(lo, 0) : min(hi, n)]
        seg = seg[np.isfinite(seg)]
        return bool(len(seg)) and float(seg.max()) >= 1.0

    legs = {k: _leg_signals(prep, p, env, k) for k in ("HS", "TO")}
    for a, b in periods:
        for kind, ok, pos in (
            ("HS", a > 0 and np.isfinite(d[a - 1]) and swing(a - w, a), (a - 1) + (d[a - 1] - thr) / (d[a - 1] - d[a]) if a > 0 else np.nan),
            ("TO", b < n and np.isfinite(d[b]) and swing(b, b + w), (b - 1) + (thr - d[b - 1]) / (d[b] - d[b - 1]) if b < n else np.nan),
        ):
            if not ok or not np.isfinite(pos):
                continue
            pos = _ds_contact(legs[kind], kind, a if kind == "HS" else b, float(pos), v, w, LABEL_FREE_ALPHA[kind])
            frame = _grid_to_frame(prep, p, env, float(pos))
            t = _time(prep, frame) + offsets.get(kind, 0.0)
            if offsets.get(kind, 0.0):
                frame = _frame_of_time(prep, t)
            have = hs if kind == "HS" else to
            if any(abs(e["t"] - t) < MIN_STEP_SPACING_S for e in have + [x for x in out if x["event"] == kind]):
                continue
            if not placed(t, have):
                continue
            value = _interp(lead, pos) if kind == "HS" else -_interp(trail, pos)
            out.append({"foot": None, "event": kind, "frame": frame, "t": t, "time": t, "pass": p.index, "edited": False,
                        "extremum_frame": frame, "_value": value, "_gpos": float(pos), "source": "double-support"})  # fmt: skip
    return out


def _leg_signals(prep: Prepared, p: Pass, env: dict, kind: str) -> tuple:
    """The two legs' heel (HS) or toe (TO) positions relative to the pelvis along the walking
    direction (px) on ``env``'s grid, from ``prep.series`` (swap-corrected by continuity,
    filtered)."""
    sl = slice(p.start, p.stop)
    key = "hs" if kind == "HS" else "to"
    out = []
    for sd in SIDES:
        y = p.direction * (prep.foot_points[sd][key][sl, 0] - prep.pelvis[sl, 0])
        if not env["uniform"]:
            t = prep.t[sl] if prep.t is not None else prep.series.frames[sl] / prep.fps
            y = _to_grid(y, t, env["tg"])
        out.append(y)
    return tuple(out)


def _ds_contact(pts: tuple, kind: str, i: int, pos: float, v: float, w: int, alpha: float) -> float:
    """The instant of the contact that starts (HS) or ends (TO) a double-support period, from
    the foot that makes it, as :func:`refine_event` times the leading foot's.

    The period's own edge (``pos``, grid samples; ``i`` its first sample, HS, or the one
    after it, TO) is where the slower of the two supporting points stops or starts moving:
    at a step-to contact that is not the contact itself (the landing foot's toe comes down
    after its heel struck; the leading foot's heel rises before its toe leaves). ``pts``
    are the two legs' heel (HS) or toe (TO) signals (:func:`_leg_signals`), told apart by
    motion, not by their labels: the landing heel is the one that moved faster in the
    ``w`` samples before ``i``, and the HS the last crossing of its ground speed below
    ``alpha`` x the walking speed ``v`` (px per sample) within them; the leaving toe is the
    one that moves faster in the ``w`` samples after ``i``, and the TO the first crossing
    of its ground speed above ``alpha x v`` within them. The moving foot must average at
    least :data:`DS_SWING_MIN` x the walking speed there and the other at most
    :data:`DS_STAND_MAX` x; otherwise (labels swapped there, jitter), and without a
    crossing, ``pos`` is returned unchanged.
    """
    n = len(pts[0])
    moving = []
    for y in pts:
        if y is None or len(y) < 3:
            return pos
        u = np.abs(np.gradient(y) + v) / v
        seg = u[max(i - w, 0) : i] if kind == "HS" else u[i : min(i + w + 1, n)]
        seg = seg[np.isfinite(seg)]
        if not len(seg):
            return pos
        moving.append((float(seg.mean()), u))
    (m0, u0), (m1, u1) = moving
    # one foot swung (at least the walking speed) while the other stood (below half of it):
    # else the legs cannot be told apart here (labels swapped, jitter) and the edge stays
    if max(m0, m1) < DS_SWING_MIN or min(m0, m1) > DS_STAND_MAX:
        return pos
    u = u0 if m0 > m1 else u1
    if kind == "HS":
        x = _crossing(u, alpha, range(min(i + 1, n - 1), max(i - w, 0), -1), falling=True)
    else:
        x = _crossing(u, alpha, range(max(i, 1), min(i + w, n)), falling=False)
    return pos if x is None else x


def _other_foot_events(
    prep: Prepared, p: Pass, evs: list[dict], per_leg: list[dict], labels, kind: str, confirmed: bool = False,
    added_from: list[dict] | None = None,
) -> tuple[int, list[dict]]:  # fmt: skip
    """Events of a non-alternating (step-to, limping) gait that the label-free signals miss.

    In a step-to gait one foot lands beside, never ahead of, the other: the leading heel
    (trailing toe) of :func:`envelope_signals` is always the same foot's, so the label-free
    detector finds that foot's heel strikes (toe-offs) only, one per stride. It is
    recognised by two independent signs, both required: (1) the pose model's labels put
    the same foot at nearly every label-free event of ``kind`` (at least
    :data:`NON_ALTERNATING_MIN_EVENTS` events, >= 75 % with a clear vote, >= 90 % of those
    on one foot; in an alternating gait the votes alternate, and random label swaps do
    not make them agree); (2) the per-leg detector (:func:`zeni_events_labelled`, the
    model's continuity-corrected legs) finds an event of the **other** foot inside at
    least two thirds (and at least two) of the intervals between consecutive label-free
    events, between 25 % and 75 % of the interval (``confirmed``: not required for the
    toe-offs of a pass whose heel strikes met both). Then every per-leg event of the other
    foot that was seen (:func:`_single_seen`) and lies at least
    :data:`MIN_STEP_SPACING_S` from the label-free events is added, taken from
    ``added_from`` when given (the per-leg events with the per-foot extent check of
    :func:`_consistent_extent`: a limping leg's toe-offs, which the pooled check drops,
    are kept; ``per_leg``, with the pooled check, serves the recognition).

    Returns ``(sign, added)``: ``sign`` +1 / -1 when the label-free events are the left /
    right foot's (0: the gait alternates, nothing added) and the added events (dicts as
    the label-free ones, ``foot`` None, with ``_value`` and ``_gpos``).
    """
    if len(evs) < NON_ALTERNATING_MIN_EVENTS:
        return 0, []
    votes = np.array([_label_vote(prep, p, e, labels) for e in evs])
    clear = np.abs(votes) >= 0.5
    if clear.mean() < 0.75:
        return 0, []
    share = float(np.mean(np.sign(votes[clear]) > 0))
    if 0.1 < share < 0.9:
        return 0, []
    sign = 1 if share >= 0.9 else -1
    other = "right" if sign > 0 else "left"
    cand = [e for e in per_leg if e["foot"] == other and _single_seen(prep, e, kind)]
    ts = [e["t"] for e in evs]
    inside = 0
    for a, b in zip(ts, ts[1:]):
        if any(a + 0.25 * (b - a) <= c["t"] <= a + 0.75 * (b - a) for c in cand):
            inside += 1
    n_int = len(ts) - 1
    if not confirmed and (inside < 2 or inside < (2.0 / 3.0) * n_int):
        return 0, []
    if added_from is not None:
        cand = [e for e in added_from if e["foot"] == other and _single_seen(prep, e, kind)]
    added = []
    f0 = float(prep.series.frames[0])
    sd = "l" if other == "left" else "r"
    rel = p.direction * (prep.foot_points[sd]["hs" if kind == "HS" else "to"][:, 0] - prep.pelvis[:, 0])
    for c in cand:
        if not (p.start <= c["frame"] - f0 < p.stop):
            continue
        if any(abs(c["t"] - t) < MIN_STEP_SPACING_S for t in ts):
            continue
        val = _interp(np.nan_to_num(rel), c.get("extremum_frame", c["frame"]) - f0)
        added.append(dict(c, foot=None, _value=val if kind == "HS" else -val, _gpos=np.nan, source="other-foot"))
    return sign, added


def _one_to_per_step(hs: list[dict], to: list[dict], rejected: list) -> list[dict]:
    """At most one TO per step: between two consecutive heel strikes as many TOs as the
    interval holds step times (one, unless a heel strike between them was not detected or
    was rejected), before the first and after the last heel strike any number; in every
    case, of two TOs closer than :data:`TO_MIN_STEP_FRAC` x the step time (the median
    interval between heel strikes, else between TOs) the less extreme one is rejected.
    Returns the kept TOs sorted by time."""
    th = [e["t"] for e in hs]
    steps = np.diff(th) if len(th) > 1 else np.diff([e["t"] for e in to])
    step = float(np.median(steps)) if len(steps) else np.nan
    kept: list[dict] = []
    bounds = [-np.inf] + th + [np.inf]
    for a, b in zip(bounds, bounds[1:]):
        grp = sorted([e for e in to if a < e["t"] < b], key=lambda e: -e["_value"])
        if len(grp) <= 1:
            kept += grp
            continue
        if np.isfinite(a) and np.isfinite(b):
            slots = max(1, int(round((b - a) / step))) if np.isfinite(step) else 1
        else:
            slots = len(grp)
        take: list[dict] = []
        for e in grp:  # strongest first
            close = np.isfinite(step) and any(abs(e["t"] - x["t"]) < TO_MIN_STEP_FRAC * step for x in take)
            if len(take) < slots and not close:
                take.append(e)
            elif close or not np.isfinite(step):
                _reject(rejected, e, f"second TO within {TO_MIN_STEP_FRAC} step times of a stronger one")
            else:
                _reject(rejected, e, "second TO between two consecutive heel strikes")
        kept += take
    return sorted(kept, key=lambda e: e["t"])


def _single_seen(prep: Prepared, e: dict, kind: str) -> bool:
    """Whether the labelled foot point of a per-leg event was measured (not interpolated)
    around it: no gap of :data:`GAP_REJECT_S` within :data:`GAP_NEAR_S`."""
    side = "l" if e["foot"] == "left" else "r"
    x = _point(prep.raw, side, "hs" if kind == "HS" else "to")
    back = prep.diagnostics.get("backward_frames")
    seen = np.isfinite(x) | (np.asarray(back, bool) if back is not None else False)
    pos = e.get("_signal_frame", e["frame"]) - float(prep.series.frames[0])  # before the timing offset
    return _near_gap(seen, pos, prep.fps) < GAP_REJECT_S


def _frame_of_time(prep: Prepared, t: float) -> float:
    from .io import frame_at

    return frame_at(prep.series if prep.series.t is not None else _with_t(prep), t)
