"""Render the default synthetic demo clip and measure BlazePose detection on it.

Prints the detection rate of mediapipe BlazePose (``mp.solutions.pose``, model_complexity=1,
static_image_mode=False, as the blazepose backend runs it) over the frames where the figure
is fully visible and over all frames, the median landmark error against the exact truth
(px, near-side hip/knee/ankle/heel/toe) and the render time per frame.

Usage (from the repo root)::

    PYTHONPATH=src python bench/synth_detection.py [--out /tmp/synth_demo.mp4] [--seconds S]
        [--direction right_to_left] [--cadence 110] [--step-length 65] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
os.environ.setdefault("GLOG_minloglevel", "2")

from gaitprep.synth import Walker, WalkerParams, render_walker  # noqa: E402
from gaitprep.synth.render import render_frames  # noqa: E402
from gaitprep.synth.truth import frame_keypoints  # noqa: E402

# mediapipe PoseLandmark indices for the names we compare
MP = {"l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28, "l_heel": 29,
      "r_heel": 30, "l_big_toe": 31, "r_big_toe": 32, "l_shoulder": 11, "r_shoulder": 12}  # fmt: skip


def detect(video: Path, walker: Walker, model_complexity: int = 1):
    """Run BlazePose on ``video``.

    Returns (detected ``bool (n,)``, median landmark error ``float (n,)`` px over the near-side
    shoulder/hip/knee/ankle/heel/toe taking the better of BlazePose's two side labels, and
    ``swapped bool (n,)``: BlazePose's near/far ankle labels are swapped w.r.t. the truth).
    """
    import mediapipe as mp

    cap = cv2.VideoCapture(str(video))
    det, err, swp = [], [], []
    near = walker.near
    names = [f"{near}_{j}" for j in ("hip", "knee", "ankle", "heel", "big_toe", "shoulder")]
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=model_complexity) as pose:
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            res = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            lm = res.pose_landmarks
            det.append(lm is not None)
            if lm is not None:
                h, w = img.shape[:2]
                truth = frame_keypoints(walker, i, include_outside=True)["joints"]
                e = []
                for n in names:
                    # BlazePose may swap sides in profile: take the better of both labels
                    other = ("l" if n[0] == "r" else "r") + n[1:]
                    t = np.array([truth[n]["x"], truth[n]["y"]])
                    cands = [lm.landmark[MP[k]] for k in (n, other)]
                    e.append(min(np.hypot(c.x * w - t[0], c.y * h - t[1]) for c in cands))
                err.append(float(np.median(e)))
                far = walker.far
                tn, tf = (np.array([truth[f"{s}_ankle"]["x"], truth[f"{s}_ankle"]["y"]]) for s in (near, far))
                bn, bf = (np.array([lm.landmark[MP[f"{s}_ankle"]].x * w, lm.landmark[MP[f"{s}_ankle"]].y * h])
                          for s in (near, far))  # fmt: skip
                same = np.linalg.norm(bn - tn) + np.linalg.norm(bf - tf)
                cross = np.linalg.norm(bn - tf) + np.linalg.norm(bf - tn)
                swp.append(bool(cross < same))
            else:
                err.append(float("nan"))
                swp.append(False)
            i += 1
    cap.release()
    return np.array(det), np.array(err), np.array(swp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/gaitprep_synth_demo.mp4")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--direction", default="left_to_right")
    ap.add_argument("--cadence", type=float, default=110.0)
    ap.add_argument("--step-length", type=float, default=65.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-complexity", type=int, default=1)
    ap.add_argument("--save-misses", default=None, help="folder to write missed fully-visible frames to")
    a = ap.parse_args(argv)
    params = WalkerParams(direction=a.direction, cadence=a.cadence, step_length_cm=a.step_length, seed=a.seed,
                          duration_s=a.seconds)  # fmt: skip
    t0 = time.perf_counter()
    for _ in render_frames(params):
        pass
    t_draw = time.perf_counter() - t0
    t0 = time.perf_counter()
    truth = render_walker(a.out, params)
    t_render = time.perf_counter() - t0
    n = truth["n_frames"]
    w = Walker(params)
    t0 = time.perf_counter()
    det, err, swp = detect(Path(a.out), w, a.model_complexity)
    t_det = time.perf_counter() - t0
    vis = np.array(truth["fully_visible_frames"], int)
    vis = vis[vis < len(det)]
    print(f"clip: {a.out}  frames={n} decoded={len(det)}  draw {1000 * t_draw / n:.1f} ms/frame, draw+encode+truth "
          f"{1000 * t_render / n:.1f} ms/frame, "
          f"BlazePose {1000 * t_det / max(len(det), 1):.1f} ms/frame")  # fmt: skip
    print(f"detection rate, fully visible frames: {det[vis].mean() * 100:.1f} % ({det[vis].sum()}/{len(vis)})")
    print(f"detection rate, all frames:           {det.mean() * 100:.1f} % ({det.sum()}/{len(det)})")
    ev = err[vis][det[vis]]
    if len(ev):
        print(f"median landmark error on fully visible detected frames (near-side legs+shoulder): "
              f"{np.median(ev):.1f} px (90th pct {np.percentile(ev, 90):.1f} px)")  # fmt: skip
        print(f"near/far ankle labels swapped by BlazePose: {swp[vis][det[vis]].mean() * 100:.1f} % of those frames")
    miss = [int(i) for i in vis if not det[i]]
    print(f"missed fully visible frames: {miss}")
    if a.save_misses and miss:
        out = Path(a.save_misses)
        out.mkdir(parents=True, exist_ok=True)
        cap = cv2.VideoCapture(a.out)
        for i in range(len(det)):
            ok, img = cap.read()
            if ok and i in miss:
                cv2.imwrite(str(out / f"miss_{i:04d}.png"), img)
        cap.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
