"""Parity of gaitprep's PyTorch TV-L1 (``tvl1-torch``) with OpenCV's DualTVL1 on real frames.

For ``--pairs`` consecutive frame pairs of a walking video, computes both flows with the
same (OpenCV default) parameters and prints the mean end-point error (EPE, px) between them
over the whole frame, over the person (MediaPipe Pose segmentation mask of frame t, > 0.5)
and over moving pixels (OpenCV |flow| > 0.5 px). Writes a picture: the frame, the EPE map,
and both flows coded with :func:`gaitprep.healthgait.flowcode.flow_to_bgr`.

    PYTHONPATH=src python bench/flow_parity.py                   # 960x540, 20 pairs
    PYTHONPATH=src python bench/flow_parity.py --width 240 --pairs 3 --png /tmp/p.png

Slow on CPU: about 5-10 s per pair for OpenCV and 20-30 s for torch on 1 core at 960x540.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gaitprep.healthgait.flowcode import flow_to_bgr  # noqa: E402
from gaitprep.flow.tvl1 import TVL1Params, tvl1_flow  # noqa: E402
from gaitprep.video import VideoReader  # noqa: E402

SHARED = Path(os.environ.get("GAITPREP_SHARED", ROOT.parent / "shared"))


def read_frames(path: Path, start: int, n: int, width: int) -> list[np.ndarray]:
    """``n`` BGR frames from source frame ``start``, resized to ``width`` px wide (INTER_AREA)."""
    out = []
    for f in VideoReader(path, start, start + n, prefetch=0):
        img = f.image
        if img.shape[1] != width:
            img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1])), interpolation=cv2.INTER_AREA)
        out.append(img)
    if len(out) < n:
        raise SystemExit(f"{path}: only {len(out)} frames from {start}")
    return out


def person_masks(frames: list[np.ndarray]) -> list[np.ndarray] | None:
    """MediaPipe Pose (model_complexity 1, tracking) segmentation > 0.5, or None if unavailable."""
    try:
        import mediapipe as mp
    except ImportError:
        return None
    masks = []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=True) as pose:
        for img in frames:
            r = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            m = r.segmentation_mask
            masks.append(np.zeros(img.shape[:2], bool) if m is None else m > 0.5)
    return masks


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=SHARED / "data" / "videos" / "gait_normal_01.mp4")
    ap.add_argument("--start", type=int, default=50, help="first frame (default 50: the walker is in view)")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--width", type=int, default=960, help="frame width to compute at (INTER_AREA resize)")
    ap.add_argument("--batch", type=int, default=4, help="pairs per torch batch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the iteration")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "tvl1_parity.png")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--cache", type=Path, default=None, help="keep OpenCV's flows in this .npz (reused if it matches)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    frames = read_frames(a.video, a.start, a.pairs + 1, a.width)
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    h, w = grays[0].shape
    print(f"{a.video.name}: pairs {a.start}..{a.start + a.pairs - 1} (t -> t+1) at {w}x{h}; "
          f"torch {torch.__version__} on {a.device}, {torch.get_num_threads()} threads; OpenCV {cv2.__version__}, "
          f"{cv2.getNumThreads()} threads", flush=True)  # fmt: skip

    key = f"{a.video.name}:{a.start}:{a.pairs}:{w}x{h}"
    if a.cache and a.cache.is_file() and str(np.load(a.cache)["key"]) == key:
        z = np.load(a.cache)
        ref, t_cv = list(z["flows"]), float(z["seconds"])
        print(f"OpenCV: flows read from {a.cache} (computed in {t_cv:.1f} s)", flush=True)
    else:
        tv = cv2.optflow.DualTVL1OpticalFlow_create()
        t0 = time.perf_counter()
        ref = [tv.calc(grays[k], grays[k + 1], None) for k in range(a.pairs)]
        t_cv = time.perf_counter() - t0
        if a.cache:
            np.savez(a.cache, key=key, flows=np.stack(ref), seconds=t_cv)
    print(f"OpenCV: {t_cv:.1f} s ({a.pairs / t_cv:.3f} pairs/s)", flush=True)

    ours = []
    t0 = time.perf_counter()
    for b in range(0, a.pairs, a.batch):
        k1 = min(a.pairs, b + a.batch)
        i0 = torch.from_numpy(np.stack(grays[b:k1]))
        i1 = torch.from_numpy(np.stack(grays[b + 1 : k1 + 1]))
        f = tvl1_flow(i0, i1, TVL1Params(), device=a.device, compile=a.compile)
        ours += list(f.permute(0, 2, 3, 1).cpu().numpy())
    t_torch = time.perf_counter() - t0
    print(f"torch: {t_torch:.1f} s ({a.pairs / t_torch:.3f} pairs/s)", flush=True)

    masks = person_masks(frames[:-1])
    rows = []
    print(f"{'pair':>5} {'EPE all':>8} {'EPE person':>10} {'person px':>9} {'EPE moving':>10} {'moving px':>9} {'max|flow|':>9}")
    for k in range(a.pairs):
        epe = np.linalg.norm(ours[k] - ref[k], axis=-1)
        mag = np.linalg.norm(ref[k], axis=-1)
        moving = mag > 0.5
        person = masks[k] if masks is not None else None
        r = {
            "pair": a.start + k,
            "epe_all": float(epe.mean()),
            "epe_person": float(epe[person].mean()) if person is not None and person.any() else None,
            "person_px": int(person.sum()) if person is not None else 0,
            "epe_moving": float(epe[moving].mean()) if moving.any() else None,
            "moving_px": int(moving.sum()),
            "max_flow": float(mag.max()),
        }
        rows.append(r)
        fmt = lambda v: f"{v:.4f}" if v is not None else "-"  # noqa: E731
        print(f"{r['pair']:>5} {r['epe_all']:8.4f} {fmt(r['epe_person']):>10} {r['person_px']:9d} "
              f"{fmt(r['epe_moving']):>10} {r['moving_px']:9d} {r['max_flow']:9.2f}")  # fmt: skip

    def mean(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return float(np.mean(vals)) if vals else None

    summary = {
        "video": a.video.name, "first_pair": a.start, "pairs": a.pairs, "size": [w, h],
        "epe_all": mean("epe_all"), "epe_person": mean("epe_person"), "epe_moving": mean("epe_moving"),
        "max_epe_all": max(r["epe_all"] for r in rows),
        "opencv_pairs_per_s": a.pairs / t_cv, "torch_pairs_per_s": a.pairs / t_torch,
        "device": a.device, "threads": torch.get_num_threads(), "compile": a.compile, "rows": rows,
    }  # fmt: skip
    print(f"mean EPE: all {summary['epe_all']:.4f} px, person {summary['epe_person']} px, "
          f"moving {summary['epe_moving']} px (worst pair, all: {summary['max_epe_all']:.4f} px)")  # fmt: skip
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(summary, indent=1))

    # picture: the middle pair
    k = a.pairs // 2
    cap = float(np.percentile(np.linalg.norm(ref[k], axis=-1), 99.9)) or 1.0
    frame = frames[k].copy()
    if masks is not None:
        cnts, _ = cv2.findContours(masks[k].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(frame, cnts, -1, (0, 255, 0), 2)
    epe = np.linalg.norm(ours[k] - ref[k], axis=-1)
    heat = cv2.applyColorMap(np.uint8(np.clip(epe / 1.0, 0, 1) * 255), cv2.COLORMAP_INFERNO)
    pw = 480
    ph = round(h * pw / w)
    panels = [frame, heat, flow_to_bgr(ref[k], max_magnitude=cap), flow_to_bgr(ours[k], max_magnitude=cap)]
    texts = [
        f"frame {a.start + k}, {w}x{h}, person mask",
        f"EPE torch vs OpenCV, 0..1 px (mean {epe.mean():.3f})",
        f"OpenCV DualTVL1 (value: 0..{cap:.0f} px)",
        "gaitprep tvl1-torch (same coding)",
    ]
    panels = [label(cv2.resize(p, (pw, ph), interpolation=cv2.INTER_AREA), t) for p, t in zip(panels, texts)]
    grid = np.concatenate([np.concatenate(panels[:2], 1), np.concatenate(panels[2:], 1)], 0)
    a.png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.png), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {a.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
