"""Shared test fixtures: where ../shared is, and helpers to run the workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITPREP_SHARED", REPO.parent / "shared")).resolve()
VIDEOS = SHARED / "data" / "videos"
SAMPLES_TSV = SHARED / "data" / "samples.tsv"


def skip_unless_installed(reason: str, ci_hint: str) -> None:
    """Skip a test whose optional library is missing; under ``CI=true`` fail instead (CI
    installs it, so a skip there would hide a broken install)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true: {ci_hint}")
    pytest.skip(reason)


def session_tmpdir(prefix: str) -> Path:
    """A temporary folder that lives until the test session ends (for cached fixtures)."""
    import atexit
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, d, True)
    return d


def shared_video(name: str) -> Path:
    p = VIDEOS / name
    if not p.exists():
        pytest.fail(f"shared test video {p} is missing (set GAITPREP_SHARED to the shared/ folder)")
    return p


def write_config(path: Path, **overrides) -> Path:
    """A config file = config/config.yaml updated (top-level keys) with ``overrides``."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg.update(overrides)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(*args, cwd=REPO, check=True, timeout=3600, env=None) -> subprocess.CompletedProcess:
    """Run snakemake with this repo's Snakefile; returns the completed process (text output)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(cwd), *map(str, args)]
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    e.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-8000:]}")
    return p


@pytest.fixture(scope="session")
def shared_samples() -> Path:
    if not SAMPLES_TSV.exists():
        pytest.fail(f"{SAMPLES_TSV} is missing (set GAITPREP_SHARED)")
    return SAMPLES_TSV


def bench_module(name: str):
    """Import ``bench/<name>.py`` (the bench scripts are not a package) without leaving
    ``bench/`` on ``sys.path``."""
    import importlib

    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "bench"))
