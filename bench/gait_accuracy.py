"""Gait-parameter accuracy on synthetic walkers with known truth (docs/gait.md).

For each of the validation walkers (gaitprep.gait.validation.CONFIGS) and both methods
(zeni, ankle-distance) this prints the per-step mean absolute error of every parameter
and the participant-level (clip mean) absolute error, averaged over walkers, for
(a) the exact keypoints of the walker model and (b) the whole pipeline: render the
walker to video -> BlazePose (gaitprep's blazepose backend) -> gait.

    PYTHONPATH=src python bench/gait_accuracy.py [--cache DIR] [--exact-only] [--no-refine]

Rendering + BlazePose take ~25 s per walker on 2 CPU cores; results are cached in --cache.
Calibration: px_per_cm from the walker (the calibration itself is checked separately).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gaitprep.gait.clip import analyze_clip  # noqa: E402
from gaitprep.gait.io import series_from_records  # noqa: E402
from gaitprep.gait.validation import CLIP_ONLY, CONFIGS, PARAMS, compare, synth_blazepose, synth_exact  # noqa: E402

ROWS = ["HS_frames", "TO_frames"] + list(PARAMS) + list(CLIP_ONLY)


def run(source: str, method: str, cache: Path, refine: bool) -> dict:
    per_step = {k: [] for k in ROWS}
    per_clip = {k: [] for k in ROWS}
    counts = []
    for cfg in CONFIGS:
        recs, truth, p = synth_exact(cfg) if source == "exact" else synth_blazepose(cfg, cache)
        s = series_from_records(recs, "synth", p.width, p.height)
        res = analyze_clip(s, p.fps, "PA001/UGS/NW-WJ_1", {"method": "px_per_cm", "px_per_cm": p.px_per_cm}, method, refine=refine)
        c = compare(res, truth)
        for k in ROWS:
            if k in ("HS_frames", "TO_frames"):
                per_step[k] += c[k]
                per_clip[k].append(np.mean(c[k]) if c[k] else np.nan)
            elif k in CLIP_ONLY:
                per_clip[k].append(c["clip"][k])
            else:
                per_step[k] += c[k]
                per_clip[k].append(c["clip"][k])
        counts.append((c["n_steps"], c["n_truth_hs"]))
    return {"step": per_step, "clip": per_clip, "counts": counts}


def fmt(v):
    return "   n/a" if not np.isfinite(v) else f"{v:7.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/gaitprep_synth_cache")
    ap.add_argument("--exact-only", action="store_true")
    ap.add_argument("--no-refine", action="store_true", help="plain Zeni (2008) events")
    a = ap.parse_args()
    sources = ["exact"] if a.exact_only else ["exact", "pipeline"]
    for src in sources:
        for method in ("zeni", "ankle-distance"):
            r = run(src, method, Path(a.cache), not a.no_refine)
            label = "exact keypoints" if src == "exact" else "video -> BlazePose -> gait"
            print(f"\n## {label}, method {method}{' (no refinement)' if a.no_refine and method == 'zeni' else ''}, {len(CONFIGS)} walkers")
            print(f"steps found / true heel strikes per walker: {r['counts']}")
            cad = ", ".join(f"{v:.2f}" for v in r["clip"]["cadence_steps_per_min"])
            print(f"cadence abs error per walker (steps/min): {cad}")
            print(f"{'parameter':26s} {'per-step MAE':>12s} {'clip-mean MAE':>14s}")
            for k in ROWS:
                st = np.mean(r["step"][k]) if r["step"][k] else np.nan
                cl = np.nanmean(r["clip"][k]) if np.isfinite(r["clip"][k]).any() else np.nan
                print(f"{k:26s} {fmt(st):>12s} {fmt(cl):>14s}")


if __name__ == "__main__":
    main()
