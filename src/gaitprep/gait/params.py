"""Spatio-temporal gait parameters from gait events.

Definitions (Perry & Burnfield, *Gait Analysis: Normal and Pathological Function*, 2nd ed.
2010, ch. 1-2; Whittle, *Gait Analysis: An Introduction*, 4th ed. 2007, sec. 2.3). One
row per heel strike (HS) of foot F at time t, in its pass:

- step time: t minus the previous contralateral HS (the step that ends at t);
- stride time: t minus the previous HS of F (the stride that ends at t);
- stance: the next TO of F minus t (the gait cycle that starts at t);
- swing: the next HS of F minus that TO;
- double support (BiSP, both feet on the ground): the initial double-support period of
  the cycle starting at t, from t to the next TO of the other foot (one DS period; a
  full cycle has two, so DS% of the cycle = 2 x BiSP / stride time);
- single support (MonoSP, only F on the ground): from that contralateral TO to the next
  contralateral HS (= the other foot's swing);
- step length: along the direction of progression, the floor position of F's heel at
  its contact t minus that of the other heel at its previous contact (a heel's contact
  position is its median floor position over the first half of its stance, which needs
  a static camera, as in Health&Gait);
- stride length: the same for F's own previous contact.

Step and stride times are measured between the Zeni extrema of the events (before the
foot-speed refinement of :func:`gaitprep.gait.events.zeni_events`): an extremum of the
low-passed position is located more stably than a threshold crossing of its
derivative, and the refinement's shift, the same for every event of a kind, cancels in
an interval; stance, swing and support times, which pair an HS with a TO, use the
refined events.

A value whose events are missing (pass boundaries, dropped frames) is NaN; nothing is
extrapolated. **A gap is not a step**: an interval that spans a missed (or deleted)
contact is skipped, with the reason in the table's ``skipped`` column and in the clip
summary (:func:`gap_rules`). All times come from the events' ``t`` (s, the frame's real
timestamp, :func:`event_t`), so a variable frame rate is timed correctly. Cadence (steps/min) = 2 x 60 / mean stride time (two steps per stride;
stride times do not suffer from a timing bias that differs between the near and the far
foot, which makes consecutive step times alternate), or 60 / mean step time when no
stride is complete. The clip's mean step length is the mean of the left and the right
foot's mean step length (equal to half the mean stride; an odd number of an asymmetric
gait's long and short steps would otherwise bias it). Speed (m/s) of a pass = the sum
of its stride lengths / the sum of their stride times (a stride holds one step of each
foot, so the long and short steps of an asymmetric gait cannot bias it; a pass without a
complete stride uses its step lengths / step times): the floor distance covered by the
feet over the time taken, usable with the floor homography, which the pelvis, above the
floor, is not; the clip's speed is the time-weighted mean over passes.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from .events import position_at, side_of

STEP_COLUMNS = [
    "clip", "pass", "foot", "hs_frame", "hs_time", "to_frame", "to_time", "step_time_s", "stride_time_s",
    "stance_s", "swing_s", "single_support_s", "double_support_s", "step_length_cm", "stride_length_cm", "edited", "skipped",
]  # fmt: skip
#: summary keys (means) and the step-table column each is the mean of
MEAN_KEYS = {
    "step_length_cm": "step_length_cm",
    "stride_length_cm": "stride_length_cm",
    "step_time_s": "step_time_s",
    "stride_time_s": "stride_time_s",
    "stance_s": "stance_s",
    "swing_s": "swing_s",
    "single_support_s": "single_support_s",
    "double_support_s": "double_support_s",
}
MAX_STEP_S = 2.0
#: a step (contralateral HS to HS) at least this fraction of the clip's median stride time
#: spans a missed contact (see :func:`gap_rules`)
STEP_GAP_FRACTION = 0.8
#: a stride (HS to the same foot's next HS) longer than this many median strides spans a missed contact
STRIDE_GAP_FACTOR = 1.5
#: a stride / step that begins at a pass's first heel strike or ends at its last (where the
#: walker comes into or leaves the view and the pose is least reliable) is skipped when it
#: departs from the median of the clip's other strides / the same foot's other steps by
#: more than this fraction (see :func:`gap_rules`)
PASS_END_STRIDE_TOL = 0.15
PASS_END_STEP_TOL = 0.25
#: an inner step (neither end at a pass end) departing from the median of the same foot's
#: other steps by more than this fraction, with at least INNER_STEP_MIN_OTHERS of them, has
#: a spurious or mistimed contact at one of its ends (see :func:`gap_rules`, rule 5)
INNER_STEP_TOL = 0.4
#: a step *length* departs (rules 4 and 5) only by more than this fraction of the clip's
#: median stride length as well: the short step of a step-to gait (a few cm) is not judged
#: on a relative scale its contact-position noise exceeds
LENGTH_FLOOR_STRIDE_FRAC = 0.25
INNER_STEP_MIN_OTHERS = 3


def event_t(e: dict, fps: float) -> float:
    """Time (s) of an event: its ``t`` (from the frame's real timestamp, set by the event
    detector) when present, else ``frame / fps``."""
    t = e.get("t")
    if t is not None and np.isfinite(float(t)):
        return float(t)
    return float(e["frame"]) / fps


def extremum_t(e: dict, fps: float) -> float:
    """Time (s) of an event's unrefined Zeni extremum (``extremum_t``, else ``t`` shifted by
    the refinement's frame offset, else ``extremum_frame / fps``); the event's own time
    when it has no extremum (manually added)."""
    if e.get("extremum_t") is not None:
        return float(e["extremum_t"])
    if "extremum_frame" not in e:
        return event_t(e, fps)
    return event_t(e, fps) + (float(e["extremum_frame"]) - float(e["frame"])) / fps


def gap_rules() -> str:
    """The rules by which an interval spanning a missed contact is skipped (also in docs/gait_quality.md).

    1. *Step* (previous contralateral HS to this HS): skipped when there is no
       contralateral HS since this foot's previous HS (the other foot's contact is
       missing), or when it lasts at least :data:`STEP_GAP_FRACTION` (0.8) x the clip's
       median stride time. A step is by definition shorter than the stride that contains
       it (step L + step R = stride); a step as long as a stride means a contact of each
       foot is missing. 0.8 leaves room for a step-time asymmetry ratio (long/short step)
       up to 4, far beyond the 1.0-1.6 reported after stroke (Patterson et al. 2010,
       *Gait Posture* 31:241-246), so limping gait is not refused.
    2. *Stride* (this foot's previous HS to this HS): skipped when more than one
       contralateral HS lies in between (this foot's contact in the middle is missing),
       or when it lasts more than :data:`STRIDE_GAP_FACTOR` (1.5) x the clip's median
       stride: one missed contact makes it about 2 strides, while the stride-time
       coefficient of variation of healthy and of most pathological walks is 2-10 %
       (Hausdorff 2005, *J NeuroEng Rehabil* 2:19), so a 50 % excess is not variability.
    3. *Swing, single support*: skipped when the stride they lie in is skipped (they end
       at an HS after the gap); *stance, swing, single and double support* are skipped
       when longer than the clip's median stride (no phase lasts a whole cycle).

    4. *Pass ends*: a stride that begins at a pass's first HS or ends at its last is skipped
       when it departs from the median of the clip's other strides by more than
       :data:`PASS_END_STRIDE_TOL` (0.15), a step there when it departs from the median of
       the same foot's other steps by more than :data:`PASS_END_STEP_TOL` (0.25; per foot,
       so a limp's short and long steps are each compared with their own; with fewer than
       two of those, from half the median stride, which admits a long/short step ratio up
       to 1.67), each with at least two to compare with. A walker coming into or leaving
       the view is where a pose model fails most (a foot at the border, the legs drawn on
       one) and a first or last heel strike a few frames off makes a short step and
       stride; stride times vary by 2-10 % (CV) in healthy and most pathological walks
       (Hausdorff 2005), step times somewhat more, so these departures are not the walk's
       own variability. The heel strike so found mistimed voids every other value timed
       from it too: its stance and double support, the other step or stride that starts
       or ends there, the single support and swing that end at it. The same for the
       *lengths* of a pass end's stride (15 % from the median of the strides inside the
       passes) and step (25 % from this foot's steps inside the passes, else from the
       median stride less the other foot's median step; never from half the stride),
       where a step length must also depart by more than
       :data:`LENGTH_FLOOR_STRIDE_FRAC` (a quarter) of the median stride: a contact
       read from the other foot (a foot at the image border) is off by a whole step.

    5. *Inside a pass*: a step that departs from the median of the same foot's other steps
       by more than :data:`INNER_STEP_TOL` (0.4), with at least
       :data:`INNER_STEP_MIN_OTHERS` (3) of those, has a spurious or mistimed heel strike at
       one of its two ends (a pose-model failure mid-pass drawing two maxima of the leading
       heel where there was one contact). Which end is wrong cannot be told, so every
       value timed from either is skipped, as in rule 4. Per foot, so a limp's long and
       short steps are each compared with their own; 0.4 is four standard deviations of
       step time even at the 10 % coefficient of variation of pathological walks
       (Hausdorff 2005). Likewise a step length 40 % and a quarter of the median stride
       from the same foot's other steps (a contact placed wrong).

    The median stride is taken over strides with exactly one contralateral HS inside
    (clean ones), else over all candidate strides; with no stride at all only
    :data:`MAX_STEP_S` applies.
    """
    return gap_rules.__doc__


#: the contact position of a heel is its median position over this time after the HS
CONTACT_WINDOW_S = 0.15


def floor_x(prep, calib, foot: str, frame: float, kind: str = "hs") -> float:
    """Floor coordinate (cm) along the image x / walkway axis of a foot point at a frame; NaN without calibration."""
    if calib is None or (calib.px_per_cm is None and calib.homography is None):
        return np.nan
    p = position_at(prep, side_of(foot), kind, frame)
    return float(calib.to_floor(p[None])[0, 0])


def contact_x(prep, calib, foot: str, frame: float, until: Optional[float] = None) -> float:
    """Floor coordinate (cm) of a heel's contact point: the median of its floor position
    over the first half of the stance that starts at ``frame`` (``until`` = the foot's
    toe-off; :data:`CONTACT_WINDOW_S` when unknown). The heel rests on the floor from
    heel strike to heel-off, at about half of stance (30-40 % of the gait cycle, Perry &
    Burnfield 2010), and the median resists glitchy frames. Assumes a static camera."""
    if calib is None or (calib.px_per_cm is None and calib.homography is None):
        return np.nan
    end = frame + CONTACT_WINDOW_S * prep.fps
    if until is not None and np.isfinite(until):
        end = frame + 0.5 * (until - frame)
    fs = np.arange(frame, end + 1e-9, 1.0)
    pts = np.array([position_at(prep, side_of(foot), "hs", f) for f in fs])
    x = calib.to_floor(pts)[:, 0]
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else np.nan


def floor_direction(prep, calib, p) -> int:
    """+1 when the pass moves towards +X on the floor axis, else -1 (image direction when uncalibrated)."""
    if calib is None or calib.homography is None:
        return p.direction
    a = prep.foot_points["l"]["ankle"][p.start : p.stop]
    fl = calib.to_floor(a)[:, 0]
    fl = fl[np.isfinite(fl)]
    if len(fl) < 2:
        return p.direction
    return 1 if fl[-1] > fl[0] else -1


def _first(seq, cond):
    for e in seq:
        if cond(e):
            return e
    return None


def _last(seq, cond):
    for e in reversed(seq):
        if cond(e):
            return e
    return None


LENGTH_MODES = ("contacts", "instant")


def _floor_xs(prep, calib, side: str, kind: str, frames: np.ndarray) -> np.ndarray:
    pts = np.array([position_at(prep, side, kind, f) for f in frames])
    return calib.to_floor(pts)[:, 0]


def foot_length_cm(prep, calib, side: str, p, d: int) -> float:
    """Heel-to-toe length (cm along the floor axis) of a foot in a pass: the 90th percentile
    of its heel-to-toe distance, reached while the foot is flat on the floor."""
    sl = slice(p.start, p.stop)
    heel = calib.to_floor(prep.foot_points[side]["hs"][sl])[:, 0]
    toe = calib.to_floor(prep.foot_points[side]["to"][sl])[:, 0]
    v = d * (toe - heel)
    v = v[np.isfinite(v)]
    return float(np.percentile(v, 90)) if len(v) else np.nan


def instant_step_cm(prep, calib, foot: str, t: float, until: Optional[float], foot_len_other: float, d: int) -> float:
    """Step length measured within one instant range (pan-independent): during the double
    support that starts at F's heel strike ``t`` (up to the other foot's toe-off
    ``until``), both feet are planted; the step is F's heel minus the other foot's
    heel contact point, which lies one foot length behind its (planted) toe."""
    other = "l" if side_of(foot) == "r" else "r"
    end = t + 2.0 if until is None or not np.isfinite(until) else max(t, until)
    fs = np.arange(t, end + 1e-9, 1.0)
    diff = d * (_floor_xs(prep, calib, side_of(foot), "hs", fs) - _floor_xs(prep, calib, other, "to", fs))
    diff = diff[np.isfinite(diff)]
    return float(np.median(diff) + foot_len_other) if len(diff) else np.nan


def zeni_steps(
    events: list[dict], prep, calib, clip: str = "", edited_frames: Optional[list[float]] = None, lengths: str = "contacts"
) -> pd.DataFrame:
    """The per-step table (:data:`STEP_COLUMNS`) from HS/TO events (module docstring).

    ``edited_frames``: frames of manually added/removed events; a row is ``edited`` when
    one lies within its previous-stride-to-next-stride span.
    ``lengths``: ``contacts`` (default; heel contact positions compared across frames,
    needs a static camera) or ``instant`` (for a panning camera: each step measured
    while both feet are planted, :func:`instant_step_cm`; stride = the sum of the two
    steps that end at the stride's heel strikes).
    """
    if lengths not in LENGTH_MODES:
        raise ValueError(f"lengths must be one of {LENGTH_MODES}, not {lengths!r}")
    fps = prep.fps
    rows = []
    edited_frames = list(edited_frames or [])
    calibrated = calib is not None and (calib.px_per_cm is not None or calib.homography is not None)
    for p in prep.passes:
        d = floor_direction(prep, calib, p)
        flen = {s: foot_length_cm(prep, calib, s, p, d) for s in ("l", "r")} if (lengths == "instant" and calibrated) else {}
        step_of: dict = {}
        pe = sorted([e for e in events if e["pass"] == p.index], key=lambda e: e["frame"])
        hs_all = [e for e in pe if e["event"] == "HS"]
        to_all = [e for e in pe if e["event"] == "TO"]
        for e in hs_all:
            f, other = e["foot"], ("right" if e["foot"] == "left" else "left")
            t = e["frame"]
            prev_same = _last(hs_all, lambda x: x["foot"] == f and x["frame"] < t)
            next_same = _first(hs_all, lambda x: x["foot"] == f and x["frame"] > t)
            lo = prev_same["frame"] if prev_same else t - MAX_STEP_S * fps
            prev_other = _last(hs_all, lambda x: x["foot"] == other and lo < x["frame"] < t)
            # contralateral HS inside the stride that ends here / the one that starts here
            n_between = sum(1 for x in hs_all if x["foot"] == other and prev_same is not None and prev_same["frame"] < x["frame"] < t)
            n_between_next = sum(1 for x in hs_all if x["foot"] == other and next_same is not None and t < x["frame"] < next_same["frame"])
            hi = next_same["frame"] if next_same else t + 2 * MAX_STEP_S * fps
            to_same = _first(to_all, lambda x: x["foot"] == f and t < x["frame"] < hi)
            next_other = _first(hs_all, lambda x: x["foot"] == other and x["frame"] > t)
            hi_o = min(next_other["frame"] if next_other else np.inf, to_same["frame"] if to_same else np.inf, t + MAX_STEP_S * fps)
            to_other = _first(to_all, lambda x: x["foot"] == other and t < x["frame"] < hi_o)

            def dt(a, b):
                return event_t(b, fps) - event_t(a, fps) if (a is not None and b is not None) else np.nan

            def dt_x(a, b):  # between the Zeni extrema when both have one (see module docstring)
                if a is None or b is None:
                    return np.nan
                return extremum_t(b, fps) - extremum_t(a, fps)

            step_time = dt_x(prev_other, e)
            stride_time = dt_x(prev_same, e)
            if stride_time > 2 * MAX_STEP_S:
                stride_time = np.nan
            stance = dt(e, to_same)
            swing = dt(to_same, next_same) if to_same is not None else np.nan
            ds = dt(e, to_other)
            ss = dt(to_other, next_other) if (to_other is not None and next_other is not None and (to_same is None or next_other["frame"] < to_same["frame"])) else np.nan
            if lengths == "instant":
                step_len = np.nan
                if calibrated and prev_other is not None:
                    step_len = instant_step_cm(prep, calib, f, t, to_other["frame"] if to_other else None, flen[side_of(other)], d)
                step_of[id(e)] = step_len
                stride_len = np.nan
                if prev_other is not None and prev_same is not None and np.isfinite(stride_time):
                    stride_len = step_len + step_of.get(id(prev_other), np.nan)
            else:
                x_here = contact_x(prep, calib, f, t, to_same["frame"] if to_same else None)
                step_len = d * (x_here - contact_x(prep, calib, other, prev_other["frame"], t)) if prev_other else np.nan
                stride_len = d * (x_here - contact_x(prep, calib, f, prev_same["frame"], t)) if (prev_same and np.isfinite(stride_time)) else np.nan
            span_lo = prev_same["frame"] if prev_same else t
            span_hi = next_same["frame"] if next_same else t
            edited = bool(e.get("edited")) or any(span_lo <= x <= span_hi for x in edited_frames)
            rows.append(
                {
                    "clip": clip, "pass": p.index, "foot": f, "hs_frame": t, "hs_time": event_t(e, fps),
                    "to_frame": to_same["frame"] if to_same else np.nan, "to_time": event_t(to_same, fps) if to_same else np.nan,
                    "step_time_s": step_time, "stride_time_s": stride_time, "stance_s": stance, "swing_s": swing,
                    "single_support_s": ss, "double_support_s": ds, "step_length_cm": step_len, "stride_length_cm": stride_len,
                    "edited": edited, "skipped": "",
                    "_n_between": n_between, "_n_between_next": n_between_next,
                    "_no_other_since_prev": prev_same is not None and prev_other is None,
                    "_stride_at_end": prev_same is hs_all[0] or (prev_same is not None and e is hs_all[-1]),
                    "_step_at_end": prev_other is hs_all[0] or (prev_other is not None and e is hs_all[-1]),
                    # the heel strikes each value uses (rule 4 voids all values of a mistimed end contact)
                    "_hs": {"step": [prev_other, e], "stride": [prev_same, e], "stance": [e], "double_support": [e],
                            "single_support": [next_other], "swing": [next_same]},
                    "_ends": (hs_all[0], hs_all[-1]),
                }
            )  # fmt: skip
    _skip_gaps(rows)
    return _table(rows)


def _skip(r: dict, notes: list, cols, why: str) -> None:
    """NaN the finite values of ``cols`` in row ``r`` and note ``"<col>: <why>"`` for each."""
    for c in cols:
        if np.isfinite(r[c]):
            r[c] = np.nan
            notes.append(f"{c}: {why}")


def _skip_gaps(rows: list[dict]) -> None:
    """Apply :func:`gap_rules` in place: NaN the values that span a missed contact and say
    which and why in ``skipped`` (``"; "``-joined ``"<value>: <reason>"``)."""
    strides = np.array([r["stride_time_s"] for r in rows], float)
    clean = np.array([r["_n_between"] == 1 for r in rows], bool)
    ok = np.isfinite(strides)
    base = strides[ok & clean] if (ok & clean).any() else strides[ok]
    med = float(np.median(base)) if len(base) else np.nan
    # the stride that *starts* at each HS (for swing / single support, which end at the next HS)
    for r in rows:
        notes = []

        def skip(cols, why, r=r, notes=notes):
            _skip(r, notes, cols, why)

        if np.isfinite(med) and np.isfinite(r["step_time_s"]) and r["step_time_s"] >= STEP_GAP_FRACTION * med:
            skip(["step_time_s", "step_length_cm"], f"step of {r['step_time_s']:.2f} s >= {STEP_GAP_FRACTION} x median stride {med:.2f} s (missed contacts)")
        if r["_n_between"] >= 2:
            skip(["stride_time_s", "stride_length_cm"], f"{r['_n_between']} contralateral contacts inside the stride (a contact of this foot is missing)")
        elif np.isfinite(med) and np.isfinite(r["stride_time_s"]) and r["stride_time_s"] > STRIDE_GAP_FACTOR * med:
            skip(["stride_time_s", "stride_length_cm"], f"stride of {r['stride_time_s']:.2f} s > {STRIDE_GAP_FACTOR} x median {med:.2f} s (missed contact)")
        if r["_n_between_next"] >= 2:
            skip(["swing_s"], "the stride it lies in misses a contact of this foot")
        if np.isfinite(med):
            for c in ("stance_s", "swing_s", "single_support_s", "double_support_s"):
                if np.isfinite(r[c]) and r[c] > med:
                    skip([c], f"{r[c]:.2f} s > median stride {med:.2f} s (missed contact)")
        if r["_no_other_since_prev"]:
            notes.append("step_time_s: no contralateral contact since this foot's previous contact (a contact is missing)")
        r["skipped"] = "; ".join(notes)
    # rule 4, on what the gap rules left (a skipped value is no reference) ...
    mistimed: list = []
    lens = [r["stride_length_cm"] for r in rows if np.isfinite(r["stride_length_cm"])]
    stride_len_med = float(np.median(lens)) if lens else np.nan
    for r in rows:
        notes = [r["skipped"]] if r["skipped"] else []
        stride_off = False

        def skip(cols, why, r=r, notes=notes):
            _skip(r, notes, cols, why)

        # its time, then its length (a contact placed wrong: a foot at the border read
        # from the other foot, or found a few frames off where the foot still moves)
        for col, unit in (("stride_time_s", "s"), ("stride_length_cm", "cm")):
            if stride_off or not (r["_stride_at_end"] and np.isfinite(r[col])):
                continue
            others = [x[col] for x in rows if x is not r and np.isfinite(x[col])]
            inner = [x[col] for x in rows if x is not r and np.isfinite(x[col]) and not x["_stride_at_end"]]
            if col == "stride_length_cm" and len(inner) >= 2:
                others = inner  # (a length: the other pass ends may be misplaced too)
            ref = float(np.median(others)) if len(others) >= 2 else np.nan
            stride_off = bool(np.isfinite(ref) and abs(r[col] - ref) > PASS_END_STRIDE_TOL * abs(ref))
            if stride_off:
                skip(["stride_time_s", "stride_length_cm"], f"stride of {r[col]:.2f} {unit} at a pass end departs from the"
                     f" median {ref:.2f} {unit} of the others by more than {PASS_END_STRIDE_TOL:.0%} (a mistimed or misplaced first/last contact)")  # fmt: skip
        for col, unit in (("step_time_s", "s"), ("step_length_cm", "cm")):
            if not (r["_step_at_end"] and np.isfinite(r[col])):
                continue
            others = [x[col] for x in rows if x is not r and x["foot"] == r["foot"] and np.isfinite(x[col])]
            ref, what = (float(np.median(others)), "this foot's other steps") if len(others) >= 2 else (np.nan, "")
            if col == "step_length_cm":
                ref, what = _step_length_ref(rows, r, ref, what)
            strides = [x["stride_time_s"] for x in rows if np.isfinite(x["stride_time_s"])]
            if not np.isfinite(ref) and len(strides) >= 2 and col == "step_time_s":
                # (not for a length: a step-to gait's steps are far from half the stride)
                ref, what = 0.5 * float(np.median(strides)), "half the median stride"
            tol = PASS_END_STEP_TOL * abs(ref)
            if col == "step_length_cm":
                tol = max(tol, LENGTH_FLOOR_STRIDE_FRAC * stride_len_med)
            if np.isfinite(ref) and abs(r[col] - ref) > tol:
                by = f"{PASS_END_STEP_TOL:.0%}" + (_floor_note(stride_len_med) if col == "step_length_cm" else "")
                skip(["step_time_s", "step_length_cm"], f"step of {r[col]:.2f} {unit} at a pass end departs from the"
                     f" {ref:.2f} {unit} of {what} by more than {by} (a mistimed or misplaced first/last contact)")  # fmt: skip
                mistimed.append(_end_contact(r, "step"))
                break
        if stride_off:
            mistimed.append(_end_contact(r, "stride"))
        r["skipped"] = "; ".join(notes)
    # ... and every other value timed from that contact (its stance, double support, the
    # single support and swing that end at it, the other interval that starts or ends at it)
    _void_timed_from(rows, mistimed, "found mistimed or misplaced at a pass end")
    # rule 5, on what rules 1-4 left: an inner step far from the same foot's other steps
    suspect: list = []
    for r in rows:
        for col, unit in (("step_time_s", "s"), ("step_length_cm", "cm")):
            if r["_step_at_end"] or not np.isfinite(r[col]):
                continue
            others = [x[col] for x in rows if x is not r and x["foot"] == r["foot"] and np.isfinite(x[col])]
            if len(others) < INNER_STEP_MIN_OTHERS:
                continue
            ref = float(np.median(others))
            tol = INNER_STEP_TOL * abs(ref)
            if col == "step_length_cm":
                tol = max(tol, LENGTH_FLOOR_STRIDE_FRAC * stride_len_med)
            if abs(r[col] - ref) > tol:
                suspect.append((r, ref, col, unit))
                break
    for r, ref, col, unit in suspect:
        a, b = r["_hs"]["step"]
        by = f"{INNER_STEP_TOL:.0%}" + (_floor_note(stride_len_med) if col == "step_length_cm" else "")
        why = (f"inside the pass, a step of {r[col]:.2f} {unit} departs from the {ref:.2f} {unit} of this foot's other steps by"
               f" more than {by}: a spurious, mistimed or misplaced contact at frame {a['frame']:.0f} or {b['frame']:.0f}")
        notes = [r["skipped"]] if r["skipped"] else []
        _skip(r, notes, _USES["step"], why)
        r["skipped"] = "; ".join(notes)
    _void_timed_from(rows, [h for r, *_ in suspect for h in r["_hs"]["step"]], "one end of a step found far off inside the pass")


def _floor_note(stride_len_med: float) -> str:
    return f" and {LENGTH_FLOOR_STRIDE_FRAC:g} of the median stride ({LENGTH_FLOOR_STRIDE_FRAC * stride_len_med:.1f} cm)"


def _step_length_ref(rows: list[dict], r: dict, ref: float, what: str) -> tuple[float, str]:
    """The step length a pass-end step of row ``r`` is compared with (rule 4), from the
    steps and strides inside the passes (a pass end's own may be misplaced too): this
    foot's (at least two), else the median stride less the other foot's median step (a
    stride is the sum of its two steps, so a limp's unequal steps are each predicted),
    else ``(ref, what)``, this foot's other steps wherever they are."""
    inner = [x for x in rows if x is not r and not x["_step_at_end"]]
    same = [x["step_length_cm"] for x in inner if x["foot"] == r["foot"] and np.isfinite(x["step_length_cm"])]
    if len(same) >= 2:
        return float(np.median(same)), "this foot's steps inside the pass"
    other = [x["step_length_cm"] for x in inner if x["foot"] != r["foot"] and np.isfinite(x["step_length_cm"])]
    strides = [x["stride_length_cm"] for x in rows if not x["_stride_at_end"] and np.isfinite(x["stride_length_cm"])]
    if other and strides:
        return float(np.median(strides) - np.median(other)), "the median stride less the other foot's median step"
    return ref, what


def _void_timed_from(rows: list[dict], contacts: list, why: str) -> None:
    """Skip, in every row, each value timed from one of the heel strikes ``contacts`` (the
    row's ``_hs``), noting ``"timed from the heel strike at frame N, <why>"``."""
    for r in rows:
        notes = [r["skipped"]] if r["skipped"] else []
        for m in contacts:
            for value, cols in _USES.items():
                if any(h is m for h in r["_hs"][value]):
                    _skip(r, notes, cols, f"timed from the heel strike at frame {m['frame']:.0f}, {why}")
        r["skipped"] = "; ".join(notes)


#: the step-table columns of each value in a row's ``_hs`` (the heel strikes it is timed from)
_USES = {"step": ["step_time_s", "step_length_cm"], "stride": ["stride_time_s", "stride_length_cm"], "stance": ["stance_s"],
         "double_support": ["double_support_s"], "single_support": ["single_support_s"], "swing": ["swing_s"]}  # fmt: skip


def _end_contact(r: dict, value: str) -> dict:
    """The pass-end heel strike of row ``r``'s step or stride interval: its first HS when
    the interval starts at the pass's first contact, else its last."""
    start = r["_hs"][value][0]
    first, last = r["_ends"]
    return first if start is first else last


def ankle_distance_steps(peaks: list[dict], prep, calib, clip: str = "") -> pd.DataFrame:
    """Per-step table of the Health&Gait ankle-distance method.

    Each peak of the ankle-to-ankle distance is a step: ``hs_frame`` is the peak,
    ``step_length_cm`` the peak distance, ``step_time_s`` the interval to the previous
    peak, ``stride_length_cm`` the floor displacement of the rear ankle between the
    previous peak and this one (the published code's stride), ``stride_time_s`` the
    interval to the peak before the previous. TO, stance, swing, single and double
    support are not defined by the method (NaN).
    """
    fps = prep.fps
    rows = []
    for p in prep.passes:
        d = floor_direction(prep, calib, p)
        pk = [e for e in peaks if e["pass"] == p.index]
        for i, e in enumerate(pk):
            prev = pk[i - 1] if i >= 1 else None
            prev2 = pk[i - 2] if i >= 2 else None
            stride_len = np.nan
            if prev is not None:
                rear = prev["rear_foot"]
                stride_len = d * (floor_x(prep, calib, rear, e["frame"], "ankle") - floor_x(prep, calib, rear, prev["frame"], "ankle"))
            rows.append(
                {
                    "clip": clip, "pass": p.index, "foot": e["foot"], "hs_frame": e["frame"], "hs_time": event_t(e, fps),
                    "to_frame": np.nan, "to_time": np.nan,
                    "step_time_s": event_t(e, fps) - event_t(prev, fps) if prev else np.nan,
                    "stride_time_s": event_t(e, fps) - event_t(prev2, fps) if prev2 else np.nan,
                    "stance_s": np.nan, "swing_s": np.nan, "single_support_s": np.nan, "double_support_s": np.nan,
                    "step_length_cm": e["distance_cm"] if calib is not None and (calib.px_per_cm or calib.homography is not None) else np.nan,
                    "stride_length_cm": stride_len, "edited": bool(e.get("edited")), "skipped": "",
                }
            )  # fmt: skip
    return _table(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([{c: r.get(c) for c in STEP_COLUMNS} for r in rows], columns=STEP_COLUMNS)
    for c in STEP_COLUMNS:
        if c in ("clip", "foot", "skipped"):
            df[c] = df[c].astype(str)
        elif c == "edited":
            df[c] = df[c].astype(bool)
        elif c == "pass":
            df[c] = df[c].astype("int64")
        else:
            df[c] = df[c].astype("float64")
    return df


def _nanmean(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")


def summarize(steps: pd.DataFrame, prep) -> dict:
    """Clip means of every parameter, cadence and speed (module docstring). NaN when undefined."""
    out = {k: _nanmean(steps[c]) for k, c in MEAN_KEYS.items()}
    # mean step length balanced over the feet: the mean of the left and the right foot's
    # mean step (= half the mean stride), so that an odd number of the long and short
    # steps of an asymmetric (limping, step-to) gait cannot bias it
    if "foot" in steps:
        per = [_nanmean(steps.loc[steps["foot"] == f, "step_length_cm"]) for f in ("left", "right")]
        if all(np.isfinite(x) for x in per):
            out["step_length_cm"] = 0.5 * (per[0] + per[1])
    st = _nanmean(steps["step_time_s"])
    sr = _nanmean(steps["stride_time_s"])
    if np.isfinite(sr) and sr > 0:
        out["cadence_steps_per_min"] = 120.0 / sr
    else:
        out["cadence_steps_per_min"] = 60.0 / st if np.isfinite(st) and st > 0 else float("nan")
    num = den = 0.0
    for _, g in steps.groupby("pass"):
        # strides where there are any: a stride holds one step of each foot, so an
        # asymmetric (limping, step-to) gait's long and short steps cannot bias it
        for ln, tm in (("stride_length_cm", "stride_time_s"), ("step_length_cm", "step_time_s")):
            ok = np.isfinite(g[ln]) & np.isfinite(g[tm])
            if ok.sum() >= 1:
                num += float(g.loc[ok, ln].sum())
                den += float(g.loc[ok, tm].sum())
                break
    out["speed_m_per_s"] = num / den / 100.0 if den > 0 else float("nan")
    return out


#: parameters reported per foot, with their symmetry index and ratio (summary ``per_foot``)
PER_FOOT_KEYS = ("step_length_cm", "step_time_s", "stance_s", "swing_s", "single_support_s", "double_support_s")
#: fewest values for a coefficient of variation
MIN_CV_N = 3


def symmetry_index(right: float, left: float) -> float:
    """Symmetry index (%) of Robinson, Herzog & Nigg (1987, *J Manipulative Physiol Ther*
    10:172-176): ``SI = 100 x (X_R - X_L) / (0.5 x (X_R + X_L))``; 0 = symmetric, positive
    when the right value is larger. NaN when either is missing or their sum is 0."""
    if not (np.isfinite(right) and np.isfinite(left)) or right + left == 0:
        return float("nan")
    return float(100.0 * (right - left) / (0.5 * (right + left)))


def symmetry_ratio(right: float, left: float) -> float:
    """Symmetry ratio ``max(X_R, X_L) / min(X_R, X_L)`` (>= 1; 1 = symmetric), the form
    recommended by Patterson et al. (2010, *Gait Posture* 31:241-246). NaN when undefined."""
    if not (np.isfinite(right) and np.isfinite(left)) or min(right, left) <= 0:
        return float("nan")
    return float(max(right, left) / min(right, left))


def coefficient_of_variation(x) -> float:
    """CV (%) = 100 x SD (ddof=1) / mean over the finite values, the variability measure of
    Hausdorff (2005, *J NeuroEng Rehabil* 2:19, e.g. stride-time CV). NaN with fewer than
    :data:`MIN_CV_N` values or a zero mean."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < MIN_CV_N or x.mean() == 0:
        return float("nan")
    return float(100.0 * x.std(ddof=1) / abs(x.mean()))


def foot_summary(steps: pd.DataFrame) -> dict:
    """Per-foot means, symmetry and variability of the steps table.

    Returns ``{"per_foot": {"left": {key: mean}, "right": {...}}, "symmetry_index_pct":
    {key: SI}, "symmetry_ratio": {key: ratio}, "cv_pct": {key: CV}, "n_values": {key:
    finite values}}``, keys :data:`PER_FOOT_KEYS` for the per-foot parts and :data:`MEAN_KEYS`
    for CV and n. A row's foot is the foot of its heel strike: the *left step* is the step
    that ends at a left HS (left foot in front); left stance/swing are the left foot's;
    left single support is the time only the left foot is on the ground.
    """
    out = {"per_foot": {}, "symmetry_index_pct": {}, "symmetry_ratio": {}, "cv_pct": {}, "n_values": {}}
    for foot in ("left", "right"):
        g = steps[steps["foot"] == foot]
        out["per_foot"][foot] = {k: _nanmean(g[k]) for k in PER_FOOT_KEYS}
    for k in PER_FOOT_KEYS:
        r, l_ = out["per_foot"]["right"][k], out["per_foot"]["left"][k]
        out["symmetry_index_pct"][k] = symmetry_index(r, l_)
        out["symmetry_ratio"][k] = symmetry_ratio(r, l_)
    for k, c in MEAN_KEYS.items():
        out["cv_pct"][k] = coefficient_of_variation(steps[c])
        out["n_values"][k] = int(np.isfinite(np.asarray(steps[c], float)).sum())
    return out
