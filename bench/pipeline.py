"""Whole-workflow benchmark, before vs after: wall and CPU seconds per job and for the whole
DAG (Snakemake included), frames/s, peak RSS per job, in one run on the same machine.

    git -C <repo> worktree add /tmp/before f085645        # the "before" checkout
    python bench/pipeline.py --before /tmp/before [--cases clip-pose,clip-psg,clip-all,four-nonflow] [--json out.json]

Each case runs ``snakemake --cores N`` from scratch in a temporary folder, once with the
before checkout and once with this one (``PYTHONPATH=<checkout>/src``), each with its own
``config/config.yaml`` (flow engines as configured there) plus the case's overrides
(inputs, ``modalities``, a ``px_per_cm`` calibration so that gait runs without
participants_measures). Cases:

* ``clip-pose``: gait_normal_01, pose only;  ``clip-psg``: pose + silhouette + segmentation;
* ``clip-all``: gait_normal_01, the default modalities (pose, silhouette, segmentation,
  flow, gait);
* ``four-nonflow``: the four shared videos, pose + silhouette + segmentation + gait;
* ``four-all``: the four shared videos, default modalities (long: flow dominates).

Per job: every ``python`` a rule starts is measured by a shim put first on PATH (one
subprocess, ``resource.getrusage(RUSAGE_CHILDREN)``): wall s, CPU s (user + sys), peak RSS
(MiB). The DAG: wall of the ``snakemake`` process and CPU of it and all its descendants
(``RUSAGE_CHILDREN`` of this script). CPU seconds are the figure to compare on a loaded
machine; the load average is printed with each case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITPREP_SHARED", HERE.parent / "shared")).resolve()
SHEET = SHARED / "data" / "samples.tsv"
CLIP_VIDEO = "gait_normal_01.mp4"
CASES = {
    "clip-pose": ("one", ["pose"]),
    "clip-psg": ("one", ["pose", "silhouette", "segmentation"]),
    "clip-all": ("one", None),
    "four-nonflow": ("four", ["pose", "silhouette", "segmentation", "gait"]),
    "four-all": ("four", None),
}

SHIM = '''#!{python}
"""gaitprep bench shim: run the real python as one child, log wall/CPU/peak RSS."""
import json, os, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.call([{python!r}, *sys.argv[1:]])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open({log!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "wall": time.perf_counter() - t, "cpu": ru.ru_utime + ru.ru_stime,
                        "rss_mib": ru.ru_maxrss / 1024, "rc": rc}}) + "\\n")
sys.exit(rc)
'''


def snakefile(checkout: Path) -> Path:
    for p in (checkout / "workflow" / "Snakefile", checkout / "Snakefile"):
        if p.is_file():
            return p
    raise SystemExit(f"{checkout}: no Snakefile or workflow/Snakefile")


def job_label(argv: list[str]) -> tuple[str, str]:
    """(job kind, clip) of a logged ``python -m gaitprep ...`` command line."""
    a = argv[2:] if argv[:2] == ["-m", "gaitprep"] else argv
    clip = a[a.index("--clip") + 1] if "--clip" in a else ""
    if a and a[0] == "run":
        return a[1], clip
    return (a[0] if a else "?"), clip


def frame_counts(rows: list[list[str]], base: Path) -> dict[str, int]:
    import cv2

    out = {}
    for r in rows:
        cap = cv2.VideoCapture(str(base / r[4]))
        out[f"{r[0]}/{r[1]}/{r[2]}_{r[3]}"] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
    return out


def run_case(checkout: Path, case: str, cores: int, keep: Path | None) -> dict:
    which, modalities = CASES[case]
    d = Path(tempfile.mkdtemp(prefix=f"gaitprep-bench-{case}-"))
    rows = [line.split("\t") for line in SHEET.read_text().splitlines()[1:] if line.strip()]
    if which == "one":
        rows = [r for r in rows if r[4].endswith(CLIP_VIDEO)]
    sheet = d / "samples.tsv"
    sheet.write_text("participant\tgait_type\twalk_class\tclip\tpath\n" + "".join(
        "\t".join(r[:4] + [str((SHEET.parent / r[4]).resolve())]) + "\n" for r in rows))  # fmt: skip
    cfg = yaml.safe_load((checkout / "config" / "config.yaml").read_text())
    over = {"samples": str(sheet), "demo": {"enabled": False}, "output_dir": str(d / "tree"),
            "gait": {**cfg.get("gait", {}), "calibration": {"default": {"method": "px_per_cm", "px_per_cm": 2.0}}}}  # fmt: skip
    if modalities:
        over["modalities"] = modalities
    (d / "bench.yaml").write_text(yaml.safe_dump(over))
    log = d / "jobs.jsonl"
    shim_dir = d / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "python"
    shim.write_text(SHIM.format(python=sys.executable, log=str(log)))
    shim.chmod(0o755)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(checkout / "src")
    env["PATH"] = f"{shim_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile(checkout)), "--directory", str(d),
           "--cores", str(cores), "--configfile", str(checkout / "config" / "config.yaml"), str(d / "bench.yaml")]  # fmt: skip
    load0 = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        print(p.stdout[-3000:], p.stderr[-5000:], file=sys.stderr)
        raise SystemExit(f"{case} with {checkout}: snakemake failed ({p.returncode}); kept {d}")
    jobs = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    frames = frame_counts(rows, SHEET.parent)
    per = defaultdict(lambda: {"n": 0, "wall": 0.0, "cpu": 0.0, "rss_mib": 0.0, "frames": 0})
    for j in jobs:
        kind, clip = job_label(j["argv"])
        r = per[kind]
        r["n"] += 1
        r["wall"] += j["wall"]
        r["cpu"] += j["cpu"]
        r["rss_mib"] = max(r["rss_mib"], j["rss_mib"])
        r["frames"] += frames.get(clip, 0)
    tree = d / "tree"
    size = {k: sum(f.stat().st_size for f in (tree / k).rglob("*") if f.is_file()) for k in ("intermediate",) if (tree / k).exists()}
    res = {"case": case, "checkout": str(checkout), "wall": wall, "frames": sum(frames.values()),
           "cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), "load": [load0, os.getloadavg()[0]],
           "jobs": dict(per), "bytes": size}  # fmt: skip
    if keep:
        shutil.copytree(tree, keep / f"{case}-{checkout.name}", dirs_exist_ok=True)
    shutil.rmtree(d, ignore_errors=True)
    return res


def _fmt_case(before: dict, after: dict) -> str:
    lines = [f"### {before['case']} ({before['frames']} frames; load avg {before['load'][0]:.1f}->{after['load'][1]:.1f} on {os.cpu_count()} cores)",
             "", "| job | n | before wall s | before CPU s | before peak RSS MiB | after wall s | after CPU s | after peak RSS MiB | after frames/s (wall) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    kinds = sorted(set(before["jobs"]) | set(after["jobs"]))
    for k in kinds:
        b, a = before["jobs"].get(k), after["jobs"].get(k)
        bs = f"{b['wall']:.1f} | {b['cpu']:.1f} | {b['rss_mib']:.0f}" if b else "- | - | -"
        as_ = f"{a['wall']:.1f} | {a['cpu']:.1f} | {a['rss_mib']:.0f} | {a['frames'] / a['wall']:.1f}" if a else "- | - | - | -"
        lines.append(f"| {k} | {(a or b)['n']} | {bs} | {as_} |")
    lines.append(f"| **DAG** (Snakemake included) | | {before['wall']:.1f} | {before['cpu']:.1f} | | {after['wall']:.1f} | {after['cpu']:.1f} | | {after['frames'] / after['wall']:.1f} |")
    if any("flow" in r["jobs"] for r in (before, after)):
        bf, af = (sum(v["cpu"] for k, v in r["jobs"].items() if k != "flow") for r in (before, after))
        lines.append(f"| jobs other than flow, CPU s | | | {bf:.1f} | | | {af:.1f} | | |")
    lines.append("")
    lines.append(f"DAG CPU before/after: {before['cpu'] / max(after['cpu'], 1e-9):.2f}x; wall before/after: {before['wall'] / max(after['wall'], 1e-9):.2f}x"
                 + (f"; intermediate on disk: {after['bytes'].get('intermediate', 0) / max(after['frames'], 1) / 1024:.1f} KiB per frame" if after["bytes"] else ""))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, type=Path, help="checkout of the version to compare with (e.g. main at f085645)")
    ap.add_argument("--after", type=Path, default=HERE, help="checkout measured as 'after' (default: this one)")
    ap.add_argument("--cases", default="clip-pose,clip-psg,clip-all,four-nonflow", help=f"comma list of {', '.join(CASES)}")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    ap.add_argument("--keep", type=Path, default=None, help="copy each run's tree under this folder")
    a = ap.parse_args()
    import platform

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"load avg {os.getloadavg()}; snakemake --cores {a.cores}")  # fmt: skip
    print(f"before: {a.before}  after: {a.after}\n")
    results = {}
    for case in a.cases.split(","):
        b = run_case(a.before.resolve(), case, a.cores, a.keep)
        af = run_case(a.after.resolve(), case, a.cores, a.keep)
        results[case] = {"before": b, "after": af}
        print(_fmt_case(b, af), "\n", flush=True)
    if "clip-pose" in results and "clip-psg" in results:
        r = results
        for when in ("before", "after"):
            pose, psg = r["clip-pose"][when], r["clip-psg"][when]
            print(f"{when}: pose+silhouette+segmentation / pose alone (DAG, Snakemake included): "
                  f"wall {psg['wall'] / pose['wall']:.2f}x, CPU {psg['cpu'] / pose['cpu']:.2f}x")  # fmt: skip
        bp = r["clip-pose"]["before"]["jobs"]["pose"]
        apsg = r["clip-psg"]["after"]
        print(f"after pose+silhouette+segmentation DAG / before pose job alone: wall {apsg['wall'] / bp['wall']:.2f}x, "
              f"CPU {apsg['cpu'] / bp['cpu']:.2f}x; after jobs / before pose job: "
              f"wall {sum(j['wall'] for j in apsg['jobs'].values()) / bp['wall']:.2f}x")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
