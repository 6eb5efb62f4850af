"""Throughput and accuracy of the flow engines: OpenCV DualTVL1 (CPU), gaitprep's PyTorch TV-L1
(CPU or CUDA) and GMFlow; also the timing helpers shared by ``bench/yolo.py`` and ``bench/gpu.py``.

Four modes:

    # pairs/s per device, frame size and batch size (one run; the original table)
    PYTHONPATH=src python bench/flow.py --sizes 480x270 --batches 1 4 --threads 1
    PYTHONPATH=src python bench/flow.py --devices cuda --batches 1 8 32 --no-opencv

    # the CPU default: the backends as the pipeline runs them (tvl1-opencv, tvl1-fused,
    # tvl1-torch with and without torch.compile) x threads x scale, wall and process CPU s
    # per pair, mean EPE of each against OpenCV at full resolution, and whether each
    # tvl1-fused row's flow equals tvl1-opencv's (same scale and params) bit for bit
    PYTHONPATH=src python bench/flow.py --cpu-matrix --pairs 4 --json /tmp/cpu_matrix.json

    # tvl1-fused against tvl1-opencv (1 thread) as the flow job runs them: flows equal bit
    # for bit?, CPU s per pair of each, on pairs spread over each shared video (0 = all)
    PYTHONPATH=src python bench/flow.py --identity --pairs 0 --scales 0.5 --params-list '{"nscales": 3, "warps": 2}'

    # motion ROI (roi: true) against the full frame, same engine and scale, on pairs spread
    # over each clip: CPU s per pair, solved share, EPE, PNG pixels that differ, the rule
    PYTHONPATH=src python bench/flow.py --roi-matrix --pairs 16 --cache /tmp/roi_cache

Frames: consecutive frames of a walking video (default ``gait_normal_01.mp4`` from frame 50,
the walker in view). Timed calls follow an untimed warm-up call (which, with ``--compile``,
pays the compilation); CUDA timings use CUDA events after a synchronisation. The machine
(CPU model, cores, load average, GPU) is printed with every table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gaitprep.flow.tvl1 import TVL1Params, tvl1_flow  # noqa: E402
from gaitprep.flow.tvl1_params import opencv_dualtvl1  # noqa: E402
from gaitprep.video import VideoReader  # noqa: E402

SHARED = Path(os.environ.get("GAITPREP_SHARED", ROOT.parent / "shared"))
DEFAULT_VIDEO = SHARED / "data" / "videos" / "gait_normal_01.mp4"


# ----------------------------------------------------------------------------- helpers


def machine_info() -> dict:
    """CPU model, usable cores, 1/5/15-min load average, GPU name, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else [float("nan")] * 3
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu, "cores": cores, "load_avg": [round(x, 2) for x in load], "gpu": gpu,
        "torch": torch.__version__, "cuda": torch.version.cuda, "opencv": cv2.__version__,
        "python": platform.python_version(),
    }  # fmt: skip


def machine() -> str:
    """:func:`machine_info` as one line."""
    m = machine_info()
    return (f"{m['cpu']}, {m['cores']} cores (load avg {m['load_avg'][0]:.1f}), {m['gpu'] or 'no GPU'}; "
            f"torch {m['torch']}, OpenCV {m['opencv']}")  # fmt: skip


