"""Known-truth validation of the gait estimates on synthetic walkers (:mod:`gaitprep.synth`).

:data:`CONFIGS` spans cadence 90-130 steps/min, step length 50-80 cm, double support
15-30 % of the cycle (``double_support_fraction`` 0.075-0.15 per period) and both walking
directions. :func:`compare` matches estimated events to the truth and returns per-step
absolute errors; ``bench/gait_accuracy.py`` prints the MAE tables and the tests assert
the acceptance bars on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .params import MEAN_KEYS

#: the validation walkers (WalkerParams fields)
CONFIGS = [
    dict(cadence=90, step_length_cm=50, double_support_fraction=0.15, direction="left_to_right", seed=1),
    dict(cadence=100, step_length_cm=58, double_support_fraction=0.13, direction="right_to_left", seed=2),
    dict(cadence=110, step_length_cm=65, double_support_fraction=0.11, direction="left_to_right", seed=3),
    dict(cadence=120, step_length_cm=72, double_support_fraction=0.09, direction="right_to_left", seed=4),
    dict(cadence=130, step_length_cm=80, double_support_fraction=0.075, direction="left_to_right", seed=5),
    dict(cadence=115, step_length_cm=55, double_support_fraction=0.14, direction="right_to_left", seed=6, height_cm=160),
]
#: step-to walkers of the project's renderer (the far foot lands short by
#: ``step_asymmetry`` x the step length; near 1 it never leads), for
#: ``bench/gait_accuracy.py --rendered``: the step-to recovery on real pose-model jitter
STEP_TO_CONFIGS = [
    dict(cadence=96, step_length_cm=60, double_support_fraction=0.14, direction="left_to_right", seed=11, step_asymmetry=0.7),
    dict(cadence=104, step_length_cm=55, double_support_fraction=0.15, direction="right_to_left", seed=12, step_asymmetry=0.85),
    dict(cadence=90, step_length_cm=50, double_support_fraction=0.17, direction="left_to_right", seed=13, step_asymmetry=0.92),
    dict(cadence=112, step_length_cm=62, double_support_fraction=0.12, direction="right_to_left", seed=14, step_asymmetry=0.6),
    dict(cadence=100, step_length_cm=58, double_support_fraction=0.13, direction="left_to_right", seed=15, step_asymmetry=0.8, fps=25.0),
    dict(cadence=94, step_length_cm=52, double_support_fraction=0.16, direction="right_to_left", seed=16, step_asymmetry=0.9, fps=24.0),
]
#: summary mean key -> per-step column compared with the truth of the same name
PARAMS = dict(MEAN_KEYS)
CLIP_ONLY = ("cadence_steps_per_min", "speed_m_per_s")


def event_errors(events: list[dict], truth_events: list[dict], kind: str, max_err: float = 5.0) -> list[float]:
    """Signed frame errors (estimate - truth) of estimated events of ``kind`` matched to the
    nearest true event of the same foot within ``max_err`` frames (unmatched ones skipped)."""
    out = []
    for e in events:
        if e["event"] != kind:
            continue
        c = [t["frame"] for t in truth_events if t["event"] == kind and t["foot"] == e["foot"]]
        if not c:
            continue
        best = min(c, key=lambda x: abs(x - e["frame"]))
        if abs(best - e["frame"]) <= max_err:
            out.append(e["frame"] - best)
    return out


def compare(result, truth: dict) -> dict:
    """Per-step absolute errors and clip-level errors of one analysed clip against its truth.

    Returns ``{"HS_frames": [...], "TO_frames": [...], <param>: [abs errors per step],
    "clip": {<param or cadence/speed>: abs error of the clip mean}, "n_steps", "n_truth_hs"}``.
    """
    out = {
        "HS_frames": [abs(x) for x in event_errors(result.events, truth["events"], "HS")],
        "TO_frames": [abs(x) for x in event_errors(result.events, truth["events"], "TO")],
        "clip": {},
    }
    for k, col in PARAMS.items():
        v = result.steps[col].to_numpy(float)
        v = v[np.isfinite(v)]
        out[k] = list(np.abs(v - truth[k]))
    for k in list(PARAMS) + list(CLIP_ONLY):
        m = result.summary["means"].get(k)
        out["clip"][k] = abs(m - truth[k]) if m is not None and np.isfinite(m) else float("nan")
    out["n_steps"] = result.summary["n_steps"]
    out["n_truth_hs"] = sum(1 for e in truth["events"] if e["event"] == "HS")
    return out


def synth_exact(cfg: dict):
    """``(records, truth, params)`` of a walker's exact keypoints."""
    from ..synth import WalkerParams, walker_keypoints, walker_truth

    p = WalkerParams(**cfg)
    return walker_keypoints(p), walker_truth(p), p


def synth_blazepose(cfg: dict, cache_dir: str | Path, tag: Optional[str] = None):
    """``(records, truth, params)`` of a walker rendered to video and run through BlazePose.

    The video, its truth and the pose are cached in ``cache_dir`` (reused when present).
    """
    import json

    from ..synth import WalkerParams, render_walker
    from .mpipe import blazepose_records

    p = WalkerParams(**cfg)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = tag or "walker_{cadence}_{step_length_cm}_{double_support_fraction}_{direction}".format(**cfg)
    if tag.startswith("walker_") and cfg.get("step_asymmetry"):
        tag += f"_stepto{cfg['step_asymmetry']}_{p.fps:g}fps"
    video, pose_json, truth_json = cache_dir / f"{tag}.mp4", cache_dir / f"{tag}.pose.json", cache_dir / f"{tag}.truth.json"
    if not (pose_json.exists() and truth_json.exists()):
        truth = render_walker(video, p, truth_json)
        recs, _ = blazepose_records(video)
        pose_json.write_text(json.dumps(recs))
        video.unlink(missing_ok=True)
    return json.loads(pose_json.read_text()), json.loads(truth_json.read_text()), p
