"""``bench/flow.py --cpu-matrix`` as docs/flow.md prints it ("Solver parameters at half
size"): the command that chose the default's solver parameters still runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, shared_video


@pytest.mark.slow
def test_cpu_matrix_with_solver_params_runs(tmp_path):
    """One pair of a shared video, the previous default and the shipped half-size solver
    parameters: both rows are printed and written, each with its CPU time and its EPE
    against the full-resolution flow over the frame and over the moving pixels (~20 s)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "flow.py"), "--cpu-matrix", "--pairs", "1", "--engines", "opencv",
         "--thread-list", "1", "--scales", "0.5", "--video", str(shared_video("gait_normal_01.mp4")), "--start", "60",
         "--json", str(tmp_path / "m.json"), "--params-list", "{}", '{"nscales": 3, "warps": 2}'],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert [r["params"] for r in rows] == [{}, {"nscales": 3, "warps": 2}]
    for r in rows:
        assert r["cpu_s_per_pair"] > 0 and 0 < r["epe_mean_px"] < 2 and 0 < r["epe_moving_px"] < 3
    assert '{"nscales": 3, "warps": 2}' in out.stdout
