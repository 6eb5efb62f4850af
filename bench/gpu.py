"""Every GPU figure of gaitprep in one short, time-boxed run (``bench/gpu.sh`` calls this).

Stages, each in its own Python process with its own time box, so that a stage that fails,
runs out of memory or hangs is reported and the others still run:

``tvl1``     tvl1-torch pairs/s at 960x540 for batch 1/8/32 (:func:`flow.stage_tvl1`), peak
             GPU memory per batch, and the mean EPE (px) against OpenCV DualTVL1 on the same
             frames (OpenCV run on this machine's CPU, or read from ``--reference``); with
             OpenCV run here, also tvl1-fused's pairs/s on one CPU thread and whether its
             flow equals OpenCV's.
``gmflow``   GMFlow pairs/s fp32 and fp16 with random weights loaded through the ``gmflow``
             backend (:func:`flow.stage_gmflow`), peak GPU memory.
``yolo``     YOLOv8x-seg and YOLOv8x-pose frames/s fp32 and fp16 through the ``yolov8-seg`` /
             ``yolov8-pose`` backends, random weights built from ultralytics' packaged yaml
             (:func:`yolo.stage_yolo`), peak GPU memory.
``tvl1_compile``  (``--compile``) tvl1-torch with ``torch.compile`` (batch 8/32).

Timing: a warm-up call, then up to ``--repeats`` timed calls bracketed by CUDA events
after a ``torch.cuda.synchronize`` (median); peak memory is
``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``. The whole run is
bounded by ``--budget`` seconds (default 420); each stage gets a share and stops starting
new measurements when its share is spent.

``--tiny`` (with ``--device cpu``: what ``bench/gpu.sh --dry`` runs) executes the same code
with tiny frames and models (128x72 frames, yolov8n at imgsz 64, GMFlow on 96x64) in well
under a minute on CPU; ``tests/test_bench_gpu.py`` runs it.

Output: a table on stdout; ``results.json`` (everything, with the machine), ``results.md``
(the table) and one log per stage in ``--out`` (default ``$OUT``, else
``results/bench_gpu``).

    python bench/gpu.py --device cuda --out /tmp/gpu          # on the GPU machine
    python bench/gpu.py --device cpu --tiny --out /tmp/dry    # the dry run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
SHARED = Path(os.environ.get("GAITPREP_SHARED", REPO.parent / "shared"))

#: stage -> (share of the budget, packages it needs: import name -> pip name)
STAGES = {
    "tvl1": (0.36, {"torch": "torch", "cv2": "opencv-contrib-python<4.14"}),
    "gmflow": (0.18, {"torch": "torch", "ptlflow": "ptlflow==0.4.2"}),
    "yolo": (0.36, {"torch": "torch", "ultralytics": "ultralytics"}),
    "tvl1_compile": (0.25, {"torch": "torch", "cv2": "opencv-contrib-python<4.14"}),
}
#: TV-L1 parameters of the dry run (both engines): fewer levels, warps and outer iterations than
#: OpenCV's defaults (5, 5, 10), so that the iteration count, not the image size, stays small
TINY_TVL1 = {"nscales": 2, "warps": 2, "outer_iterations": 3}
#: seconds a stage process may take beyond its share (interpreter start, imports, CUDA context)
STARTUP_S = 45


def settings(tiny: bool, device: str) -> dict:
    """Per-stage arguments: the real sizes, or the tiny ones of the dry run."""
    cuda = device.startswith("cuda")
    prec = ["fp32", "fp16"]
    if tiny:
        return {
            "tvl1": {"size": [128, 72], "batches": [1, 2], "opencv_pairs": 2, "repeats": 1, "tvl1_params": TINY_TVL1},
            "gmflow": {"size": [96, 64], "batch": 1, "precisions": prec, "repeats": 1},
            # fp16 YOLOv8 is an error on CPU (half: true needs CUDA): fp32 only there
            "yolo": {"sizes": ["n"], "tasks": ["seg", "pose"], "batches": [1, 2], "n_frames": 2, "imgsz": 64,
                     "precisions": prec if cuda else ["fp32"], "repeats": 2},  # fmt: skip
            "tvl1_compile": {"size": [128, 72], "batches": [2], "opencv_pairs": 0, "repeats": 1,
                             "tvl1_params": TINY_TVL1},  # fmt: skip
        }
    return {
        "tvl1": {"size": [960, 540], "batches": [1, 8, 32], "opencv_pairs": 8, "repeats": 3},
        "gmflow": {"size": [960, 540], "batch": 8, "precisions": prec, "repeats": 3},
        "yolo": {"sizes": ["x"], "tasks": ["seg", "pose"], "batches": [8, 32], "n_frames": 64, "imgsz": 640,
                 "precisions": prec if cuda else ["fp32"], "repeats": 3},  # fmt: skip
        "tvl1_compile": {"size": [960, 540], "batches": [8, 32], "opencv_pairs": 0, "repeats": 3},
    }


def missing_packages(stage: str) -> list[str]:
    """The packages ``stage`` needs that this interpreter cannot import (found without
    importing them), as pip requirement strings; cv2 without ``optflow`` counts as missing
    only for the OpenCV reference (see :func:`flow.opencv_tvl1`)."""
    return [pip for mod, pip in STAGES[stage][1].items() if importlib.util.find_spec(mod) is None]


def run_stage(stage: str, a: argparse.Namespace, kw: dict, budget_s: float, out_dir: Path, tmp: Path) -> dict:
    """Run one stage in a child process bounded by ``budget_s + STARTUP_S`` seconds; its
    output goes to ``<out_dir>/<stage>.log``. Returns its result or ``{"error": ...}``."""
    miss = missing_packages(stage)
    if miss:
        return {"error": f"missing package(s) {', '.join(miss)} for python {sys.executable}: "
                f"run bench/gpu.sh without --no-install, or pip install {' '.join(repr(m) for m in miss)}"}  # fmt: skip
    res_file = tmp / f"{stage}.json"
    job = {"stage": stage, "video": str(a.video), "start": a.start, "device": a.device, "budget_s": budget_s,
           "reference": str(a.reference) if a.reference else None, **kw}  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(job), "--_result", str(res_file)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(BENCH)] + [p for p in [env.get("PYTHONPATH")] if p])
    log = out_dir / f"{stage}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        try:
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=budget_s + STARTUP_S).returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    tail = log.read_text(errors="replace").strip().splitlines()[-6:]
    # the rows measured before a failure or a kill were checkpointed by the child
    res = json.loads(res_file.read_text()) if res_file.is_file() else {}
    if rc is None:
        res["error"] = f"killed after {wall:.0f} s (time box {budget_s + STARTUP_S:.0f} s); log tail: {' | '.join(tail)}"
    elif rc != 0:
        res["error"] = res.get("error") or f"exit status {rc}; log tail: {' | '.join(tail)}"
    elif not res:
        res["error"] = f"no result written; log tail: {' | '.join(tail)}"
    res["process_s"] = wall
    res["log"] = str(log)
    return res


def child(job: dict, result: Path) -> int:
    """The stage process: run one stage function and write its result JSON (also when it
    fails: the rows measured so far and the error)."""
    sys.path.insert(0, str(BENCH))
    stage, dev = job["stage"], job["device"]
    size = tuple(job.get("size", [960, 540]))

    def checkpoint(partial: dict) -> None:  # rows so far, in case the parent kills this process
        result.write_text(json.dumps({**partial, "partial": True}, indent=1, default=float))

    try:
        res = _run_stage_function(stage, job, dev, size, checkpoint)
    except Exception as e:  # noqa: BLE001 - reported, with the rows measured so far
        import traceback

        traceback.print_exc()
        res = json.loads(result.read_text()) if result.is_file() else {}
        res["error"] = f"{type(e).__name__}: {e}"
        result.write_text(json.dumps(res, indent=1, default=float))
        return 1
    result.write_text(json.dumps(res, indent=1, default=float))
    print(json.dumps(res, indent=1, default=float), flush=True)
    return 0


def _run_stage_function(stage: str, job: dict, dev: str, size: tuple, checkpoint) -> dict:
    if stage not in ("tvl1", "tvl1_compile", "gmflow", "yolo"):
        raise ValueError(f"unknown stage {stage}")
    import torch

    import flow

    if dev.startswith("cuda"):
        torch.cuda.init()
    print(f"[{stage}] {flow.machine()}; budget {job['budget_s']:.0f} s", flush=True)

    if stage in ("tvl1", "tvl1_compile"):
        res = flow.stage_tvl1(Path(job["video"]), job["start"], size, dev, job["batches"], job["opencv_pairs"],
                              job["repeats"], job["budget_s"], compile=stage == "tvl1_compile",
                              reference=Path(job["reference"]) if job["reference"] else None,
                              checkpoint=checkpoint, tvl1_params=job.get("tvl1_params"))  # fmt: skip
    elif stage == "gmflow":
        res = flow.stage_gmflow(Path(job["video"]), job["start"], size, dev, job["batch"], job["precisions"],
                                job["repeats"], job["budget_s"], checkpoint=checkpoint)  # fmt: skip
    elif stage == "yolo":
        import yolo

        res = yolo.stage_yolo(job["video"], dev, job["sizes"], job["tasks"], job["batches"], job["precisions"],
                              job["n_frames"], job["imgsz"], job["repeats"], job["budget_s"], start=job["start"],
                              checkpoint=checkpoint)  # fmt: skip
    return res


def make_reference(a: argparse.Namespace) -> int:
    """Write OpenCV DualTVL1's flows of the tvl1 stage's frames (``--start``, its pair count
    and size, ``--tiny`` or not) to ``a.make_reference``, keyed as ``bench/flow_parity.py
    --cache`` keys them (``<video name>:<start>:<pairs>:<w>x<h>``)."""
    sys.path.insert(0, str(BENCH))
    import cv2
    import numpy as np

    import flow

    kw = settings(a.tiny, "cuda")["tvl1"]
    w, h = kw["size"]
    n = kw["opencv_pairs"]
    bgr, label = flow.read_bgr(a.video, a.start, n + 1, (w, h))
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in bgr]
    ref, secs = flow.opencv_tvl1(grays, n, params=flow.TVL1Params(**kw.get("tvl1_params", {})))
    a.make_reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.make_reference, key=f"{Path(a.video).name}:{a.start}:{n}:{w}x{h}", flows=np.stack(ref), seconds=secs)
    print(f"wrote {a.make_reference}: OpenCV DualTVL1 of {label}, {n} pairs at {w}x{h}, {n / secs:.2f} pairs/s")
    return 0


def fmt(v, nd=2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def table(results: dict) -> list[str]:
    """One markdown row per measurement: what, setting, throughput, peak GPU memory, note."""
    lines = ["| stage | setting | throughput | median s | peak GPU GiB | note |", "| --- | --- | --- | --- | --- | --- |"]
    for stage, r in results.items():
        if stage == "machine" or not isinstance(r, dict):
            continue
        if "error" in r and not r.get("rows"):
            lines.append(f"| {stage} | - | - | - | - | FAILED: {r['error'][:300]} |")
            continue
        for row in r.get("rows", []):
            if stage.startswith("tvl1"):
                eng = "tvl1-torch" + (" + compile" if stage == "tvl1_compile" else "")
                lines.append(f"| {eng} | {r['size']} batch {row['batch']} | {row['pairs_per_s']:.2f} pairs/s | "
                             f"{row['median_s']:.3f} (n={row['repeats']}) | {fmt(row['peak_gib'])} | warm-up {row['warmup_s']:.1f} s |")  # fmt: skip
            elif stage == "gmflow":
                note = "" if row["fp16_active"] or row["precision"] == "fp32" else "fp16 inactive on CPU (fp32 ran)"
                lines.append(f"| gmflow | {r['size']} batch {r['batch']} {row['precision']} | {row['pairs_per_s']:.2f} pairs/s | "
                             f"{row['median_s']:.3f} (n={row['repeats']}) | {fmt(row['peak_gib'])} | {note} |")  # fmt: skip
            elif stage == "yolo":
                lines.append(f"| {row['model']} | {r['size']} imgsz {r['imgsz']} batch {row['batch']} {row['precision']} | "
                             f"{row['frames_per_s']:.2f} frames/s | {row['median_s']:.3f} (n={row['repeats']}) | "
                             f"{fmt(row['peak_gib'])} | |")  # fmt: skip
        if stage.startswith("tvl1"):
            if r.get("opencv_pairs_per_s") is not None:
                lines.append(f"| OpenCV DualTVL1 (CPU) | {r['size']} | {r['opencv_pairs_per_s']:.2f} pairs/s | - | - | "
                             f"{r.get('epe_reference', '')} |")  # fmt: skip
            if r.get("fused_pairs_per_s") is not None:
                same = "flow identical to OpenCV's" if r["fused_identical"] else "flow DIFFERS from OpenCV's"
                lines.append(f"| tvl1-fused (CPU, 1 thread) | {r['size']} | {r['fused_pairs_per_s']:.2f} pairs/s | - | - | {same} |")
            elif r.get("fused_error"):
                lines.append(f"| tvl1-fused (CPU, 1 thread) | {r['size']} | - | - | - | FAILED: {r['fused_error'][:300]} |")
            if r.get("epe_mean_px") is not None:
                lines.append(f"| EPE tvl1-torch vs OpenCV | {r['size']}, {r['epe_pairs']} pairs | "
                             f"{r['epe_mean_px']:.4g} px mean | - | - | same frames ({r['frames']}) |")  # fmt: skip
            elif r.get("epe_error"):
                lines.append(f"| EPE tvl1-torch vs OpenCV | {r['size']} | - | - | - | not measured: {r['epe_error']} |")
        for s in r.get("skipped", []):
            lines.append(f"| {stage} | {s} | - | - | - | skipped |")
        if r.get("error"):
            lines.append(f"| {stage} | - | - | - | - | stopped: {r['error'][:300]} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", help="auto (cuda if torch sees one, else error) | cuda | cuda:N | cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny frames and models (the CPU dry run)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default $OUT, else results/bench_gpu)")
    ap.add_argument("--video", type=Path, default=SHARED / "data" / "videos" / "gait_normal_01.mp4",
                    help="frames to use (default $GAITPREP_SHARED/data/videos/gait_normal_01.mp4; "
                         "if it does not exist, gaitprep's synthetic walker is rendered instead)")  # fmt: skip
    ap.add_argument("--start", type=int, default=50, help="first frame (the walker is in view from 50)")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for all stages together")
    ap.add_argument("--stages", nargs="+", default=["tvl1", "gmflow", "yolo"], choices=list(STAGES))
    ap.add_argument("--compile", action="store_true", help="also the tvl1_compile stage")
    ap.add_argument("--reference", type=Path, default=None,
                    help="OpenCV flows of the same frames (.npz of bench/flow_parity.py --cache) when this "
                         "machine's cv2 has no optflow")  # fmt: skip
    ap.add_argument("--make-reference", type=Path, default=None, metavar="NPZ",
                    help="only compute OpenCV's flows of the tvl1 stage's frames into NPZ (on a CPU machine "
                         "with opencv-contrib), for --reference on a machine without it")  # fmt: skip
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_result", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        return child(json.loads(a._child), Path(a._result))

    if a.make_reference:
        return make_reference(a)
    t_all = time.perf_counter()
    if importlib.util.find_spec("torch") is None:
        print(f"bench/gpu.py: torch is not importable by {sys.executable}; run bench/gpu.sh (it installs), "
              "or use a python that has torch", file=sys.stderr)  # fmt: skip
        return 2
    import torch

    if a.device == "auto":
        if not torch.cuda.is_available():
            print("bench/gpu.py: torch sees no CUDA device (torch.cuda.is_available() is False, torch "
                  f"{torch.__version__}, CUDA build {torch.version.cuda}); for the CPU dry run use --device cpu --tiny "
                  "(bench/gpu.sh --dry)", file=sys.stderr)  # fmt: skip
            return 2
        a.device = "cuda"
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"bench/gpu.py: --device {a.device} but torch sees no CUDA device", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "src"))
    from gaitprep.device import resolve_device

    a.device = resolve_device(a.device)  # as a job resolves it: cuda -> cuda:0
    out = a.out or Path(os.environ.get("OUT") or REPO / "results" / "bench_gpu")
    out.mkdir(parents=True, exist_ok=True)
    stages = list(a.stages) + (["tvl1_compile"] if a.compile and "tvl1_compile" not in a.stages else [])
    sys.path.insert(0, str(BENCH))
    import flow

    info = flow.machine_info()
    if a.device.startswith("cuda"):
        p = torch.cuda.get_device_properties(torch.device(a.device))
        info["gpu"] = f"{p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs"
    info["device"] = a.device
    info["video"] = str(a.video) if a.video.is_file() else f"{a.video} (not found: synthetic walker frames)"
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg']}; GPU: {info['gpu']}; "
          f"torch {info['torch']} (CUDA {info['cuda']}), OpenCV {info['opencv']}, python {info['python']}", flush=True)
    print(f"frames: {info['video']}; device {a.device}; {'tiny (dry run)' if a.tiny else 'full sizes'}; "
          f"budget {a.budget:.0f} s; out {out}", flush=True)  # fmt: skip
    for s in stages:
        miss = missing_packages(s)
        if miss:
            print(f"  stage {s}: MISSING {', '.join(miss)} -> it will be skipped", flush=True)
    if importlib.util.find_spec("cv2") is not None:
        import cv2

        if not hasattr(cv2, "optflow"):
            print(f"  cv2 {cv2.__version__} has no cv2.optflow (opencv-contrib-python missing): no OpenCV TV-L1 "
                  "reference, so no EPE, unless --reference is given", flush=True)  # fmt: skip

    kw = settings(a.tiny, a.device)
    results = {"machine": info}
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(stages):
            # what is left, less the start-up allowance of this and the later stages, shared by weight
            left = a.budget - (time.perf_counter() - t_all) - STARTUP_S * (len(stages) - i)
            rest = sum(STAGES[x][0] for x in stages[i:])
            budget = max(5.0, left * STAGES[s][0] / rest) if left > 5 else 0.0
            if budget <= 0:
                results[s] = {"error": "not run: the overall --budget was spent"}
                continue
            print(f"-- stage {s} (time box {budget:.0f} s + {STARTUP_S} s start-up) ...", flush=True)
            results[s] = run_stage(s, a, kw[s], budget, out, Path(tmp))
            status = results[s].get("error", "ok")
            print(f"   {s}: {status[:400]} ({results[s]['process_s']:.0f} s)" if "process_s" in results[s] else
                  f"   {s}: {status[:400]}", flush=True)  # fmt: skip
            (out / "results.json").write_text(json.dumps(results, indent=1, default=float))  # so far
    results["total_s"] = time.perf_counter() - t_all
    lines = table(results)
    print("\n".join(lines))
    print(f"total {results['total_s']:.0f} s; wrote {out / 'results.json'}, {out / 'results.md'}")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    head = (f"# gaitprep GPU benchmark\n\n{info['gpu']}; {info['cpu']} ({info['cores']} cores, load {info['load_avg']}); "
            f"torch {info['torch']} CUDA {info['cuda']}, OpenCV {info['opencv']}; frames {info['video']}; "
            f"{'tiny (dry run)' if a.tiny else 'full sizes'}; total {results['total_s']:.0f} s.\n\n")  # fmt: skip
    (out / "results.md").write_text(head + "\n".join(lines) + "\n")
    failed = [s for s in stages if "error" in results[s]]
    return 1 if len(failed) == len(stages) else 0


if __name__ == "__main__":
    sys.exit(main())