def sync(device) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def time_call(fn: Callable[[], object], device="cpu", warmup: int = 1, repeats: int = 3,
              budget_s: Optional[float] = None) -> dict:  # fmt: skip
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    On CUDA each timed call is bracketed by CUDA events (after a ``synchronize``) and the
    event time is used; on CPU ``time.perf_counter``. Process CPU time
    (``time.process_time``: user + system of all the process's threads) is recorded per call
    too. Repeats stop early once ``budget_s`` (wall, warm-up included) is spent, after at
    least one timed call.

    Returns:
        ``{"seconds": [s per timed call], "median_s", "cpu_s": [...], "median_cpu_s",
        "warmup_s", "result": the last call's return value}``.
    """
    cuda = str(device).startswith("cuda")
    t_start = time.perf_counter()
    out = None
    for _ in range(warmup):
        out = fn()
        sync(device)
    warm = time.perf_counter() - t_start
    secs, cpus = [], []
    for _ in range(max(1, repeats)):
        c0 = time.process_time()
        if cuda:
            sync(device)
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = fn()
            e1.record()
            e1.synchronize()
            secs.append(e0.elapsed_time(e1) / 1000.0)
        else:
            t0 = time.perf_counter()
            out = fn()
            secs.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if budget_s is not None and time.perf_counter() - t_start > budget_s:
            break
    return {
        "seconds": secs, "median_s": statistics.median(secs), "cpu_s": cpus,
        "median_cpu_s": statistics.median(cpus), "warmup_s": warm, "result": out,
    }  # fmt: skip


def reset_peak(device) -> None:
    """Reset torch's peak-memory counter of a CUDA device (no-op on CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_gib(device) -> Optional[float]:
    """``torch.cuda.max_memory_allocated`` since the last :func:`reset_peak`, GiB (None on CPU)."""
    if str(device).startswith("cuda"):
        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**30
    return None


def read_bgr(path: Path, start: int, n: int, size: Optional[tuple[int, int]] = None) -> tuple[list[np.ndarray], str]:
    """``n`` consecutive BGR ``(H, W, 3)`` uint8 frames from source frame ``start``, resized to
    ``size = (w, h)`` with INTER_AREA when given; the clip is looped if it is too short.

    When ``path`` does not exist (e.g. a GPU machine without the shared data), the frames
    are rendered by gaitprep's synthetic walker instead (:mod:`gaitprep.synth`) and the
    returned label says so. Returns ``(frames, label)``.
    """
    frames: list[np.ndarray] = []
    path = Path(path)
    if path.is_file():
        label = f"{path.name} frames {start}.."
        while len(frames) < n:
            got = [f.image for f in VideoReader(path, start, start + n - len(frames), prefetch=0)]
            if not got:
                raise SystemExit(f"{path}: no frame from {start}")
            frames += got
            start = 0  # loop from the start of the clip
    else:
        from gaitprep.synth.model import WalkerParams
        from gaitprep.synth.render import render_frames

        label = f"synthetic walker (gaitprep.synth; {path} not found)"
        while len(frames) < n:
            for k, img in render_frames(WalkerParams()):
                if k >= start:
                    frames.append(img)
                if len(frames) >= n:
                    break
            start = 0
    if size is not None:
        w, h = size
        frames = [f if f.shape[1::-1] == (w, h) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    return frames, label


def read_gray(path: Path, start: int, n: int) -> list[np.ndarray]:
    """``n`` grey frames from source frame ``start`` (through gaitprep's VideoReader)."""
    frames = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in VideoReader(path, start, start + n, prefetch=0)]
    if len(frames) < n:
        raise SystemExit(f"{path}: only {len(frames)} frames from {start}")
    return frames


def parse_size(s: str) -> tuple[int, int]:
    w, h = s.lower().split("x")
    return int(w), int(h)


def mean_epe(a, b) -> float:
    """Mean end-point error (px) between flows ``(..., H, W, 2)``."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1).mean())


def opencv_tvl1(grays: list[np.ndarray], pairs: int, budget_s: Optional[float] = None,
                params: Optional[TVL1Params] = None) -> tuple[list[np.ndarray], float]:  # fmt: skip
    """OpenCV DualTVL1 (``params``, default OpenCV's defaults) on ``grays[k] -> grays[k+1]``
    for up to ``pairs`` pairs, stopping early (after at least one) once ``budget_s`` wall
    seconds are spent. Returns ``(flows (H, W, 2) float32 px, seconds)``.

    Raises:
        RuntimeError: this cv2 has no ``optflow`` (opencv-contrib-python not installed).
    """
    if not hasattr(cv2, "optflow"):
        raise RuntimeError(f"cv2 {cv2.__version__} ({cv2.__file__}) has no cv2.optflow: install opencv-contrib-python<4.14")
    tv = opencv_dualtvl1(params or TVL1Params())
    flows, t0 = [], time.perf_counter()
    for k in range(pairs):
        flows.append(tv.calc(grays[k], grays[k + 1], None))
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            break
    return flows, time.perf_counter() - t0


def fused_vs_opencv(grays: list[np.ndarray], ref: list[np.ndarray], params: TVL1Params) -> dict:
    """tvl1-fused (CPU, one thread) on the pairs OpenCV solved into ``ref``: pairs/s after one
    untimed warm-up pair (which compiles or loads Numba's cache) and whether every flow equals
    OpenCV's bit for bit. A failure is reported in ``fused_error``, not raised."""
    try:
        from gaitprep.flow.tvl1_fused import FusedTVL1

        eng = FusedTVL1(params)
        eng.calc(grays[0], grays[1])
        t0 = time.perf_counter()
        flows = [eng.calc(grays[k], grays[k + 1]) for k in range(len(ref))]
        dt = time.perf_counter() - t0
        return {"fused_pairs_per_s": len(flows) / dt, "fused_identical": all(np.array_equal(a, b) for a, b in zip(flows, ref))}
    except Exception as e:  # noqa: BLE001 - a benchmark row, not a crash of the stage
        return {"fused_error": f"{type(e).__name__}: {e}"}


# ----------------------------------------------------------------------------- GPU stages (bench/gpu.py)


def stage_tvl1(video: Path, start: int, size: tuple[int, int], device: str, batches: list[int],
               opencv_pairs: int, repeats: int, budget_s: float, compile: bool = False,
               reference: Optional[Path] = None, checkpoint: Optional[Callable[[dict], None]] = None,
               tvl1_params: Optional[dict] = None) -> dict:  # fmt: skip
    """tvl1-torch pairs/s per batch size on ``device`` and mean EPE vs OpenCV on the same frames.

    One warm-up call per batch size, then up to ``repeats`` timed calls (median), the peak
    GPU memory of each batch size, and the mean EPE (px, whole frame) of the largest batch's
    flows against OpenCV DualTVL1 on its first ``opencv_pairs`` pairs (OpenCV computed here,
    or read from ``reference``, an ``.npz`` written by ``bench/flow_parity.py --cache``
    on the same frames). Time-boxed: batch sizes still to run when ``budget_s`` is spent are
    reported as skipped. ``checkpoint(out)`` is called after each row (partial results).
    ``tvl1_params`` overrides OpenCV's default TV-L1 parameters for both engines (the dry
    run uses fewer scales and warps to stay short).
    """
    t_stage = time.perf_counter()
    w, h = size
    nmax = max(batches) + 1
    bgr, label = read_bgr(video, start, max(nmax, opencv_pairs + 1), size)
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in bgr]
    stack = torch.from_numpy(np.stack(grays)).to(device).float()
    p = TVL1Params(**(tvl1_params or {}))
    out = {"frames": label, "size": f"{w}x{h}", "device": device, "compile": compile, "rows": [], "skipped": [],
           "tvl1_params": tvl1_params or "OpenCV defaults"}  # fmt: skip
    flows_big = None
    for bs in sorted(batches):
        left = budget_s * 0.75 - (time.perf_counter() - t_stage)
        if left <= 0:
            out["skipped"].append(f"batch {bs}: stage time box spent")
            continue
        reset_peak(device)
        r = time_call(lambda: tvl1_flow(stack[:bs], stack[1 : bs + 1], p, device=device, compile=compile),
                      device, warmup=1, repeats=repeats, budget_s=left)  # fmt: skip
        flows_big = r.pop("result")
        out["rows"].append({
            "batch": bs, "pairs_per_s": bs / r["median_s"], "median_s": r["median_s"], "repeats": len(r["seconds"]),
            "seconds": r["seconds"], "warmup_s": r["warmup_s"], "peak_gib": peak_gib(device),
        })  # fmt: skip
        if checkpoint:
            checkpoint(out)
    if flows_big is None:
        return out
    ours = flows_big.permute(0, 2, 3, 1).cpu().numpy()
    ref, src = None, None
    if reference is not None and Path(reference).is_file():
        z = np.load(reference)
        key = f"{Path(video).name}:{start}:"
        if str(z["key"]).startswith(key) and str(z["key"]).endswith(f"{w}x{h}"):
            ref, src = list(z["flows"]), f"{reference} (key {z['key']}; OpenCV speed not measured here)"
        else:
            out["reference_note"] = f"{reference}: key {z['key']} does not match {key}*:{w}x{h}; not used"
    if ref is None:
        left = budget_s - (time.perf_counter() - t_stage)
        try:
            ref, t_cv = opencv_tvl1(grays, min(opencv_pairs, len(ours)), budget_s=max(1.0, left), params=p)
            src = f"cv2.optflow.DualTVL1 {cv2.__version__}, {cv2.getNumThreads()} threads, computed here"
            out["opencv_pairs_per_s"] = len(ref) / t_cv
            out.update(fused_vs_opencv(grays, ref, p))
        except RuntimeError as e:
            out["epe_error"] = str(e)
    if ref is not None:
        k = min(len(ref), len(ours))
        out["epe_mean_px"] = float(np.mean([mean_epe(ours[i], ref[i]) for i in range(k)]))
        out["epe_pairs"] = k
        out["epe_reference"] = src
    out["stage_s"] = time.perf_counter() - t_stage
    return out


def stage_gmflow(video: Path, start: int, size: tuple[int, int], device: str, batch: int, precisions: list[str],
                 repeats: int, budget_s: float, model: str = "gmflow",
                 checkpoint: Optional[Callable[[dict], None]] = None) -> dict:  # fmt: skip
    """GMFlow pairs/s (random weights, loaded through the ``gmflow`` backend as a user's
    checkpoint would be) per precision, and peak GPU memory. The backend's ``run`` is timed
    over ``batch`` pairs (one forward pass) after a warm-up pass."""
    import tempfile

    import ptlflow

    from gaitprep.backends.base import Context
    from gaitprep.backends.gmflow import GMFlowBackend
    from gaitprep.results import Frame

    t_stage = time.perf_counter()
    bgr, label = read_bgr(video, start, batch + 1, size)
    frames = [Frame(start + i, f) for i, f in enumerate(bgr)]
    out = {"frames": label, "size": "x".join(map(str, size)), "device": device, "batch": batch, "model": model,
           "weights": "random (torch.manual_seed(0))", "rows": [], "skipped": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        torch.save({"state_dict": ptlflow.get_model(model).state_dict()}, Path(d) / "random.ckpt")
        for prec in precisions:
            left = budget_s - (time.perf_counter() - t_stage)
            if left <= 0:
                out["skipped"].append(f"{prec}: stage time box spent")
                continue
            be = GMFlowBackend({"model": model, "checkpoint": "random.ckpt", "batch_size": batch, "fp16": prec == "fp16"},
                               Context(device=device, models_dir=d))  # fmt: skip
            reset_peak(device)
            r = time_call(lambda: sum(1 for _ in be.run(iter(frames))), device, 1, repeats, left)
            assert r["result"] == batch, r["result"]
            out["rows"].append({"precision": prec, "fp16_active": be.fp16, "pairs_per_s": batch / r["median_s"],
                                "median_s": r["median_s"], "repeats": len(r["seconds"]), "seconds": r["seconds"],
                                "warmup_s": r["warmup_s"], "peak_gib": peak_gib(device)})  # fmt: skip
            if checkpoint:
                checkpoint(out)
            be.close()
            del be
    out["stage_s"] = time.perf_counter() - t_stage
    return out


# ----------------------------------------------------------------------------- CPU default matrix


def cpu_matrix(a) -> int:
    """The flow backends as the pipeline runs them, on CPU: wall and process CPU seconds per
    pair and mean EPE against OpenCV at full resolution (the reference), per configuration."""
    from gaitprep.backends.base import Context
    from gaitprep.backends.tvl1_fused import TVL1FusedBackend
    from gaitprep.backends.tvl1_opencv import TVL1OpenCVBackend
    from gaitprep.backends.tvl1_torch import TVL1TorchBackend
    from gaitprep.results import Frame

    bgr, label = read_bgr(a.video, a.start, a.pairs + 1)
    frames = [Frame(a.start + i, f) for i, f in enumerate(bgr)]
    h, w = bgr[0].shape[:2]
    info = machine_info()
    print(f"machine: {machine()}\nframes: {label}, {a.pairs} pairs at {w}x{h}", flush=True)

    # reference: OpenCV DualTVL1 at full resolution (cv2 default threads), cached
    key = f"{Path(a.video).name}:{a.start}:{a.pairs}:{w}x{h}"
    if a.cache and Path(a.cache).is_file() and str(np.load(a.cache)["key"]) == key:
        z = np.load(a.cache)
        ref = list(z["flows"])
        print(f"reference: OpenCV full resolution, read from {a.cache}", flush=True)
    else:
        grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in bgr]
        ref, t_ref = opencv_tvl1(grays, a.pairs)
        if a.cache:
            np.savez(a.cache, key=key, flows=np.stack(ref), seconds=t_ref)
        print(f"reference: OpenCV full resolution, {t_ref:.1f} s", flush=True)

    solver = [json.loads(x) for x in (a.params_list or ["{}"])]
    configs = []
    for engine in a.engines:
        for th in a.thread_list:
            for sc in a.scales:
                for extra in solver:
                    configs.append((engine, th, sc, extra))
    rows = []
    opencv_flows = {}  # (scale, params) -> tvl1-opencv's flows, to check tvl1-fused against
    print(f"{'engine':<20} {'threads':>7} {'scale':>5} {'params':<28} {'wall s/pair':>11} {'CPU s/pair':>10} {'EPE px':>7} "
          f"{'EPE max':>7} {'moving':>7} {'load1':>5} {'= opencv':>8}", flush=True)  # fmt: skip
    for engine, th, sc, extra in configs:
        cv2.setNumThreads(th)
        torch.set_num_threads(th)
        ctx = Context(device="cpu")
        if engine == "opencv":
            be = TVL1OpenCVBackend({"scale": sc, **extra}, ctx)
        elif engine == "fused":
            be = TVL1FusedBackend({"scale": sc, **extra}, ctx)
        else:
            be = TVL1TorchBackend({"scale": sc, "threads": th, "compile": engine == "torch-compile", "batch_size": 1, **extra}, ctx)
        # warm-up on the first pair (pays torch.compile's compilation), then all pairs timed once
        t0 = time.perf_counter()
        list(be.run(iter(frames[:2])))
        warm = time.perf_counter() - t0
        load0 = os.getloadavg()[0]
        c0, t0 = time.process_time(), time.perf_counter()
        flows = [r.flow for r in be.run(iter(frames))]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        load1 = (load0 + os.getloadavg()[0]) / 2
        epes = [mean_epe(f, r) for f, r in zip(flows, ref)]
        # over the moving pixels (reference magnitude > 0.5 px): the walker, where the flow is read
        moving = [float(np.linalg.norm(f - r, axis=-1)[np.linalg.norm(r, axis=-1) > 0.5].mean()) for f, r in zip(flows, ref)]
        row = {"engine": engine, "threads": th, "scale": sc, "params": extra, "pairs": len(flows),
               "wall_s_per_pair": wall / len(flows), "cpu_s_per_pair": cpu / len(flows), "epe_mean_px": float(np.mean(epes)),
               "epe_max_px": float(np.max(epes)), "epe_moving_px": float(np.mean(moving)), "warmup_s": warm,
               "load_avg_1min": round(load1, 2)}  # fmt: skip
        key = (sc, json.dumps(extra, sort_keys=True))
        if engine == "opencv":
            opencv_flows.setdefault(key, flows)
        # bit-identical to tvl1-opencv at the same scale and solver params (measured in this run)?
        same = None if engine == "opencv" else opencv_flows.get(key)
        row["identical_to_opencv"] = None if same is None else all(np.array_equal(f, g) for f, g in zip(flows, same))
        rows.append(row)
        ident = {None: "-", True: "yes", False: "NO"}[row["identical_to_opencv"]]
        print(f"{engine:<20} {th:>7} {sc:>5} {json.dumps(extra):<28} {row['wall_s_per_pair']:11.2f} {row['cpu_s_per_pair']:10.2f} "
              f"{row['epe_mean_px']:7.3f} {row['epe_max_px']:7.3f} {row['epe_moving_px']:7.3f} {load1:5.1f} {ident:>8}", flush=True)  # fmt: skip
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"machine": info, "frames": label, "size": [w, h], "rows": rows}, indent=1))
    return 0


