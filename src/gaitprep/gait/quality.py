"""Per-clip quality record and honest refusal (docs/gait_quality.md).

:func:`quality_record` measures how far a clip's parameters can be trusted and decides,
by the documented thresholds below, which of the clip means that feed
``gait_parameters_estimation.csv`` are *refused*: such a mean is written as null in the
summary's ``means`` (so the CSV cell stays empty, or is the mean of the participant's other
clips of that gait type), its computed value is kept in ``quality.computed`` and the
reason is in ``quality.refused`` and in ``warnings``.

Nothing here refuses asymmetric gait: no check compares the left and the right foot.
Every threshold is a plausibility range of one value of the clip (or the agreement of two
independent estimates of the same value), each with its source.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

#: plausible walking ranges: key -> (low, high, unit, source). Outside, the value is
#: flagged and the means that depend on it are refused (:data:`REFUSES`).
PLAUSIBLE = {
    "cadence_steps_per_min": (
        40.0, 160.0, "steps/min",
        "adults walk at about 100 steps/min at moderate and 130 at vigorous intensity (Tudor-Locke et al. "
        "2019, CADENCE-adults, Int J Behav Nutr Phys Act 16:8); well above 160 people run; 40 leaves room "
        "for very slow pathological gait (gaitprep's bounds around these)",
    ),
    "speed_m_per_s": (
        0.1, 2.5, "m/s",
        "normal comfortable speed 1.0-1.5 m/s and maximal walking up to ~2.5 m/s (Bohannon & Andrews "
        "2011, Physiotherapy 97:182-189; Bohannon 1997, Age Ageing 26:15-19); below 0.1 m/s is not a walk",
    ),
    "step_length_over_height": (
        0.08, 0.60, "step length / stature",
        "stride length scales with stature (Grieve & Gear 1966, Ergonomics 9:379-399); adult steps are "
        "about 0.35-0.45 x stature at comfortable speed. gaitprep's bounds: the lower one leaves room for "
        "shuffling and step-to gait (a held-out limping video, its near foot landing 8 cm behind the far "
        "one, has 0.138: refused under the first bound tried, 0.15) and the upper one for fast walking. "
        "With height calibration the ratio is one of image lengths (step px / body px), so it checks the "
        "pose and the events (a stride drawn a fraction or a multiple of the body's), not the stated "
        "stature, which the measures check bounds (50-250 cm)",
    ),
    "stance_fraction": (
        0.45, 0.85, "of the gait cycle",
        "stance is ~60 % of the cycle in normal walking (Perry & Burnfield 2010, ch. 1), falls towards "
        "50 % at fast speeds and rises to 70-80 % on the sound side of hemiparetic gait",
    ),
    "walk_ratio_over_height": (
        0.10, 0.55, "(step length / stature) per 100 steps/min",
        "the walk ratio (step length / cadence) is nearly constant across walking speeds in adults (Sekiya & "
        "Nagasaki 1998, Gait Posture 7:225-227), about 0.0065 m per step/min, i.e. ~0.37 in these units for "
        "a 1.7 m adult, and lower in shuffling gait (~0.19 on the shared circumduction video). A frame-rate "
        "header at half the true rate halves the cadence (the step length, measured in space, does not "
        "change) and doubles this ratio: the upper bound catches it for any true ratio above 0.28 (typical "
        "adult walking); a header at twice the rate is caught by the cadence range when the true cadence "
        "exceeds 80. The lower bound only rejects a stride far shorter than any walk. gaitprep's bounds",
    ),
    "body_height_fraction": (
        0.15, 1.0, "of the frame height",
        "gaitprep's own bound, not from the literature: a nose-to-ankle height under 15 % of the frame "
        "leaves a few px per foot segment for the pose model, and a body taller than the frame cannot "
        "be fully in view",
    ),
}  # fmt: skip

#: summary ``means`` keys (the six CSV parameters) refused by a failed check
TEMPORAL = ("cadence_steps_per_min", "single_support_s", "double_support_s", "speed_m_per_s")
SPATIAL = ("step_length_cm", "stride_length_cm", "speed_m_per_s")
CSV_KEYS = ("step_length_cm", "stride_length_cm", "cadence_steps_per_min", "single_support_s", "double_support_s", "speed_m_per_s")
REFUSES = {
    "cadence_steps_per_min": TEMPORAL,
    "speed_m_per_s": ("speed_m_per_s",),
    "step_length_over_height": SPATIAL,
    "stance_fraction": ("single_support_s", "double_support_s"),
    "walk_ratio_over_height": TEMPORAL,  # lengths are checked on their own (step / stature)
    "body_height_fraction": CSV_KEYS,
    "cadence_agreement": CSV_KEYS,
    "double_support_rhythm": CSV_KEYS,
    "step_to_labels": SPATIAL,
    "pose_coverage": CSV_KEYS,
}

#: the event-based and the spectral cadence must agree within this relative difference
CADENCE_AGREEMENT = 0.15
#: fewest gait cycles a pass must span for its spectral cadence
MIN_CYCLES = 1.5
#: the event cadence may not fall below this fraction of the double-support rhythm
#: (:func:`double_support_cadence`): about half means one foot's contacts were not found
MIN_DS_RHYTHM_RATIO = 0.7
#: nor rise above this multiple of it: every step holds one double-support period, so more
#: heel strikes than double-support dips are spurious ones (a pose-model failure drawing an
#: extra maximum of the leading heel). The rhythm's own error reaches ~10 % on a limping
#: walk (a synthetic walker of set C: 1.11 with the events right); the largest ratio of a
#: clip whose numbers were written, over every seed set, the labelled real videos and the
#: rendered walkers, is 1.11 (bench/gait_accuracy.py, docs/gait_quality.md)
MAX_DS_RHYTHM_RATIO = 1.2
#: share of a pass's frames with pose (before gap filling) below which its parameters are refused
MIN_POSE_COVERAGE = 0.6
#: above this share of frames with swapped leg labels, per-foot values are flagged (not refused:
#: the CSV parameters do not depend on which foot is which)
MAX_LEG_SWAP_RATE = 0.3
#: in a step-to pass the contact positions are read from the model's leg labels: below this
#: mean label agreement (or above MAX_LEG_SWAP_RATE) step, stride and speed are refused
MIN_STEP_TO_LABEL_AGREEMENT = 0.4


def _times(prep) -> np.ndarray:
    """Seconds of each frame of the series: ``prep.t`` (the clip's frame timestamps when the pose provenance has
    them, see :func:`gaitprep.gait.io.attach_times`), else ``frames / fps``."""
    t = getattr(prep, "t", None)
    if t is not None and len(t) == prep.series.n:
        return np.asarray(t, float)
    return prep.series.frames.astype(float) / prep.fps


def spectral_cadence(prep) -> dict:
    """Cadence (steps/min) from the dominant frequency of the inter-foot distance, independent
    of the detected events.

    Per pass, the signed fore-aft distance between the two ankles (``x_left - x_right``,
    px, after gaitprep's cleaning and low-pass; pan and walking cancel in the difference)
    oscillates once per stride. Its dominant frequency f (Hz) on 0.25-2.5 Hz is the peak of
    the Lomb-Scargle periodogram (:func:`scipy.signal.lombscargle`, which takes the frames'
    real times and so handles a variable frame rate; a dense frequency grid gives sub-bin
    precision on passes of a few strides). Cadence = 2 x 60 x f. Passes shorter than
    :data:`MIN_CYCLES` cycles are skipped; the clip value is the duration-weighted mean.

    Returns ``{"cadence_steps_per_min": float | None, "passes": [{"index", "cadence", "cycles"}]}``.
    """
    from scipy.signal import lombscargle

    t_all = _times(prep)
    freqs = np.linspace(0.25, 2.5, 2251)
    out = []
    for p in prep.passes:
        t = t_all[p.start : p.stop]
        d = prep.foot_points["l"]["ankle"][p.start : p.stop, 0] - prep.foot_points["r"]["ankle"][p.start : p.stop, 0]
        ok = np.isfinite(d) & np.isfinite(t)
        if ok.sum() < 8:
            continue
        t, d = t[ok], d[ok] - np.mean(d[ok])
        pw = lombscargle(t, d, 2 * np.pi * freqs)
        f = float(freqs[int(np.argmax(pw))])
        cycles = f * (t[-1] - t[0])
        out.append({"index": p.index, "cadence": 120.0 * f, "cycles": round(cycles, 2), "duration_s": float(t[-1] - t[0])})
    good = [q for q in out if q["cycles"] >= MIN_CYCLES]
    cad = float(np.average([q["cadence"] for q in good], weights=[q["duration_s"] for q in good])) if good else None
    return {"cadence_steps_per_min": cad, "passes": out}


def double_support_cadence(prep) -> dict:
    """Cadence (steps/min) from the rhythm of the double-support periods, label-free and
    independent of the detected events.

    Per pass, on the label-free signals of :func:`gaitprep.gait.events.envelope_signals`
    (the leading heel and the trailing big toe along the walking direction, relative to
    the pelvis): each point's ground speed is its pelvis-relative velocity plus the walking
    speed (estimated from the stance foot's backward motion). Both are near zero only in
    double support (the leading heel has landed, the trailing toe has not left), and one
    of them is high whenever a foot swings, so ``D = max(|ground speed|) / walking speed``
    dips once per step, whichever foot steps and however short its step: a step-to or
    limping gait whose other foot never leads (and whose contacts the leading-heel /
    inter-foot-distance estimators see once per stride) still shows two dips per stride.
    The dominant frequency f of ``D`` on 0.5-4 Hz (Lomb-Scargle periodogram) gives
    cadence = 60 f. Passes spanning fewer than :data:`MIN_CYCLES` strides are skipped; the
    clip value is the duration-weighted mean.

    Returns ``{"cadence_steps_per_min": float | None, "passes": [{"index", "cadence", "cycles", "duration_s"}]}``.
    """
    from scipy.signal import lombscargle

    from .events import pass_envelope, support_speeds

    freqs = np.linspace(0.5, 4.0, 3501)
    out = []
    for p in prep.passes:
        env = pass_envelope(prep, p)
        tg = env["tg"]
        if len(tg) < 10:
            continue
        gl, gt, v = support_speeds(env)
        if not (np.isfinite(v) and v > 0):
            continue
        d = np.fmax(gl, gt)
        ok = np.isfinite(d)
        if ok.sum() < 10:
            continue
        t, y = tg[ok], d[ok] - np.mean(d[ok])
        f = float(freqs[int(np.argmax(lombscargle(t, y, 2 * np.pi * freqs)))])
        dur = float(t[-1] - t[0])
        out.append({"index": p.index, "cadence": 60.0 * f, "cycles": round(0.5 * f * dur, 2), "duration_s": dur})
    good = [q for q in out if q["cycles"] >= MIN_CYCLES]
    cad = float(np.average([q["cadence"] for q in good], weights=[q["duration_s"] for q in good])) if good else None
    return {"cadence_steps_per_min": cad, "passes": out}


def pose_coverage(prep) -> list[dict]:
    """Per pass, the share of its frames with both hips and both ankles detected (before gap
    filling). From ``prep.diagnostics["pose_coverage"]`` when the preprocessing provides it."""
    diag = getattr(prep, "diagnostics", None) or {}
    if diag.get("pose_coverage") is not None:
        cov = diag["pose_coverage"]
        if isinstance(cov, dict):
            return [{"index": int(k), "share": float(v)} for k, v in cov.items()]
        return [c if isinstance(c, dict) else {"index": i, "share": float(c)} for i, c in enumerate(cov)]
    raw = prep.raw
    names = [n for n in ("l_hip", "r_hip", "l_ankle", "r_ankle") if n in raw.xy]
    out = []
    for p in prep.passes:
        sl = slice(p.start, p.stop)
        have = np.ones(p.stop - p.start, bool)
        for n in names:
            have &= np.isfinite(raw.xy[n][sl, 0])
        out.append({"index": p.index, "share": float(have.mean()) if len(have) else 0.0})
    return out


def leg_swap_rate(prep) -> Optional[float]:
    """Share of the passes' frames whose leg labels were swapped by the pose model
    (``prep.diagnostics["leg_swap_rate"]``, else ``n_swaps_fixed`` / frames in passes)."""
    diag = getattr(prep, "diagnostics", None) or {}
    if diag.get("leg_swap_rate") is not None:
        return float(diag["leg_swap_rate"])
    n = sum(p.stop - p.start for p in prep.passes)
    return float(getattr(prep, "n_swaps_fixed", 0)) / n if n else None


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def quality_record(steps, means: dict, prep, calib, n_steps: int, gaps: list[dict], edits: int = 0) -> tuple[dict, dict]:
    """The clip's quality record and the refused means.

    Args:
        steps: the per-step table (:data:`gaitprep.gait.params.STEP_COLUMNS`).
        means: the clip means (summary ``means``) as computed.
        prep: the :class:`~gaitprep.gait.preprocess.Prepared` clip (its optional
            ``diagnostics``: ``leg_swap_rate``, ``rejected_events``, ``pose_coverage``).
        calib: the clip's :class:`~gaitprep.gait.calibration.Calibration`.
        n_steps: steps with a step time.
        gaps: intervals skipped as spanning a missed contact (``{"hs_frame", "foot", "what"}``).
        edits: number of manual event edits applied.

    Returns:
        ``(record, refused)``: the record (JSON-able; layout in docs/gait_quality.md) and
        ``{means key: reason}`` for every mean that must not be written.
    """
    diag = getattr(prep, "diagnostics", None) or {}
    checks: dict = {}
    refused: dict = {}

    def refuse(check: str, why: str):
        for k in REFUSES[check]:
            refused.setdefault(k, f"{check}: {why}")

    def rng(name: str, value):
        lo, hi, unit, src = PLAUSIBLE[name]
        if value is None or not np.isfinite(value):
            checks[name] = {"value": None, "range": [lo, hi], "unit": unit, "ok": None}
            return None
        ok = bool(lo <= value <= hi)
        checks[name] = {"value": float(value), "range": [lo, hi], "unit": unit, "ok": ok}
        if not ok:
            refuse(name, f"{_fmt(value)} {unit} outside the plausible {lo:g}-{hi:g}")
        return ok

    cad = means.get("cadence_steps_per_min", np.nan)
    rng("cadence_steps_per_min", cad)
    rng("speed_m_per_s", means.get("speed_m_per_s", np.nan))
    stature = (calib.info or {}).get("height_cm") if calib is not None else None
    step = means.get("step_length_cm", np.nan)
    if stature:
        rng("step_length_over_height", step / float(stature))
    stance = np.asarray(steps["stance_s"], float)
    stride = np.asarray(steps["stride_time_s"], float)
    sr = np.nanmean(stride) if np.isfinite(stride).any() else np.nan
    rng("stance_fraction", np.nanmean(stance) / sr if (np.isfinite(stance).any() and np.isfinite(sr)) else np.nan)
    if stature:
        rng("walk_ratio_over_height", (step / float(stature)) / (cad / 100.0) if (np.isfinite(step) and np.isfinite(cad) and cad > 0) else np.nan)
    body_px = (calib.info or {}).get("body_px") if calib is not None else None
    if body_px is None:
        from .calibration import body_height_px

        body_px = body_height_px(prep.series, prep.passes)
    frame_h = prep.series.height
    if body_px and frame_h:
        rng("body_height_fraction", body_px / float(frame_h))

    spec = spectral_cadence(prep)
    ds = double_support_cadence(prep)
    # a step-to pass keeps the model's leg labels, whose swaps garble the signed inter-foot
    # distance: there the independent estimate is the double-support rhythm
    step_to_passes = list(diag.get("step_to_passes") or [])
    ref, ref_name = (ds, "the double-support rhythm") if step_to_passes and ds["cadence_steps_per_min"] else (spec, "the inter-foot distance")
    agree = None
    if ref["cadence_steps_per_min"] is not None and np.isfinite(cad):
        rel = abs(cad - ref["cadence_steps_per_min"]) / ref["cadence_steps_per_min"]
        agree = bool(rel <= CADENCE_AGREEMENT)
        checks["cadence_agreement"] = {"events": float(cad), "spectral": ref["cadence_steps_per_min"], "relative_difference": float(rel),
                                       "max": CADENCE_AGREEMENT, "ok": agree, "reference": ref_name}  # fmt: skip
        if not agree:
            refuse("cadence_agreement", f"event-based cadence {cad:.1f} vs {ref['cadence_steps_per_min']:.1f} steps/min from "
                   f"{ref_name} ({100 * rel:.0f} % apart, > {100 * CADENCE_AGREEMENT:.0f} %): events missed or spurious")  # fmt: skip
    else:
        checks["cadence_agreement"] = {"events": float(cad) if np.isfinite(cad) else None, "spectral": ref["cadence_steps_per_min"], "ok": None,
                                       "reference": ref_name}  # fmt: skip

    if ds["cadence_steps_per_min"] is not None and np.isfinite(cad):
        ratio = cad / ds["cadence_steps_per_min"]
        ok = bool(MIN_DS_RHYTHM_RATIO <= ratio <= MAX_DS_RHYTHM_RATIO)
        checks["double_support_rhythm"] = {"events": float(cad), "double_support": ds["cadence_steps_per_min"], "ratio": float(ratio),
                                           "min": MIN_DS_RHYTHM_RATIO, "max": MAX_DS_RHYTHM_RATIO, "ok": ok}  # fmt: skip
        what = f"event-based cadence {cad:.1f} is {ratio:.2f} x the {ds['cadence_steps_per_min']:.1f} steps/min of the double-support rhythm"
        if ratio < MIN_DS_RHYTHM_RATIO:
            refuse("double_support_rhythm", f"{what}: one foot's contacts were not found (step-to or limping gait?)")
        elif ratio > MAX_DS_RHYTHM_RATIO:
            refuse("double_support_rhythm", f"{what}: more heel strikes than double-support periods, spurious contacts "
                   "(a pose-model failure? check the events in the QC plot)")  # fmt: skip
    else:
        checks["double_support_rhythm"] = {"events": float(cad) if np.isfinite(cad) else None,
                                           "double_support": ds["cadence_steps_per_min"], "ok": None}  # fmt: skip

    cov = pose_coverage(prep)
    if cov:
        w = [max(p.stop - p.start, 1) for p in prep.passes] if len(prep.passes) == len(cov) else None
        share = float(np.average([c["share"] for c in cov], weights=w))
        ok = share >= MIN_POSE_COVERAGE
        checks["pose_coverage"] = {"value": share, "min": MIN_POSE_COVERAGE, "ok": ok}
        if not ok:
            refuse("pose_coverage", f"pose in {100 * share:.0f} % of the pass frames (< {100 * MIN_POSE_COVERAGE:.0f} %)")
    swap = leg_swap_rate(prep)
    # step-to passes whose leg labels were not corrected (the other foot's events taken
    # from its own labelled signal; a pass with double-support events is relabelled from
    # its events like an alternating one: :func:`gaitprep.gait.events.label_swaps`)
    step_to = [i for i in diag.get("step_to_passes") or [] if i not in (diag.get("step_to_relabelled") or [])]
    if step_to:
        # a step-to pass keeps the pose model's leg labels (the feet cannot be told from
        # which one leads): its contact positions are only as good as those labels
        agree = diag.get("foot_label_agreement")
        bad = (swap is not None and np.isfinite(swap) and swap > MAX_LEG_SWAP_RATE) or (
            agree is not None and np.isfinite(agree) and agree < MIN_STEP_TO_LABEL_AGREEMENT
        )
        checks["step_to_labels"] = {"passes": step_to, "leg_swap_rate": swap, "foot_label_agreement": agree,
                                    "max_swap": MAX_LEG_SWAP_RATE, "min_agreement": MIN_STEP_TO_LABEL_AGREEMENT, "ok": not bad}  # fmt: skip
        if bad:
            refuse("step_to_labels", f"non-alternating (step-to) pass(es) {step_to}: contact positions come from the pose "
                   f"model's leg labels, which disagree with the events (swap rate {_fmt(swap)}, agreement {_fmt(agree)})")  # fmt: skip
    flags = []
    all_step_to = list(diag.get("step_to_passes") or [])
    if all_step_to and any(k not in refused for k in ("single_support_s", "double_support_s")):
        flags.append(
            f"non-alternating (step-to) pass(es) {all_step_to}: the other foot's contacts were recovered (from the "
            "double-support periods or its own signal), so single and double support are less precise than in an "
            "alternating pass (docs/gait.md, Limits, 'Step-to gaits on real pose'; bench/gait_accuracy.py "
            "--rendered): check the events in the QC plot before publishing them"
        )
    if swap is not None and swap > MAX_LEG_SWAP_RATE:
        flags.append(f"leg labels swapped in {100 * swap:.0f} % of the frames (> {100 * MAX_LEG_SWAP_RATE:.0f} %): per-foot values and symmetry are unreliable")
    record = {
        "steps_used": int(n_steps),
        "strides_used": int(np.isfinite(stride).sum()),
        "gaps_skipped": gaps,
        "events_rejected": list(diag.get("rejected_events") or []),
        "events_edited": int(edits),
        "leg_swap_rate": swap,
        "pose_coverage": cov,
        "spectral_cadence": spec,
        "double_support_cadence": ds,
        "checks": checks,
        "flags": flags,
        "refused": dict(sorted(refused.items())),
        "computed": {k: means.get(k) for k in CSV_KEYS},
    }
    return record, refused
