"""Throughput of the TV-L1 engines: OpenCV DualTVL1 (CPU) and gaitprep's PyTorch TV-L1 on CPU
and, when available, CUDA; pairs per second at each frame size and batch size, one run.

    PYTHONPATH=src python bench/flow.py                               # all: long on CPU
    PYTHONPATH=src python bench/flow.py --sizes 480x270 --batches 1 4 --threads 1
    PYTHONPATH=src python bench/flow.py --devices cuda --batches 1 4 16 32 --no-opencv

Frames: consecutive frames of a walking video (default from frame 50, the walker in
view), converted to grey and resized with INTER_AREA. Each (device, size, batch) cell times
one call on ``batch`` pairs after an untimed warm-up call (which, with ``--compile``, pays
the compilation). The machine (CPU model, cores, load, GPU) is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gaitprep.flow.tvl1 import TVL1Params, tvl1_flow  # noqa: E402
from gaitprep.video import VideoReader  # noqa: E402

SHARED = Path(os.environ.get("GAITPREP_SHARED", ROOT.parent / "shared"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {cores} cores (load avg {load:.1f}), {gpu}; torch {torch.__version__}, OpenCV {cv2.__version__}"


def read_gray(path: Path, start: int, n: int) -> list[np.ndarray]:
    """``n`` grey frames from source frame ``start`` (through gaitprep's VideoReader)."""
    frames = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in VideoReader(path, start, start + n, prefetch=0)]
    if len(frames) < n:
        raise SystemExit(f"{path}: only {len(frames)} frames from {start}")
    return frames


def parse_size(s: str) -> tuple[int, int]:
    w, h = s.lower().split("x")
    return int(w), int(h)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=SHARED / "data" / "videos" / "gait_normal_01.mp4")
    ap.add_argument("--start", type=int, default=50)
    ap.add_argument("--sizes", nargs="+", default=["960x540", "480x270"], help="WxH")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--devices", nargs="+", default=None, help="torch devices (default: cpu, and cuda if present)")
    ap.add_argument("--opencv-pairs", type=int, default=4, help="pairs timed for OpenCV (0: skip)")
    ap.add_argument("--no-opencv", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--cv-threads", type=int, default=-1, help="OpenCV threads (-1: OpenCV's default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the iteration")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.cv_threads >= 0:
        cv2.setNumThreads(a.cv_threads)
    devices = a.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    for d in devices:
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit(f"device {d} asked for but torch sees no CUDA device")

    print(f"machine: {machine()}")
    print(f"torch CPU threads {torch.get_num_threads()}, OpenCV threads {cv2.getNumThreads()}, compile={a.compile}")
    n_max = max(a.batches + [a.opencv_pairs]) + 1
    raw = read_gray(a.video, a.start, n_max)
    print(f"{'engine':<14} {'device':<8} {'size':<9} {'batch':>5} {'pairs':>5} {'seconds':>8} {'pairs/s':>8}", flush=True)
    for size in a.sizes:
        w, h = parse_size(size)
        g = [cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) if x.shape[::-1] != (w, h) else x for x in raw]
        if not a.no_opencv and a.opencv_pairs > 0:
            tv = cv2.optflow.DualTVL1OpticalFlow_create()
            t0 = time.perf_counter()
            for k in range(a.opencv_pairs):
                tv.calc(g[k], g[k + 1], None)
            dt = time.perf_counter() - t0
            print(f"{'opencv':<14} {'cpu':<8} {size:<9} {1:>5} {a.opencv_pairs:>5} {dt:8.2f} {a.opencv_pairs / dt:8.3f}",
                  flush=True)  # fmt: skip
        for dev in devices:
            stack = torch.from_numpy(np.stack(g)).to(dev).float()
            # warm-up: CUDA context / kernels, or torch.compile
            tvl1_flow(stack[:1], stack[1:2], TVL1Params(), device=dev, compile=a.compile)
            sync(dev)
            for bs in a.batches:
                t0 = time.perf_counter()
                tvl1_flow(stack[:bs], stack[1 : bs + 1], TVL1Params(), device=dev, compile=a.compile)
                sync(dev)
                dt = time.perf_counter() - t0
                eng = "torch" + ("+compile" if a.compile else "")
                print(f"{eng:<14} {dev:<8} {size:<9} {bs:>5} {bs:>5} {dt:8.2f} {bs / dt:8.3f}", flush=True)
                if dev.startswith("cuda"):
                    peak = torch.cuda.max_memory_allocated() / 2**30
                    print(f"{'':<14} {'':<8} {'':<9} {'':>5} peak GPU memory {peak:.2f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