# ----------------------------------------------------------------------------- tvl1-fused = tvl1-opencv


def identity_check(a) -> int:
    """tvl1-fused against tvl1-opencv (OpenCV on 1 thread) as the flow job computes them
    (grey, ``scale``, solver params), on ``--pairs`` pairs spread over each of ``--videos``
    (0: every pair): how many flows are equal bit for bit, the largest difference, and the
    process CPU seconds per pair of each (the fused engine's first pair, which compiles or
    loads Numba's cache, untimed)."""
    from gaitprep.flow.tvl1_fused import FusedTVL1
    from gaitprep.flow.tvl1_params import TVL1Settings, gray_at_scale

    cv2.setNumThreads(1)
    print(f"machine: {machine()}", flush=True)
    print(f"{'video':<34} {'scale':>5} {'params':<28} {'pairs':>5} {'identical':>9} {'max |diff| px':>13} "
          f"{'OpenCV CPU s/pair':>17} {'fused CPU s/pair':>16} {'ratio':>6} {'load1':>5}", flush=True)  # fmt: skip
    rows, totals = [], defaultdict(float)
    for name in a.videos:
        path = _video_path(name)
        bgr = [f.image for f in VideoReader(path, prefetch=0)]
        n = len(bgr) - 1
        ks = list(range(n)) if a.pairs <= 0 or a.pairs >= n else sorted({int(round(x)) for x in np.linspace(0, n - 1, a.pairs)})
        for sc in a.scales:
            grays = [gray_at_scale(im, sc) for im in bgr]
            for extra in [json.loads(x) for x in (a.params_list or ["{}"])]:
                s = TVL1Settings(**extra)
                tv, eng = opencv_dualtvl1(s), FusedTVL1(s)
                eng.calc(grays[ks[0]], grays[ks[0] + 1])  # compile / load the cache, untimed
                same, worst, t_cv, t_fu = 0, 0.0, 0.0, 0.0
                load0 = os.getloadavg()[0]
                for k in ks:
                    c0 = time.process_time()
                    r = tv.calc(grays[k], grays[k + 1], None)
                    c1 = time.process_time()
                    f = eng.calc(grays[k], grays[k + 1])
                    c2 = time.process_time()
                    t_cv, t_fu = t_cv + c1 - c0, t_fu + c2 - c1
                    same += bool(np.array_equal(f, r))
                    worst = max(worst, float(np.abs(f - r).max()))
                load1 = (load0 + os.getloadavg()[0]) / 2
                row = {"video": Path(path).name, "scale": sc, "params": extra, "pairs": len(ks), "identical": same,
                       "max_abs_diff_px": worst, "opencv_cpu_s_per_pair": t_cv / len(ks),
                       "fused_cpu_s_per_pair": t_fu / len(ks), "load_avg_1min": round(load1, 2)}  # fmt: skip
                rows.append(row)
                totals["pairs"] += len(ks)
                totals["identical"] += same
                totals["opencv"] += t_cv
                totals["fused"] += t_fu
                print(f"{Path(path).name[:34]:<34} {sc:>5} {json.dumps(extra):<28} {len(ks):>5} {same:>9} {worst:>13.3g} "
                      f"{t_cv / len(ks):>17.3f} {t_fu / len(ks):>16.3f} {t_fu / max(t_cv, 1e-9):>6.3f} {load1:>5.1f}",
                      flush=True)  # fmt: skip
    print(f"all: {int(totals['identical'])} of {int(totals['pairs'])} flows identical; CPU s "
          f"{totals['fused']:.1f} fused vs {totals['opencv']:.1f} OpenCV ({totals['fused'] / max(totals['opencv'], 1e-9):.3f}x)")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"machine": machine_info(), "rows": rows, "totals": totals}, indent=1))
    return 0 if totals["identical"] == totals["pairs"] else 1


