"""bench/gpu.sh, the GPU benchmark, kept from rotting on CPU-only CI: its dry mode runs every
stage (tvl1-torch vs OpenCV with EPE, GMFlow fp32/fp16, YOLOv8 seg/pose) with tiny sizes,
as a user types it; a failing stage is reported without stopping the others."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, bench_module

GPU_SH = REPO / "bench" / "gpu.sh"


def _env():
    env = dict(os.environ)
    env.pop("OUT", None)
    env["PYTHON"] = sys.executable  # the test's interpreter, which has gaitprep's dependencies
    return env


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("ptlflow") is None,
                    reason="needs ultralytics and ptlflow (gaitprep's dev install)")  # fmt: skip
def test_dry_mode_runs_every_stage(tmp_path):
    out = tmp_path / "dry"
    p = subprocess.run([str(GPU_SH), "--dry", "--out", str(out)], cwd=REPO, env=_env(), capture_output=True,
                       text=True, timeout=400)  # fmt: skip
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    for stage in ("tvl1", "gmflow", "yolo"):
        assert "error" not in res[stage], (stage, res[stage]["error"])
    tv = res["tvl1"]
    assert [r["batch"] for r in tv["rows"]] == [1, 2] and all(r["pairs_per_s"] > 0 for r in tv["rows"])
    assert tv["epe_pairs"] == 2 and 0 <= tv["epe_mean_px"] < 0.3  # torch vs OpenCV on the same frames
    assert tv["fused_pairs_per_s"] > 0 and tv["fused_identical"] is True  # tvl1-fused on the CPU beside it
    assert [r["precision"] for r in res["gmflow"]["rows"]] == ["fp32", "fp16"]
    assert {(r["model"], r["batch"]) for r in res["yolo"]["rows"]} == {
        (m, b) for m in ("yolov8n-seg", "yolov8n-pose") for b in (1, 2)
    }
    md = (out / "results.md").read_text()
    assert "EPE tvl1-torch vs OpenCV" in md and "flow identical to OpenCV's" in md and "FAILED" not in md
    assert "| stage | setting | throughput |" in p.stdout  # the final table is printed
    assert sorted(x.name for x in out.iterdir()) == ["gmflow.log", "results.json", "results.md", "tvl1.log", "yolo.log"]


def test_no_cuda_says_how_to_dry_run(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    p = subprocess.run([str(GPU_SH), "--no-install", "--out", str(tmp_path)], cwd=REPO, env=_env(),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 2
    assert "torch sees no CUDA device" in p.stderr and "--dry" in p.stderr


def _gpu():
    return bench_module("gpu")


def test_failing_or_missing_stage_is_reported_and_others_run(tmp_path, monkeypatch):
    import argparse

    gpu = _gpu()
    a = argparse.Namespace(video=tmp_path / "none.mp4", start=0, device="cpu", reference=None)
    # a package the stage needs is not installed: reported before any process starts
    monkeypatch.setitem(gpu.STAGES, "needs_missing", (0.1, {"no_such_module_xyz": "no-such-package==1"}))
    r = gpu.run_stage("needs_missing", a, {}, 5.0, tmp_path, tmp_path)
    assert "missing package(s) no-such-package==1" in r["error"] and "--no-install" in r["error"]
    # a stage whose process fails: its error and log tail are recorded
    monkeypatch.setitem(gpu.STAGES, "bogus", (0.1, {}))
    r = gpu.run_stage("bogus", a, {}, 30.0, tmp_path, tmp_path)
    assert "unknown stage bogus" in r["error"] and (tmp_path / "bogus.log").is_file()
    lines = gpu.table({"machine": {}, "bogus": r, "total_s": 1.0})
    assert any("FAILED" in x and "unknown stage bogus" in x for x in lines)


def test_stage_past_its_time_box_is_killed_and_reported(tmp_path, monkeypatch):
    import argparse

    gpu = _gpu()
    monkeypatch.setattr(gpu, "STARTUP_S", 0)  # the child cannot even import torch in 0.3 s
    a = argparse.Namespace(video=tmp_path / "none.mp4", start=0, device="cpu", reference=None)
    r = gpu.run_stage("tvl1", a, gpu.settings(True, "cpu")["tvl1"], 0.3, tmp_path, tmp_path)
    assert r["error"].startswith("killed after") and "time box 0 s" in r["error"]
    assert not r.get("rows")


def test_without_cv2_optflow_the_tvl1_stage_runs_and_says_why_no_epe(monkeypatch):
    """A GPU image's opencv-python-headless has no cv2.optflow: torch still measured, EPE
    reported as not measured with the reason, never as a number."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "optflow"):
        pytest.skip("this cv2 has no optflow to hide")
    gpu = _gpu()
    flow = bench_module("flow")
    monkeypatch.delattr(cv2, "optflow")
    kw = gpu.settings(True, "cpu")["tvl1"]
    r = flow.stage_tvl1(REPO / "no-such-video.mp4", 0, tuple(kw["size"]), "cpu", [1], 1, 1, 60.0,
                        tvl1_params=kw["tvl1_params"])  # fmt: skip
    assert r["rows"][0]["pairs_per_s"] > 0 and "synthetic walker" in r["frames"]
    assert "epe_mean_px" not in r and "no cv2.optflow" in r["epe_error"]
    lines = gpu.table({"tvl1": r})
    assert any("not measured: " in x and "opencv-contrib-python" in x for x in lines)
