"""Contact sheets of zoomed foot crops, for hand-labelling gait events (bench/data/README.md).

For one video and a frame range this writes PNG contact sheets: a grid of tiles, one per
frame, each a zoomed crop of the region around the feet with the 0-based source frame
index (as decoded by cv2.VideoCapture, frame i = i-th read()) drawn in its corner.

Where the feet are is found without a pose model: a median background is built from
frames sampled across the whole video, the person is the part of each frame that differs
from it, and the crop is placed around the lowest part of that foreground (the feet).
By default one crop box is used for every tile of a sheet (the union of the feet boxes
over the sheet's frames), so a foot that rests on the floor stays at the same place in
every tile. This automatic placement is rough (exposure changes, shadows and furniture
confuse it); pass --x/--y to give the box by hand, as was done for every sheet behind
bench/data/real_events.tsv. Every tile carries a pixel grid
in source-frame coordinates (thin lines every --grid px, labelled every 5th line) so the
heel height and toe position can be compared from tile to tile.

    python bench/label_sheets.py VIDEO --start 0 --end 124 --step 3 --overview
    python bench/label_sheets.py VIDEO --start 40 --end 63 --zoom 2.5
    python bench/label_sheets.py VIDEO --start 40 --end 63 --x 250 520 --y 420 540

Sheets go to --out (default /tmp/sheets), never into the repository. Needs only
opencv and numpy.

    python bench/label_sheets.py --check bench/data/real_events.tsv

runs the sanity checks of bench/data/README.md on a label file (alternation of HS within
a pass, step / stance / swing / double-support times, one TO per foot between its HS's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def read_frames(path: str) -> list[np.ndarray]:
    """All frames of the video, in cv2.VideoCapture read() order (index = frame number)."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def median_background(frames: list[np.ndarray], n: int = 31) -> np.ndarray:
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)
    return np.median(np.stack([frames[i] for i in idx]), axis=0).astype(np.uint8)


def feet_box(frame: np.ndarray, bg: np.ndarray, thresh: int = 40, band: int = 110):
    """(x0, y0, x1, y1) of the lowest `band` px of the largest foreground blob, or None.

    Rough: exposure changes and shadows also differ from the median background, so only
    the largest connected blob of the lower half is kept (the legs, normally).
    """
    d = cv2.absdiff(frame, bg).max(axis=2)
    m = (d > thresh).astype(np.uint8)
    m[: frame.shape[0] // 2] = 0  # feet are in the lower half in these side views
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m)
    if n < 2:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[k, cv2.CC_STAT_AREA] < 300:
        return None
    ys, xs = np.nonzero(lab == k)
    ybot = int(ys.max())
    xs_b = xs[ys > ybot - band]
    return int(xs_b.min()), max(0, ybot - band), int(xs_b.max()), ybot