# ----------------------------------------------------------------------------- motion ROI matrix

#: the decision rule of docs/flow.md "Motion ROI" (written before the figures were measured)
ROI_RULE = {"epe_frame_px": 0.02, "epe_moving_px": 0.1, "png_share": 0.005}
SHARED_VIDEOS = ["gait_normal_01", "gait_abnormal_03_concriduction", "gait_abnormal_01_slouch_posture",
                 "gait_abnormal_06_no_arm_swing"]  # fmt: skip
TUNING_VIDEOS = SHARED_VIDEOS[:2]


def _video_path(name: str) -> Path:
    """A shared video by stem or path; ``synth`` renders gaitprep's demo walker (a still
    camera: the default DAG's demo clip) to a temporary mp4 once."""
    if name == "synth":
        import tempfile

        from gaitprep.synth.render import render_walker

        out = Path(tempfile.gettempdir()) / "gaitprep_roi_synth.mp4"
        if not out.is_file():
            render_walker(out)
        return out
    p = Path(name)
    return p if p.suffix else SHARED / "data" / "videos" / f"{name}.mp4"


def png_diff_share(fa: np.ndarray, fb: np.ndarray, coding: Optional[dict] = None, levels: int = 2) -> float:
    """Share of pixels whose ``flow_to_bgr`` codes (default: fixed, 16 px) differ by more than
    ``levels`` grey levels in any channel."""
    from gaitprep.healthgait.flowcode import flow_to_bgr

    a = flow_to_bgr(fa, **(coding or {})).astype(np.int16)
    b = flow_to_bgr(fb, **(coding or {})).astype(np.int16)
    return float((np.abs(a - b).max(axis=-1) > levels).mean())


