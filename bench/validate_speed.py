"""Speed of `gaitprep validate` on a synthetic tree (prints files/s).

    PYTHONPATH=src python bench/validate_speed.py [--clips 4] [--frames 124]

Builds N clips x F frames at 960x540 (pose, silhouette, segmentation, TVL1 + GMFLOW flow)
in a temporary folder with the tests' tree builder, then times a full check and a
``--sample-every 5`` check.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_validate import make_tree  # noqa: E402

from gaitprep.healthgait import naming, validate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=124)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        clips = [naming.ClipId(f"PA{i:03d}", "UGS", "NW-WJ", "1") for i in range(a.clips)]
        t = time.perf_counter()
        make_tree(Path(d) / "hg", clips=clips, n=a.frames, size=(960, 540))
        print(f"built {a.clips} clips x {a.frames} frames at 960x540 in {time.perf_counter() - t:.1f} s")
        for kw in ({}, {"sample_every": 5}):
            t = time.perf_counter()
            r = validate.validate_tree(Path(d) / "hg", jobs=a.jobs, **kw)
            dt = time.perf_counter() - t
            print(f"validate {kw or 'full'} jobs={a.jobs}: {r.files} files in {dt:.2f} s = {r.files / dt:.0f} files/s, {len(r.issues)} issues")


if __name__ == "__main__":
    main()
