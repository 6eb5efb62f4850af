"""Throughput of the yolov8-seg / yolov8-pose backends: frames/s by model, batch size, precision.

Runs the backends exactly as the pipeline does (weights by name from a models folder,
``backend.run`` over Frame objects) on real 960x540 frames from the shared videos, and
prints one table row per setting. Decoding is not timed (frames are decoded beforehand);
one untimed warm-up batch precedes each measurement; ``--repeats`` timed runs (median); on
CUDA the runs are timed with CUDA events and the peak GPU memory is given.

Without ``--models-dir`` it builds random-weight checkpoints (same architecture and cost as
the released weights, from ultralytics' packaged ``yolov8<size>-<task>.yaml``) with "detect
everything" heads and ``max_det=1``, so that post-processing costs about what one detected
person costs (one full-frame retina mask / one keypoint set per frame). With real weights
in ``--models-dir`` it uses those.

    PYTHONPATH=src python bench/yolo.py                       # CPU: n models, batch 1/8/32
    PYTHONPATH=src python bench/yolo.py --models n x --frames 8 --batch 1 8
    PYTHONPATH=src python bench/yolo.py --device cuda         # adds fp16 rows
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
SHARED = Path(os.environ.get("GAITPREP_SHARED", REPO.parent / "shared"))


def stage_yolo(video, device: str, sizes: list[str], tasks: list[str], batches: list[int], precisions: list[str],
               n_frames: int, imgsz: int, repeats: int = 1, budget_s: Optional[float] = None,
               models_dir: Optional[str] = None, start: int = 0, checkpoint=None) -> dict:  # fmt: skip
    """frames/s of ``yolov8-seg`` / ``yolov8-pose`` per (model size, task, precision, batch).

    Each row: a backend built as a job builds it (``Context(device, models_dir)``), one
    untimed warm-up batch, then ``backend.run`` over ``n_frames`` frames (rounded down to
    whole batches, at least one batch), ``repeats`` times (median; CUDA events on CUDA), and
    the peak GPU memory (``torch.cuda.max_memory_allocated``, GiB) of the row. Rows still to
    run once ``budget_s`` is spent are listed under ``skipped``; ``checkpoint(out)`` is
    called after each row.

    Returns:
        ``{"frames", "size", "device", "weights", "rows": [{model, task, precision, batch,
        frames_per_s, ms_per_frame, median_s, repeats, peak_gib}], "skipped": [...]}``.
    """
    from flow import peak_gib, read_bgr, reset_peak, time_call

    from gaitprep.backends.base import Context
    from gaitprep.backends.yolo import YoloPoseBackend, YoloSegBackend, save_random_checkpoint
    from gaitprep.results import Frame

    t_stage = time.perf_counter()
    n_needed = max(n_frames, max(batches)) + max(batches)
    bgr, label = read_bgr(Path(video), start, n_needed)
    frames = [Frame(i, f) for i, f in enumerate(bgr)]
    h, w = bgr[0].shape[:2]
    tmp = tempfile.TemporaryDirectory()
    real = models_dir is not None
    mdir = models_dir or tmp.name
    out = {"frames": label, "size": f"{w}x{h}", "device": device, "imgsz": imgsz,
           "weights": f"real from {mdir}" if real else "random (detect-everything heads, max_det=1)",
           "rows": [], "skipped": []}  # fmt: skip
    try:
        for size in sizes:
            for task in tasks:
                name = f"yolov8{size}-{task}.pt"
                if budget_s is not None and time.perf_counter() - t_stage > budget_s:
                    out["skipped"].append(f"yolov8{size}-{task}: stage time box spent")
                    continue
                if not real:
                    save_random_checkpoint(f"yolov8{size}-{task}.yaml", Path(mdir) / name, detect_everything=True)
                cls = YoloSegBackend if task == "seg" else YoloPoseBackend
                for prec in precisions:
                    for bs in batches:
                        if budget_s is not None and time.perf_counter() - t_stage > budget_s:
                            out["skipped"].append(f"yolov8{size}-{task} {prec} batch {bs}: stage time box spent")
                            continue
                        params = {"weights": name, "batch_size": bs, "imgsz": imgsz, "half": prec == "fp16"}
                        if not real:
                            params["max_det"] = 1
                        b = cls(params, Context(device=device, models_dir=mdir))
                        n = max(n_frames, bs)
                        n -= n % bs  # whole batches only
                        timed = frames[bs : bs + n]
                        for _ in b.run(iter(frames[:bs])):  # warm-up batch (builds the predictor)
                            pass
                        reset_peak(device)
                        left = None if budget_s is None else max(0.0, budget_s - (time.perf_counter() - t_stage))
                        r = time_call(lambda: sum(1 for _ in b.run(iter(timed))), device, 0, repeats, left)
                        assert r["result"] == n, (r["result"], n)
                        dt = r["median_s"]
                        out["rows"].append({
                            "model": f"yolov8{size}-{task}", "backend": b.name, "precision": prec, "batch": bs,
                            "frames": n, "frames_per_s": n / dt, "ms_per_frame": 1000 * dt / n, "median_s": dt,
                            "repeats": len(r["seconds"]), "cpu_s": r["median_cpu_s"], "peak_gib": peak_gib(device),
                        })  # fmt: skip
                        if checkpoint:
                            checkpoint(out)
                        b.close()
    finally:
        tmp.cleanup()
    out["stage_s"] = time.perf_counter() - t_stage
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=str(SHARED / "data/videos/gait_normal_01.mp4"))
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--models", nargs="+", default=["n"], help="YOLOv8 sizes: n s m l x")
    ap.add_argument("--tasks", nargs="+", default=["seg", "pose"])
    ap.add_argument("--batch", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--frames", type=int, default=32, help="timed frames per row (at least one batch)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per row (median)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--models-dir", default=None, help="folder with real yolov8*-seg.pt / -pose.pt (else random)")
    args = ap.parse_args(argv)

    import torch

    from gaitprep.device import resolve_device

    device = resolve_device(args.device)
    precisions = ["fp32", "fp16"] if device.startswith("cuda") else ["fp32"]
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        cpu += f" ({os.cpu_count()} cores visible, load avg {os.getloadavg()[0]:.1f})"
    except (OSError, StopIteration):
        pass
    if device.startswith("cuda"):
        cpu = torch.cuda.get_device_name(torch.device(device))
    res = stage_yolo(args.video, device, args.models, args.tasks, args.batch, precisions, args.frames, args.imgsz,
                     args.repeats, models_dir=args.models_dir)  # fmt: skip
    print(f"# {cpu}; torch {torch.__version__}, {torch.get_num_threads()} threads; frames {res['size']} "
          f"({res['frames']}); imgsz {args.imgsz}; weights {res['weights']}")  # fmt: skip
    print("| model | backend | device | precision | batch | frames/s | ms/frame | peak GPU GiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in res["rows"]:
        pk = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"| {r['model']} | {r['backend']} | {device} | {r['precision']} | {r['batch']} | {r['frames_per_s']:.2f} | "
              f"{r['ms_per_frame']:.0f} | {pk} |")  # fmt: skip


if __name__ == "__main__":
    main()