def halo_px(full: np.ndarray, changed, small_hw: tuple[int, int], mag: float = 0.16) -> Optional[float]:
    """How far (px at the computed size, Chebyshev) outside the box of the changed pixels
    the full-frame flow still exceeds ``mag`` px (0.16 px: what the fixed 16 px coding shows
    as more than 2 grey levels): the 99.9th percentile of those pixels' distances."""
    if changed is None:
        return None
    H, W = full.shape[:2]
    h, w = small_hw
    x0, y0, x1, y1 = changed
    ys, xs = np.nonzero(np.linalg.norm(full, axis=-1) > mag)
    if xs.size == 0:
        return 0.0
    xs, ys = (xs + 0.5) * w / W - 0.5, (ys + 0.5) * h / H - 0.5
    d = np.maximum.reduce([x0 - xs, xs - (x1 - 1), y0 - ys, ys - (y1 - 1), np.zeros_like(xs)])
    return float(np.percentile(d, 99.9))


def steady_pairs(path: Path, scale: float, n: int) -> list[int]:
    """Up to ``n`` pairs (evenly spread) that the ROI test, default knobs, solves on a box."""
    from gaitprep.flow.roi import roi_decision
    from gaitprep.flow.tvl1_params import gray_at_scale

    prev, found = None, []
    for f in VideoReader(path, prefetch=0):
        g = gray_at_scale(f.image, scale)
        if prev is not None and roi_decision(prev, g).kind == "box":
            found.append(f.index - 1)
        prev = g
    if len(found) <= n:
        return found
    return [found[int(round(k))] for k in np.linspace(0, len(found) - 1, n)]


