"""Wall time per modality for one clip, through the same runner the rules call.

    python bench/pipeline.py ../shared/data/videos/gait_normal_01.mp4 [--flow-scale 1.0]

Prints one row per modality: backend, frames, frames with a person, wall time (s, model
load included) and frames/s. Results go to a temporary tree that is deleted.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile

from gaitprep.healthgait.naming import ClipId
from gaitprep.runner import JobSpec, run_modality

DEFAULTS = {"pose": "blazepose", "silhouette": "blazepose-mask", "segmentation": "pose-parts", "flow": "tvl1-opencv"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--flow-scale", type=float, default=1.0, help="TV-L1 at this fraction of the size")
    ap.add_argument("--modalities", default="pose,silhouette,segmentation,flow")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    clip = ClipId("PA999", "UGS", "NW-WJ", "1")
    print(f"video {a.video}; machine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print(f"{'modality':13s} {'backend':15s} {'frames':>6s} {'person':>6s} {'wall_s':>8s} {'frames/s':>9s}")
    with tempfile.TemporaryDirectory() as root:
        for m in a.modalities.split(","):
            params = {"scale": a.flow_scale} if m == "flow" else {}
            spec = JobSpec(DEFAULTS[m], params, device=a.device, progress=False)
            rec = run_modality(m, clip, a.video, root, spec)
            st = rec["stats"]
            n = st.get("frames", st.get("pairs"))
            person = st.get("frames_with_person", "-")
            wall = rec["timing"]["wall_s"]
            label = f"{m}" + (f" x{a.flow_scale:g}" if m == "flow" else "")
            print(f"{label:13s} {spec.backend:15s} {n:>6} {person:>6} {wall:>8.1f} {n / wall:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
