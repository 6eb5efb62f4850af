"""Throughput of the yolov8-seg / yolov8-pose backends: frames/s by model, batch size, precision.

Runs the backends exactly as the pipeline does (weights by name from a models folder,
``backend.run`` over Frame objects) on real 960x540 frames from the shared videos, and
prints one table row per setting. Decoding is not timed (frames are decoded beforehand);
one untimed warm-up batch precedes each measurement.

Without ``--models-dir`` it builds random-weight checkpoints (same architecture and cost as
the released weights) with "detect everything" heads and ``max_det=1``, so that post-
processing costs about what one detected person costs (one full-frame retina mask / one
keypoint set per frame). With real weights in ``--models-dir`` it uses those.

    PYTHONPATH=src python bench/yolo.py                       # CPU: n models, batch 1/8/32
    PYTHONPATH=src python bench/yolo.py --models n x --frames 8 --batch 1 8
    PYTHONPATH=src python bench/yolo.py --device cuda         # adds fp16 rows
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITPREP_SHARED", REPO.parent / "shared"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=str(SHARED / "data/videos/gait_normal_01.mp4"))
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--models", nargs="+", default=["n"], help="YOLOv8 sizes: n s m l x")
    ap.add_argument("--tasks", nargs="+", default=["seg", "pose"])
    ap.add_argument("--batch", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--frames", type=int, default=32, help="timed frames per row (at least one batch)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--models-dir", default=None, help="folder with real yolov8*-seg.pt / -pose.pt (else random)")
    args = ap.parse_args(argv)

    import torch

    from gaitprep.backends.base import Context
    from gaitprep.backends.yolo import YoloPoseBackend, YoloSegBackend, save_random_checkpoint
    from gaitprep.device import resolve_device
    from gaitprep.video import VideoReader

    device = resolve_device(args.device)
    precisions = ["fp32", "fp16"] if device.startswith("cuda") else ["fp32"]
    n_needed = max(args.frames, max(args.batch)) + max(args.batch)
    frames = []
    while len(frames) < n_needed:  # loop the clip if it is short
        for f in VideoReader(args.video, start=0, prefetch=0):
            frames.append(f)
            if len(frames) >= n_needed:
                break
    h, w = frames[0].image.shape[:2]
    tmp = tempfile.TemporaryDirectory()
    mdir = args.models_dir or tmp.name
    real = args.models_dir is not None

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        cpu += f" ({os.cpu_count()} cores visible)"
    except (OSError, StopIteration):
        pass
    if device.startswith("cuda"):
        cpu = torch.cuda.get_device_name(torch.device(device))
    print(f"# {cpu}; torch {torch.__version__}, {torch.get_num_threads()} threads; frames {w}x{h}; "
          f"imgsz {args.imgsz}; weights {'real from ' + mdir if real else 'random (detect-everything, max_det=1)'}")
    print("| model | backend | device | precision | batch | frames/s | ms/frame |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in args.models:
        for task in args.tasks:
            name = f"yolov8{size}-{task}.pt"
            if not real:
                save_random_checkpoint(f"yolov8{size}-{task}.yaml", Path(mdir) / name, detect_everything=True)
            cls = YoloSegBackend if task == "seg" else YoloPoseBackend
            for prec in precisions:
                for bs in args.batch:
                    params = {"weights": name, "batch_size": bs, "imgsz": args.imgsz, "half": prec == "fp16"}
                    if not real:
                        params["max_det"] = 1
                    b = cls(params, Context(device=device, models_dir=mdir))
                    for _ in b.run(iter(frames[:bs])):  # warm-up batch
                        pass
                    n = max(args.frames, bs)
                    n -= n % bs  # whole batches only
                    t = time.perf_counter()
                    k = sum(1 for _ in b.run(iter(frames[bs : bs + n])))
                    dt = time.perf_counter() - t
                    assert k == n
                    print(f"| yolov8{size}-{task} | {b.name} | {device} | {prec} | {bs} | {n / dt:.2f} | {1000 * dt / n:.0f} |",
                          flush=True)  # fmt: skip
                    b.close()


if __name__ == "__main__":
    main()