def roi_matrix(a) -> int:
    """ROI (``roi: true`` + ``--roi-params``) against the full frame, the same backend and
    scale, per pair of ``--pairs`` spread over each video (first and last pair included)."""
    from gaitprep.backends.tvl1_opencv import TVL1OpenCVBackend
    from gaitprep.backends.tvl1_torch import TVL1TorchBackend
    from gaitprep.video import probe

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cls = TVL1OpenCVBackend if a.roi_engine == "opencv" else TVL1TorchBackend
    extra = {} if a.roi_engine == "opencv" else {"threads": 1, "batch_size": 1}
    variants = [("roi", {})] + [(v.split("=", 1)[0], json.loads(v.split("=", 1)[1])) for v in a.roi_variant]
    base_roi = json.loads(a.roi_params)
    print(f"machine: {machine()}\nengine {cls.name}, scales {a.scales}, ROI params {base_roi or 'defaults'}; "
          f"variants {[v for v, _ in variants]}", flush=True)  # fmt: skip
    cache = Path(a.cache) if a.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    rows, summary = [], []
    for name in a.videos:
        path = _video_path(name)
        n = probe(path).frame_count
        for sc in a.scales:
            npairs = a.pairs if sc < 1.0 else a.pairs_full_res
            if npairs <= 0:
                continue
            idx = sorted({int(round(x)) for x in np.linspace(0, n - 2, npairs)} | set(a.extra_pairs))
            sets = [("spread", idx)]
            if a.steady and sc < 1.0:
                sets.append(("steady", steady_pairs(path, sc, a.steady)))
                print(f"{path.stem} {sc}: steady pairs (the ROI test gives a box) {sets[-1][1]}", flush=True)
            for pset, idx in sets:
                if idx:
                    _roi_rows(a, cls, extra, variants, base_roi, cache, path, sc, pset, idx, rows, summary)
    _roi_print(a, cls, base_roi, rows, summary)
    return 0


