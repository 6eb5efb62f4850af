"""Gaps and refusals on the synthetic validation walkers (docs/gait_quality.md).

    PYTHONPATH=src python bench/gait_quality.py

(a) For each walker of gaitprep.gait.validation.CONFIGS (exact keypoints, height
calibration from the walker's stature) analysed at its true 30 fps and with a wrong
60 / 15 fps header: cadence, spectral cadence, walk ratio check and the refused means.
(b) The default demo walker with each inner heel strike deleted through the overrides:
cadence and stride length against the truth (110 steps/min, 130 cm), and the number of
rows with a skipped value. Takes ~10 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gaitprep.gait.clip import analyze_clip  # noqa: E402
from gaitprep.gait.io import series_from_records  # noqa: E402
from gaitprep.gait.validation import CONFIGS, synth_exact  # noqa: E402
from gaitprep.synth import WalkerParams, walker_keypoints  # noqa: E402

CLIP = "PA000/UGS/NW-WoJ_1"


def wrong_fps() -> None:
    print("## wrong frame-rate header (exact keypoints, height calibration)")
    print(f"{'walker':>28} {'fps':>5} {'cadence':>8} {'spectral':>8} {'walk ratio':>10}  refused")
    for cfg in CONFIGS:
        recs, truth, p = synth_exact(cfg)
        s = series_from_records(recs, "synth", p.width, p.height)
        for fps in (p.fps, 60.0, 15.0):
            res = analyze_clip(s, fps, CLIP, {"method": "height", "height_cm": p.height_cm})
            q = res.summary["quality"]
            wr = q["checks"].get("walk_ratio_over_height", {}).get("value")
            name = f"{cfg['cadence']}/min {cfg['step_length_cm']} cm {cfg['direction'][:1]}"
            cad, spec = q["computed"].get("cadence_steps_per_min"), q["spectral_cadence"].get("cadence_steps_per_min")
            print(f"{name:>28} {fps:5.0f} {_num(cad, 8, 1)} {_num(spec, 8, 1)} {_num(wr, 10, 3)}  "
                  f"{', '.join(sorted(q['refused'])) or '-'}")  # fmt: skip


def _num(x, width: int, digits: int) -> str:
    """``x`` right-aligned with ``digits`` decimals, or ``-`` for a missing value."""
    return f"{x:{width}.{digits}f}" if isinstance(x, (int, float)) and x == x else f"{'-':>{width}}"


def deleted_heel_strikes() -> None:
    print("\n## demo walker, one inner heel strike deleted (truth: cadence 110, stride 130 cm)")
    p = WalkerParams(direction="right_to_left", cadence=110, step_length_cm=65, seed=0)
    s = series_from_records(walker_keypoints(p), "synth", p.width, p.height)
    cal = {"method": "px_per_cm", "px_per_cm": p.px_per_cm}
    ref = analyze_clip(s, p.fps, CLIP, cal)
    hs = [e for e in ref.events if e["event"] == "HS"]
    for e in hs[1:-1]:
        ov = pd.DataFrame([{"clip": CLIP, "foot": e["foot"], "event": "HS", "frame": float(round(e["frame"])), "action": "remove"}])
        r = analyze_clip(s, p.fps, CLIP, cal, overrides=ov)
        m = r.summary["means"]
        print(f"  delete {e['foot']:>5} HS at frame {e['frame']:6.1f}: cadence {m['cadence_steps_per_min']:6.1f}, "
              f"stride {m['stride_length_cm']:6.1f} cm, rows with a skipped value {(r.steps['skipped'] != '').sum()}")  # fmt: skip


if __name__ == "__main__":
    wrong_fps()
    deleted_heel_strikes()