def draw_grid(tile: np.ndarray, x0: int, y0: int, zoom: float, grid: int) -> None:
    h, w = tile.shape[:2]
    for lo, size, axis in ((x0, w, 0), (y0, h, 1)):
        first = (lo // grid + 1) * grid
        for v in range(first, lo + int(size / zoom) + 1, grid):
            p = int(round((v - lo) * zoom))
            major = v % (5 * grid) == 0
            col = (0, 200, 255) if major else (160, 160, 160)
            if axis == 0:
                cv2.line(tile, (p, 0), (p, h - 1), col, 1)
                if major:
                    cv2.putText(tile, str(v), (p + 2, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, col, 1)
            else:
                cv2.line(tile, (0, p), (w - 1, p), col, 1)
                if major:
                    cv2.putText(tile, str(v), (2, p - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, col, 1)


def make_sheets(video: str, start: int, end: int, step: int, cols: int, rows: int, zoom: float,
                out: Path, box=None, overview: bool = False, grid: int = 10, pad: int = 25,
                tag: str = "") -> list[Path]:
    frames = read_frames(video)
    end = min(end, len(frames) - 1)
    H, W = frames[0].shape[:2]
    idx = list(range(start, end + 1, step))
    if overview:
        box = (0, H // 2, W, H)
    if box is None:
        bg = median_background(frames)
        bs = [b for b in (feet_box(frames[i], bg) for i in idx) if b is not None]
        if not bs:
            box = (0, H // 2, W, H)
        else:
            box = (max(0, min(b[0] for b in bs) - pad), max(0, min(b[1] for b in bs) - pad),
                   min(W, max(b[2] for b in bs) + pad), H)
    x0, y0, x1, y1 = box
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(video).stem
    paths = []
    per = cols * rows
    for s in range(0, len(idx), per):
        chunk = idx[s : s + per]
        tiles = []
        for i in chunk:
            t = cv2.resize(frames[i][y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            if grid and not overview:
                draw_grid(t, x0, y0, zoom, grid)
            cv2.rectangle(t, (0, 0), (78, 26), (0, 0, 0), -1)
            cv2.putText(t, str(i), (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
            cv2.rectangle(t, (0, 0), (t.shape[1] - 1, t.shape[0] - 1), (0, 0, 255), 1)
            tiles.append(t)
        th, tw = tiles[0].shape[:2]
        sheet = np.full((th * rows, tw * cols, 3), 255, np.uint8)
        for k, t in enumerate(tiles):
            r, c = divmod(k, cols)
            sheet[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = t
        used_rows = (len(tiles) + cols - 1) // cols
        sheet = sheet[: used_rows * th]
        p = out / f"{stem}{tag}_{chunk[0]:04d}-{chunk[-1]:04d}_s{step}.png"
        cv2.imwrite(str(p), sheet)
        paths.append(p)
    print(f"box x={x0}..{x1} y={y0}..{y1}")
    return paths


FPS = {"gait_normal_01.mp4": 30.22, "gait_abnormal_01_slouch_posture.mp4": 30.29,
       "gait_abnormal_03_concriduction.mp4": 30.04, "gait_abnormal_06_no_arm_swing.mp4": 29.98}


def check(events_tsv: str) -> int:
    """Print the sanity checks of bench/data/README.md for a label file; return #problems."""
    import csv
    rows = list(csv.DictReader(open(events_tsv), delimiter="\t"))
    passes_tsv = Path(events_tsv).with_name("real_passes.tsv")
    passes = list(csv.DictReader(open(passes_tsv), delimiter="\t")) if passes_tsv.exists() else []
    bad = 0
    for video in dict.fromkeys(r["video"] for r in rows):
        fps = FPS.get(video, 30.0)
        ev = sorted((int(r["frame"]), r["event"], r["foot"]) for r in rows if r["video"] == video)
        wins = [(int(p["first_frame"]), int(p["last_frame"]), p["pass"]) for p in passes if p["video"] == video]
        print(f"\n## {video}: {sum(e[1] == 'HS' for e in ev)} HS, {sum(e[1] == 'TO' for e in ev)} TO")
        for lo, hi, name in wins or [(0, 10**9, "1")]:
            pe = [e for e in ev if lo - 10 <= e[0] <= hi + 10]
            hs = [e for e in pe if e[1] == "HS"]
            steps, stance, swing, ds, notes = [], [], [], [], []
            for a, b in zip(hs, hs[1:]):
                if a[2] == b[2]:
                    notes.append(f"HS {a[2]} {a[0]} -> HS {b[2]} {b[0]}: same foot (a contralateral HS is hidden)")
                else:
                    steps.append((b[0] - a[0]) / fps)
            for f in "LR":
                fe = [e for e in pe if e[2] == f]
                for a, b in zip(fe, fe[1:]):
                    if a[1] == b[1]:
                        notes.append(f"{f}: {a[1]} {a[0]} followed by {b[1]} {b[0]} (an event of this foot is hidden)")
                    elif a[1] == "HS":
                        stance.append((b[0] - a[0]) / fps)
                    else:
                        swing.append((b[0] - a[0]) / fps)
            for t, e, f in hs:  # double support after this HS: until the other foot's next TO
                nxt = [x for x in pe if x[2] != f and x[1] == "TO" and x[0] > t - 1]
                prev_hs_other = [x for x in hs if x[2] != f and x[0] < t]
                if nxt and (not prev_hs_other or nxt[0][0] > prev_hs_other[-1][0]):
                    other_next_hs = [x for x in hs if x[2] != f and x[0] > t]
                    if not other_next_hs or nxt[0][0] < other_next_hs[0][0]:
                        ds.append((nxt[0][0] - t) / fps)
            fmt = lambda v: ", ".join(f"{x:.2f}" for x in v) or "-"
            problems = [x for x in steps if not 0.4 <= x <= 0.9] + [x for x in ds if x <= 0]
            problems += [x for x in stance if not 0.4 <= x <= 1.3] + [x for x in swing if not 0.2 <= x <= 0.7]
            bad += len(problems)
            print(f"pass {name} ({lo}-{hi}): step s [{fmt(steps)}]; stance s [{fmt(stance)}]; "
                  f"swing s [{fmt(swing)}]; double support s [{fmt(ds)}]")
            alt = sum(a[2] != b[2] for a, b in zip(hs, hs[1:]))
            per_foot = "no" if any("followed" in n for n in notes) else "yes"
            print(f"  HS alternate L/R: {alt} of {max(len(hs) - 1, 0)} consecutive pairs; "
                  f"HS/TO alternate per foot: {per_foot}")
            for n in notes:
                print("  note:", n)
            if problems:
                print("  OUT OF RANGE:", fmt(problems))
    print(f"\n{bad} value(s) out of range (step 0.4-0.9 s, stance 0.4-1.3 s, swing 0.2-0.7 s, double support > 0)")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?")
    ap.add_argument("--check", metavar="EVENTS_TSV", help="run the sanity checks on a label file and exit")
    ap.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    ap.add_argument("--end", type=int, default=10**9, help="last frame, inclusive")
    ap.add_argument("--step", type=int, default=1, help="every n-th frame")
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--zoom", type=float, default=2.0)
    ap.add_argument("--x", type=int, nargs=2, metavar=("X0", "X1"), help="crop x-range by hand")
    ap.add_argument("--y", type=int, nargs=2, metavar=("Y0", "Y1"), help="crop y-range by hand (default 400..H)")
    ap.add_argument("--overview", action="store_true", help="whole lower half of the frame, no grid")
    ap.add_argument("--grid", type=int, default=10, help="grid spacing in source px (0: none)")
    ap.add_argument("--tag", default="", help="text added to the sheet file names")
    ap.add_argument("--out", default="/tmp/sheets")
    a = ap.parse_args()
    if a.check:
        raise SystemExit(1 if check(a.check) else 0)
    if not a.video:
        ap.error("a video is needed (or --check)")
    box = None
    if a.x:
        y = a.y or (400, 540)
        box = (a.x[0], y[0], a.x[1], y[1])
    for p in make_sheets(a.video, a.start, a.end, a.step, a.cols, a.rows, a.zoom, Path(a.out), box,
                         a.overview, a.grid, tag=a.tag):
        print(p)


if __name__ == "__main__":
    main()