def _roi_rows(a, cls, extra, variants, base_roi, cache, path, sc, pset, idx, rows, summary) -> None:
    """One video x scale x pair set: ROI vs full frame per pair and per variant."""
    from gaitprep.backends.base import Context
    from gaitprep.flow.tvl1_params import gray_at_scale
    from gaitprep.results import Frame

    per = {v: [] for v, _ in variants}
    for i in idx:
        f0, f1 = [Frame(i + k, f.image) for k, f in enumerate(VideoReader(path, i, i + 2, prefetch=0))]
        key = f"{path.stem}_{a.roi_engine}_{sc}_{i}"
        cf = cache / f"{key}.npz" if cache else None
        if cf and cf.is_file():
            z = np.load(cf)
            full, cpu_full = z["flow"], float(z["cpu"])
        else:
            be = cls({"scale": sc, **extra}, Context(device="cpu"))
            c0 = time.process_time()
            full = next(iter(be.run(iter([f0, f1])))).flow
            cpu_full = time.process_time() - c0
            if cf:
                np.savez(cf, flow=full, cpu=cpu_full)
        moving = np.linalg.norm(full, axis=-1) > 0.5
        floor = None
        if a.crop_floor:  # the engine's own sensitivity: the full frame less a strip of background on the right
            cut = int(np.ceil(1.0 / sc))
            cfl = cache / f"{key}_cut{cut}.npz" if cache else None
            if cfl and cfl.is_file():
                fc = np.load(cfl)["flow"]
            else:
                be = cls({"scale": sc, **extra}, Context(device="cpu"))
                crop = [Frame(f.index, np.ascontiguousarray(f.image[:, :-cut])) for f in (f0, f1)]
                fc = next(iter(be.run(iter(crop)))).flow
                if cfl:
                    np.savez(cfl, flow=fc)
            e = np.linalg.norm(fc.astype(np.float64) - full[:, :-cut], axis=-1)
            mv = moving[:, :-cut]
            floor = {"epe_frame_px": float(e.mean()), "epe_moving_px": float(e[mv].mean()) if mv.any() else 0.0,
                     "png_share": png_diff_share(fc, full[:, :-cut])}  # fmt: skip
        for v, vp in variants:
            be = cls({"scale": sc, **extra, "roi": True, **base_roi, **vp}, Context(device="cpu"))
            c0 = time.process_time()
            flow = next(iter(be.run(iter([f0, f1])))).flow
            cpu = time.process_time() - c0
            r = be.roi_stats.last
            err = np.linalg.norm(flow.astype(np.float64) - full, axis=-1)
            row = {"video": path.stem, "scale": sc, "set": pset, "pair": i, "variant": v, "decision": r.kind + (f":{r.reason}" if r.reason else ""),
                   "box": r.box, "share": r.share, "shift_px": [round(x, 3) for x in r.shift], "cpu_full_s": cpu_full, "cpu_roi_s": cpu,
                   "epe_frame_px": float(err.mean()), "epe_moving_px": float(err[moving].mean()) if moving.any() else 0.0,
                   "moving_share": float(moving.mean()), "max_abs_px": float(np.abs(flow - full).max()),
                   "png_share": png_diff_share(flow, full), "changed": r.changed,
                   "halo_px": halo_px(full, r.changed, gray_at_scale(f0.image, sc).shape[:2]), "crop_floor": floor}  # fmt: skip
            rows.append(row)
            per[v].append(row)
            if a.verbose:
                print(f"  {path.stem[:22]:<22} {sc:>4} {i:>4} {v:<8} {row['decision']:<12} share {r.share:.3f} "
                      f"cpu {cpu_full:.2f}->{cpu:.2f} epe {row['epe_frame_px']:.4f}/{row['epe_moving_px']:.4f} "
                      f"max {row['max_abs_px']:.3f} png {100 * row['png_share']:.2f}% halo {row['halo_px']}"
                      + (f" | floor epe {floor['epe_frame_px']:.4f}/{floor['epe_moving_px']:.4f} png {100 * floor['png_share']:.2f}%" if floor else ""),
                      flush=True)  # fmt: skip
    for v, _ in variants:
        rs = per[v]
        m = lambda k: float(np.mean([r[k] for r in rs]))  # noqa: E731
        mx = lambda k: float(np.max([r[k] for r in rs]))  # noqa: E731
        dec = {}
        for r in rs:
            dec[r["decision"]] = dec.get(r["decision"], 0) + 1
        halos = [r["halo_px"] for r in rs if r["halo_px"] is not None]
        floors = [r["crop_floor"] for r in rs if r["crop_floor"]]
        srow = {"video": path.stem, "tuning": path.stem in TUNING_VIDEOS, "set": pset, "scale": sc, "variant": v, "pairs": len(rs),
                "halo_px_max": max(halos) if halos else None,
                "floor_epe_moving_px": float(np.mean([f["epe_moving_px"] for f in floors])) if floors else None,
                "floor_png_share": float(np.mean([f["png_share"] for f in floors])) if floors else None,
                "decisions": dec, "cpu_full_s": m("cpu_full_s"), "cpu_roi_s": m("cpu_roi_s"),
                "share_mean": m("share"), "share_max": mx("share"), "epe_frame_px": m("epe_frame_px"),
                "epe_frame_max_px": mx("epe_frame_px"), "epe_moving_px": m("epe_moving_px"),
                "epe_moving_max_px": mx("epe_moving_px"), "max_abs_px": mx("max_abs_px"),
                "png_share": m("png_share"), "png_share_max": mx("png_share")}  # fmt: skip
        srow["passes"] = (srow["epe_frame_px"] <= ROI_RULE["epe_frame_px"] and srow["epe_moving_px"] <= ROI_RULE["epe_moving_px"]
                          and srow["png_share"] <= ROI_RULE["png_share"] and srow["cpu_roi_s"] < srow["cpu_full_s"])  # fmt: skip
        summary.append(srow)


def _roi_print(a, cls, base_roi, rows, summary) -> None:
    """The --roi-matrix table (markdown) and the JSON."""
    print("\n| video | set | pairs | scale | variant | n | decisions | CPU s/pair full | CPU s/pair ROI | ROI/full | solved share mean (max) "
          "| EPE frame px mean (max pair) | EPE moving px mean (max pair) | max abs px | PNG px > 2 levels mean (max pair) | halo px "
          "| floor: EPE moving, PNG | rule |")
    print("|" + " --- |" * 18)
    for r in summary:
        dec = ", ".join(f"{k} {c}" for k, c in sorted(r["decisions"].items()))
        halo = "-" if r["halo_px_max"] is None else f"{r['halo_px_max']:.0f}"
        fl = "-" if r["floor_epe_moving_px"] is None else f"{r['floor_epe_moving_px']:.3f}, {100 * r['floor_png_share']:.2f} %"
        print(f"| `{r['video']}` | {'tuning' if r['tuning'] else 'held-out' if r['video'] in SHARED_VIDEOS else 'extra'} | {r['set']} | {r['scale']} "
              f"| {r['variant']} | {r['pairs']} | {dec} | {r['cpu_full_s']:.2f} | {r['cpu_roi_s']:.2f} "
              f"| {r['cpu_roi_s'] / r['cpu_full_s']:.2f} | {r['share_mean']:.3f} ({r['share_max']:.3f}) "
              f"| {r['epe_frame_px']:.4f} ({r['epe_frame_max_px']:.4f}) | {r['epe_moving_px']:.4f} ({r['epe_moving_max_px']:.4f}) "
              f"| {r['max_abs_px']:.2f} | {100 * r['png_share']:.2f} % ({100 * r['png_share_max']:.2f} %) "
              f"| {halo} | {fl} | {'pass' if r['passes'] else 'FAIL'} |")  # fmt: skip
    print(f"rule (docs/flow.md): mean EPE frame <= {ROI_RULE['epe_frame_px']} px, moving <= {ROI_RULE['epe_moving_px']} px, "
          f"PNG pixels > 2 levels <= {100 * ROI_RULE['png_share']} %, and ROI CPU < full-frame CPU, on every shared video")  # fmt: skip
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"machine": machine_info(), "engine": cls.name, "roi_params": base_roi,
                                            "rule": ROI_RULE, "summary": summary, "pairs": rows}, indent=1, default=str))  # fmt: skip


