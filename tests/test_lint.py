"""The workflow passes `snakemake --lint` (default config) and is formatted with snakefmt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, snakemake

RULE_FILES = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]


def test_snakemake_lint_clean():
    p = snakemake("--lint", check=False, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"snakemake --lint found problems:\n{out[-6000:]}"
    assert "Lints for" not in out, out[-6000:]


def test_snakefmt_check():
    exe = shutil.which("snakefmt") or str(Path(sys.executable).parent / "snakefmt")
    if not Path(exe).exists():
        pytest.fail("snakefmt is not installed (pip install snakefmt; it is a dev dependency)")
    p = subprocess.run([exe, "--check", *map(str, RULE_FILES)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"run `snakefmt Snakefile workflow/rules/*.smk`:\n{p.stdout}{p.stderr}"
