"""One clip, pose -> events -> parameters: the function the ``gait-clip`` command runs.

:func:`analyze_clip` never raises on degenerate *data* (nobody in view, fewer than two
steps, long gaps): it returns NaN parameters and says why in ``summary["warnings"]``.
It raises on bad *configuration* (:class:`~gaitprep.errors.CalibrationError` when a
calibration input is missing, :class:`~gaitprep.errors.InputError` on a bad method).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..errors import InputError
from ..healthgait.naming import ESTIMATION_CSV, ClipId
from ..healthgait.writers import atomic_path
from .calibration import body_height_px, make_calibration
from .events import ankle_distance_peaks, pass_of_frame, zeni_events
from .io import PoseSeries
from .overrides import apply_overrides
from .params import MEAN_KEYS, ankle_distance_steps, foot_summary, summarize, zeni_steps
from .quality import quality_record
from .preprocess import PrepConfig, Prepared, prepare

METHODS = ("zeni", "ankle-distance")
MIN_STEPS = 2


@dataclass
class ClipResult:
    """Outputs of :func:`analyze_clip`: ``steps`` (per-step table), ``summary`` (JSON-able
    dict), ``events`` (list of event dicts), ``prep`` (cleaned trajectories)."""

    steps: pd.DataFrame
    summary: dict
    events: list
    prep: Prepared


def _participant(clip_key: str) -> Optional[str]:
    try:
        return ClipId.from_key(clip_key).participant
    except ValueError:
        return clip_key.split("/")[0] if "/" in clip_key else None


def _event_timing(prep, method: str) -> dict:
    """What the events' times were corrected by: ``{"offsets_s": {"HS", "TO"} (s, added to
    every event), "reference", "source"}``, from the event detector's diagnostics (the pose
    backend's calibration to the physical contact,
    :data:`gaitprep.gait.events.EVENT_OFFSET_S`; the config's ``gait.event_offsets_s``;
    or none)."""
    from .events import EVENT_OFFSET_REFERENCE

    d = prep.diagnostics
    off, source = d.get("event_offsets_s"), d.get("event_offsets_source")
    if method != "zeni" or off is None or source == "none (unrefined)":
        unrefined = ", unrefined" if source == "none (unrefined)" else ""
        return {"offsets_s": None, "reference": None, "source": f"none ({method}{unrefined})"}
    reference = {"config": "as calibrated by the user", "pose backend": EVENT_OFFSET_REFERENCE}
    return {"offsets_s": dict(off), "source": source,
            "reference": next((v for k, v in reference.items() if str(source).startswith(k)), None)}  # fmt: skip


def analyze_clip(
    series: PoseSeries,
    fps: float,
    clip_key: str = "",
    calibration=None,
    method: str = "zeni",
    overrides: Optional[pd.DataFrame] = None,
    prep_cfg: Optional[PrepConfig] = None,
    refine: bool = True,
    lengths: str = "contacts",
    event_offsets: Optional[dict] = None,
) -> ClipResult:
    """Gait events and parameters of one clip.

    Args:
        series: the clip's pose (:func:`gaitprep.gait.io.load_pose`).
        fps: frames per second of the source video (> 0).
        clip_key: ``PA000/UGS/NW-WJ_1`` (participant for the height calibration, overrides).
        calibration: dict / JSON string / None (:mod:`gaitprep.gait.calibration`).
        method: ``zeni`` (default) or ``ankle-distance``.
        overrides: manual event edits (:func:`gaitprep.gait.overrides.read_overrides`);
            applied to the zeni events only.
        prep_cfg: preprocessing settings.
        refine: refine Zeni's events by foot ground speed (:func:`gaitprep.gait.events.zeni_events`).
        lengths: ``contacts`` (static camera, default) or ``instant`` (panning camera);
            see :func:`gaitprep.gait.params.zeni_steps`. Zeni method only.
        event_offsets: ``{"HS": s, "TO": s}`` timing corrections replacing the pose backend's
            (:data:`gaitprep.gait.events.EVENT_OFFSET_S`); None: the backend's.

    Raises:
        InputError: unknown method or non-positive fps.
        CalibrationError: a calibration input is missing.
    """
    if lengths not in ("contacts", "instant"):
        raise InputError(f"unknown step-length mode {lengths!r} (expected contacts or instant)")
    if method not in METHODS:
        raise InputError(f"unknown gait method {method!r} (expected one of {', '.join(METHODS)})")
    if not (fps and fps > 0):
        raise InputError(f"{clip_key}: fps must be positive, got {fps!r}")
    prep_cfg = prep_cfg or PrepConfig()
    prep = prepare(series, fps, prep_cfg)
    warnings = list(prep.warnings)
    calib = make_calibration(calibration, _participant(clip_key), lambda: body_height_px(prep.series, prep.passes),
                             (series.extra or {}).get("backend"))  # fmt: skip
    if "error" in calib.info:
        warnings.append(f"no length calibration: {calib.info['error']}; lengths and speed are NaN")
    if not prep.passes:
        warnings.append("no walking pass found (the person is never fully in view while walking)")
    edited_frames: list[float] = []
    if method == "zeni":
        n_prep_warnings = len(prep.warnings)
        events = zeni_events(prep, refine=refine, offsets=None if event_offsets is None else dict(event_offsets))
        warnings += prep.warnings[n_prep_warnings:]  # the event detector's own notes
        if overrides is not None:
            times = getattr(prep, "t", None)  # frame times (s): real timestamps when the pose provenance has them
            time_of = (lambda f: float(np.interp(f, prep.series.frames, times))) if times is not None else None
            events, edited_frames, notes = apply_overrides(events, overrides, clip_key, fps, lambda f: pass_of_frame(prep, f), time_of)
            warnings += notes
        steps = zeni_steps(events, prep, calib, clip_key, edited_frames, lengths)
    else:
        events = ankle_distance_peaks(prep, calib.to_floor if calib.px_per_cm or calib.homography is not None else (lambda a: np.asarray(a, float)))
        steps = ankle_distance_steps(events, prep, calib, clip_key)
    n_steps = int(np.isfinite(steps["step_time_s"]).sum())
    means = summarize(steps, prep)
    sds = {k: _nanstd(steps[c]) for k, c in MEAN_KEYS.items()}
    gaps = _gaps(steps)
    if gaps:
        frames = ", ".join(f"{g['hs_frame']:.0f}" for g in gaps)
        ends = sum("at a pass end" in g["skipped"] for g in gaps)
        why = "span a missed contact" if not ends else (
            "lie at a pass end far from the walk's other steps/strides" if ends == len(gaps)
            else "span a missed contact or lie at a pass end far from the walk's others"
        )  # fmt: skip
        warnings.append(
            f"{len(gaps)} interval(s) {why} and were skipped, not counted as steps "
            f"(HS frames {frames}; see the steps table's 'skipped' column)"
        )
    feet = foot_summary(steps)
    quality, refused = quality_record(steps, means, prep, calib, n_steps, gaps, len(edited_frames))
    if n_steps < MIN_STEPS:
        warnings.append(f"fewer than {MIN_STEPS} steps found ({n_steps}); parameters are NaN")
        means = {k: float("nan") for k in means}
        quality["refused"] = {k: f"steps: {n_steps} < {MIN_STEPS}" for k in quality["computed"]}
    else:
        for k, why in refused.items():
            if np.isfinite(means.get(k, np.nan)):
                warnings.append(f"{k} refused (left empty in {ESTIMATION_CSV}): {why}")
            means[k] = float("nan")
    warnings += quality["flags"]
    passes = []
    f0 = int(prep.series.frames[0]) if prep.series.n else 0
    for p in prep.passes:
        g = steps[steps["pass"] == p.index]
        passes.append(
            {
                "index": p.index, "start_frame": f0 + p.start, "end_frame": f0 + p.stop - 1, "direction": p.label,
                "n_contacts": int(len(g)), "n_steps": int(np.isfinite(g["step_time_s"]).sum()),
            }
        )  # fmt: skip
        if len(g) < 3:
            warnings.append(f"pass {p.index} has only {len(g)} foot contact(s)")
    summary = {
        "clip": clip_key,
        "method": method,
        "refine_events": bool(refine and method == "zeni"),
        "lengths": lengths if method == "zeni" else "peak-distance",
        "fps": float(fps),
        "first_frame": f0,
        "last_frame": int(prep.series.frames[-1]) if prep.series.n else f0,
        "n_passes": len(prep.passes),
        "n_steps": n_steps,
        "n_contacts": int(len(steps)),
        "passes": passes,
        "means": means,
        "sd": sds,
        **feet,
        "quality": quality,
        "calibration": calib.describe(),
        "keypoints": {("left" if s == "l" else "right"): v for s, v in prep.used.items()},
        "preprocessing": asdict(prep_cfg),
        "event_timing": _event_timing(prep, method),
        "n_leg_swaps_fixed": prep.n_swaps_fixed,
        "n_edited_events": len(edited_frames),
        "warnings": warnings,
        "events": [_jsonable(e) for e in events],
    }
    return ClipResult(steps, summary, events, prep)


def _gaps(steps: pd.DataFrame) -> list[dict]:
    """Rows of the steps table with a value skipped by :func:`gaitprep.gait.params.gap_rules`
    (it spans a missed contact, or lies at a pass end far from the walk's others)."""
    out = []
    for _, r in steps[steps["skipped"].astype(str) != ""].iterrows():
        out.append({"pass": int(r["pass"]), "foot": r["foot"], "hs_frame": float(r["hs_frame"]), "skipped": r["skipped"]})
    return out


def _nanstd(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1)) if len(x) > 1 else float("nan")


