"""Every shell command in a fenced block of README.md and docs/*.md, run as a user would type
it (with this test's paths for the documentation's example paths), must not crash.

- `snakemake ...`: dry-run (`-n`) in a user's project folder (a copy of config/, a `my.yaml`
  and a sample sheet of one shared video); `--report` and `qc` commands run for real in a
  folder where a small demo has run.
- `gaitprep CMD ...` / `python -m gaitprep CMD ...`: `CMD --help` (the subcommand exists).
- `export A=B`: sets the variables for the following commands of the same file.
- installs, clones, CI and benchmark scripts: not run here (:data:`NOT_RUN`); CI runs the
  install and test commands themselves. Any other kind of command fails the test, so a new
  documented command cannot go unchecked.

Substitutions (documentation -> test): `my.yaml` -> the test's config; `--sdm conda` /
`--sw-deployment-method conda` dropped when `conda` is not installed; `workflow/...` paths
-> this repository's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, VIDEOS, snakemake

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: first words of documented commands this test does not run (and why)
NOT_RUN = {
    "pip": "installs (CI installs from scratch)",
    "python -m pip": "installs",
    "python -m pytest": "the test command itself (CI)",
    "PYTHONPATH=src python -m pytest": "a test command (CI)",
    "PYTHONPATH=src python bench/": "benchmarks, minutes each",
    ".ci/": "CI scripts (root)",
    "conda": "environment creation (network)",
    "git clone": "network",
    "cd": "part of an install recipe",
    "sudo": "system packages",
    "python setup.py": "part of an install recipe",
    "GAITPREP_SRC=": "conda post-deploy script (network)",
    "python bench/": "benchmarks, minutes each",
    "git -C": "makes a checkout for a benchmark",
    "git worktree": "makes a checkout for a benchmark",
    "GAITPREP_SHARED=/path/to/shared bash .ci/": "CI install script (builds detectron2, minutes)",
    "python -c import cv2, detectron2": "checks an optional install (CI runs it in .ci/install_detectron2.sh)",
}


def documented_commands() -> list[tuple[str, int, str]]:
    """(file name, line, command) of every command in a ```bash/sh/shell/console fence (and
    every snakemake/gaitprep line of an untagged fence), `\\` continuations joined, comments
    removed. Fences are followed line by line, so a closing ``` is never read as an opening."""
    out = []
    for doc in DOCS:
        lines = doc.read_text().split("\n")
        tag, i = None, 0  # tag: the open fence's language ("" untagged), None outside fences
        while i < len(lines):
            line = lines[i]
            if line.startswith("```"):
                tag = line[3:].strip() if tag is None else None
                i += 1
                continue
            if tag not in ("bash", "sh", "shell", "console", ""):
                i += 1
                continue
            start, cmd = i, line
            while cmd.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
            if not tag and not cmd.lstrip().startswith(("snakemake ", "gaitprep ", "python -m gaitprep ")):
                continue
            words = shlex.split(cmd, comments=True)
            if words:
                out.append((doc.name, start + 1, " ".join(words)))
    return out


COMMANDS = documented_commands()


def _kind(cmd: str) -> str:
    if cmd.startswith("snakemake "):
        return "snakemake"
    if cmd.startswith(("gaitprep ", "python -m gaitprep ")):
        return "gaitprep"
    if cmd.startswith("export "):
        return "export"
    for prefix in NOT_RUN:
        if cmd.startswith(prefix):
            return "not run"
    return "unknown"


def test_every_documented_command_is_known():
    unknown = [f"{f}:{n}: {c}" for f, n, c in COMMANDS if _kind(c) == "unknown"]
    assert not unknown, "commands this test neither runs nor lists in NOT_RUN:\n" + "\n".join(unknown)
    assert sum(_kind(c) == "snakemake" for _, _, c in COMMANDS) >= 10


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's project folder: the shipped config/, a sample sheet, my.yaml."""
    d = tmp_path_factory.mktemp("project")
    shutil.copytree(REPO / "config", d / "config")
    video = sorted(VIDEOS.glob("*.mp4"))[0]
    (d / "samples.tsv").write_text(f"participant\tgait_type\twalk_class\tclip\tpath\nPA001\tUGS\tNW-WoJ\t1\t{video}\n")
    (d / "participants_measures.csv").write_text("ID,Height\nPA001,172\n")
    (d / "my.yaml").write_text(yaml.safe_dump({"samples": "samples.tsv", "output_dir": "results",
                                               "participants_measures": "participants_measures.csv"}))  # fmt: skip
    return d


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A folder where a small demo (2 s walker; pose, gait, qc) has run: for --report and qc."""
    d = tmp_path_factory.mktemp("finished")
    (d / "config").mkdir()
    walker = {"direction": "right_to_left", "seed": 0, "seconds": 2.0, "start_x": 120, "width": 480, "height": 270,
              "px_per_cm": 1.0}  # fmt: skip
    cal = {"method": "px_per_cm", "px_per_cm": 1.0}
    cfg = {"demo": {"enabled": True, "clips": [{"id": "PA000/UGS/NW-WoJ_1", "walker": walker, "calibration": cal}]},
           "modalities": ["pose", "gait", "qc"]}  # fmt: skip
    (d / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake("--cores", "2", cwd=d, timeout=900)
    return d


def _adapt(words: list[str]) -> list[str]:
    out = []
    skip = 0
    for i, w in enumerate(words):
        if skip:
            skip -= 1
            continue
        if w in ("--sdm", "--sw-deployment-method") and not shutil.which("conda"):
            skip = 1  # drop "conda" too
            continue
        if w.startswith("workflow/"):
            w = str(REPO / w)
        out.append(w)
    return out


def _run_gaitprep(words: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if words[0] == "python":
        words = words[2:]  # python -m gaitprep ... -> gaitprep ...
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "gaitprep", words[1], "--help"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.slow
def test_documented_commands_run(project, finished):
    env: dict[str, str] = {}
    ran, failures = [], []
    last_file = None
    for f, line, cmd in COMMANDS:
        if f != last_file:
            env, last_file = {}, f
        kind = _kind(cmd)
        words = cmd.split(" ")
        if kind == "export":
            env.update((k, os.path.expandvars(v)) for k, v in (w.split("=", 1) for w in words[1:]))
            continue
        if kind == "gaitprep":
            p = _run_gaitprep(words, project)
        elif kind == "snakemake":
            args = _adapt(words[1:])
            real = "--report" in args or "qc" in args
            cwd = finished if real else project
            p = snakemake(*(args if real else ["-n", *args]), cwd=cwd, check=False, timeout=600, env=env)
        else:
            continue
        ran.append(f"{f}:{line}: {cmd}")
        out = p.stdout + p.stderr
        if p.returncode != 0 or "Traceback" in out:
            failures.append(f"{f}:{line}: {cmd}\n  exit {p.returncode}\n  " + out[-1500:].replace("\n", "\n  "))
    print("ran:\n" + "\n".join(ran))
    assert not failures, "documented commands that fail:\n" + "\n".join(failures)
    assert (finished / "report.html").is_file()


def test_cli_version_and_plain_help():
    """`gaitprep --version` is pyproject's version; --help has no reST markup and lists the
    user commands apart from the workflow's steps."""
    import tomllib

    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "gaitprep", *args], env=env, capture_output=True, text=True, timeout=120)

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert run("--version").stdout.strip() == f"gaitprep {version}"
    top = run("--help").stdout
    users, steps = top.split("workflow steps")
    assert "samples" in users and "validate" in users and "synth" in users and "gait-clip" not in users
    assert "run " in steps and "gait-clip" in steps
    for cmd in ("samples", "validate", "synth", "qc-montage", "qc-summary", "run"):
        h = run(cmd, "--help").stdout
        assert not re.search(r"``|:(func|mod|class|data|attr):`|::$", h, flags=re.M), f"markup in {cmd} --help:\n{h}"
