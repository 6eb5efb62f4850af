"""``bench/flow.py --cpu-matrix`` as docs/flow.md prints it ("Solver parameters at half
size", "Fused engine"): the commands that chose the default's solver parameters and engine
still run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, shared_video


@pytest.mark.slow
def test_cpu_matrix_with_solver_params_runs(tmp_path):
    """One pair of a shared video, the previous default and the shipped half-size solver
    parameters, with tvl1-opencv and tvl1-fused: every row is printed and written, each with
    its CPU time and its EPE against the full-resolution flow over the frame and over the
    moving pixels, and the fused rows say their flow equals OpenCV's (~25 s)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "flow.py"), "--cpu-matrix", "--pairs", "1", "--engines", "opencv", "fused",
         "--thread-list", "1", "--scales", "0.5", "--video", str(shared_video("gait_normal_01.mp4")), "--start", "60",
         "--json", str(tmp_path / "m.json"), "--params-list", "{}", '{"nscales": 3, "warps": 2}'],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert [(r["engine"], r["params"]) for r in rows] == [
        ("opencv", {}), ("opencv", {"nscales": 3, "warps": 2}), ("fused", {}), ("fused", {"nscales": 3, "warps": 2})]
    for r in rows:
        assert r["cpu_s_per_pair"] > 0 and 0 < r["epe_mean_px"] < 2 and 0 < r["epe_moving_px"] < 3
    assert [r["identical_to_opencv"] for r in rows] == [None, None, True, True]
    assert '{"nscales": 3, "warps": 2}' in out.stdout


@pytest.mark.slow
def test_identity_check_runs(tmp_path):
    """`bench/flow.py --identity` as README and docs/flow.md print it, on two pairs of one
    video at quarter size: every flow of tvl1-fused equals tvl1-opencv's (exit 0 says so)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "flow.py"), "--identity", "--videos", str(shared_video("gait_normal_01.mp4")),
         "--pairs", "2", "--scales", "0.25", "--params-list", '{"nscales": 3, "warps": 2}', "--json", str(tmp_path / "i.json")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    res = json.loads((tmp_path / "i.json").read_text())
    assert res["totals"]["pairs"] == res["totals"]["identical"] == 2
    assert "all: 2 of 2 flows identical" in out.stdout


@pytest.mark.slow
def test_pipeline_bench_runs(tmp_path):
    """`bench/pipeline.py` as README's Speed section prints it, on its smallest case
    (pose alone on one clip), with this checkout as both halves (~30 s)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "pipeline.py"), "--before", str(REPO), "--cases", "clip-pose",
         "--json", str(tmp_path / "p.json")],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "### clip-pose" in out.stdout and "| **DAG** (Snakemake included) |" in out.stdout
    assert "DAG CPU before/after" in out.stdout