def _jsonable(o):
    """NaN/inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        v = float(o)
        return None if not math.isfinite(v) else round(v, 6)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def steps_csv_path(steps_path) -> Path:
    """The CSV copy of the steps table beside its parquet: ``X.parquet`` -> ``X.csv``."""
    return Path(steps_path).with_suffix(".csv")


def write_outputs(res: ClipResult, steps_path=None, summary_path=None, qc_path=None, title: str = "") -> None:
    """Write the steps parquet and its CSV copy (:func:`steps_csv_path`; empty cells for NaN,
    times 4 and lengths 2 decimals), the summary JSON (NaN as null) and the QC PNG, each atomically."""
    if steps_path:
        with atomic_path(steps_path) as tmp:
            res.steps.to_parquet(tmp, engine="pyarrow", index=False)
        with atomic_path(steps_csv_path(steps_path)) as tmp:
            res.steps.to_csv(tmp, index=False, float_format="%.4f", na_rep="")
    if summary_path:
        with atomic_path(summary_path) as tmp:
            Path(tmp).write_text(json.dumps(_jsonable(res.summary), indent=1))
    if qc_path:
        from .qc import plot_clip

        refused = sorted((res.summary.get("quality") or {}).get("refused") or {})
        note = f"refused (left empty in the estimation table): {', '.join(refused)}; see the summary's quality record" if refused else ""
        plot_clip(res.prep, res.events, qc_path, title or res.summary.get("clip", ""), res.summary.get("method", "zeni"), note)