# ----------------------------------------------------------------------------- the throughput table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--start", type=int, default=50)
    ap.add_argument("--sizes", nargs="+", default=["960x540", "480x270"], help="WxH")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--devices", nargs="+", default=None, help="torch devices (default: cpu, and cuda if present)")
    ap.add_argument("--opencv-pairs", type=int, default=4, help="pairs timed for OpenCV (0: skip)")
    ap.add_argument("--no-opencv", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--cv-threads", type=int, default=-1, help="OpenCV threads (-1: OpenCV's default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the iteration")
    ap.add_argument("--repeats", type=int, default=1, help="timed calls per cell (median)")
    m = ap.add_argument_group("--cpu-matrix")
    m.add_argument("--cpu-matrix", action="store_true", help="the CPU default measurement (module docstring)")
    m.add_argument("--params-list", nargs="+", default=None, metavar="JSON",
                   help='solver params per row, e.g. \'{}\' \'{"nscales": 3, "warps": 2}\' (default: the backend\'s)')
    m.add_argument("--pairs", type=int, default=4, help="pairs per configuration")
    m.add_argument("--engines", nargs="+", default=["opencv", "fused", "torch", "torch-compile"],
                   choices=["opencv", "fused", "torch", "torch-compile"])  # fmt: skip
    m.add_argument("--thread-list", nargs="+", type=int, default=[1, 2])
    m.add_argument("--scales", nargs="+", type=float, default=[0.5, 1.0])
    m.add_argument("--cache", type=Path, default=None, help="keep the OpenCV reference flows in this .npz")
    m.add_argument("--json", type=Path, default=None, help="write the rows here")
    r = ap.add_argument_group("--roi-matrix (also --pairs, --scales, --cache, --json)")
    r.add_argument("--roi-matrix", action="store_true", help="motion ROI vs full frame (docs/flow.md Motion ROI)")
    r.add_argument("--videos", nargs="+", default=SHARED_VIDEOS, help="shared video stems or paths; 'synth' = demo walker")
    r.add_argument("--roi-engine", choices=["opencv", "torch"], default="opencv")
    r.add_argument("--roi-params", default="{}", help="JSON of roi_* params for the 'roi' rows")
    r.add_argument("--roi-variant", action="append", default=[], help="NAME=JSON: more ROI rows with these params")
    r.add_argument("--pairs-full-res", type=int, default=3, help="pairs per video at scale 1.0")
    r.add_argument("--extra-pairs", nargs="*", type=int, default=[], help="pair indices added to every video's spread")
    r.add_argument("--crop-floor", action="store_true",
                   help="also the full frame less ceil(1/scale) px of background on the right vs the full frame (the engine's floor)")
    r.add_argument("--steady", type=int, default=0, help="also up to N pairs the ROI test solves on a box ('steady' set; scales < 1 only)")
    r.add_argument("-v", "--verbose", action="store_true", help="print every pair")
    i = ap.add_argument_group("--identity (also --videos, --pairs [0: every pair], --scales, --params-list, --json)")
    i.add_argument("--identity", action="store_true", help="tvl1-fused vs tvl1-opencv: equal flows, CPU s per pair")
    a = ap.parse_args(argv)
    if a.identity:
        return identity_check(a)
    if a.cpu_matrix:
        return cpu_matrix(a)
    if a.roi_matrix:
        if a.cache is not None and str(a.cache).endswith(".npz"):
            raise SystemExit("--roi-matrix: --cache is a folder (one file per pair)")
        return roi_matrix(a)
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
    print(f"{'engine':<14} {'device':<8} {'size':<9} {'batch':>5} {'pairs':>5} {'seconds':>8} {'pairs/s':>8} {'CPU s':>7}",
          flush=True)  # fmt: skip
    for size in a.sizes:
        w, h = parse_size(size)
        g = [cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) if x.shape[::-1] != (w, h) else x for x in raw]
        if not a.no_opencv and a.opencv_pairs > 0:
            c0 = time.process_time()
            _, dt = opencv_tvl1(g, a.opencv_pairs)
            cpu = time.process_time() - c0
            print(f"{'opencv':<14} {'cpu':<8} {size:<9} {1:>5} {a.opencv_pairs:>5} {dt:8.2f} {a.opencv_pairs / dt:8.3f} "
                  f"{cpu:7.2f}", flush=True)  # fmt: skip
        for dev in devices:
            stack = torch.from_numpy(np.stack(g)).to(dev).float()
            eng = "torch" + ("+compile" if a.compile else "")
            for bs in a.batches:
                reset_peak(dev)
                r = time_call(lambda: tvl1_flow(stack[:bs], stack[1 : bs + 1], TVL1Params(), device=dev, compile=a.compile),
                              dev, warmup=1, repeats=a.repeats)  # fmt: skip
                dt = r["median_s"]
                print(f"{eng:<14} {dev:<8} {size:<9} {bs:>5} {bs:>5} {dt:8.2f} {bs / dt:8.3f} {r['median_cpu_s']:7.2f}",
                      flush=True)  # fmt: skip
                if dev.startswith("cuda"):
                    print(f"{'':<14} {'':<8} {'':<9} {'':>5} peak GPU memory {peak_gib(dev):.2f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
