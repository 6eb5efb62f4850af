"""``<root>/run_report.json``: what a pipeline run produced, skipped and failed, in one file.

Written by the Snakemake ``onsuccess:``/``onerror:`` handlers of
``workflow/rules/run_report.smk`` (and by ``gaitprep run-report``). It joins two sources:

* the per-job provenance records ``<root>/provenance/<PID>/<GT>/<WC>_<clip>.<modality>[.<METHOD>].json``
  that :func:`gaitprep.runner.run_modality` writes after each finished job (frames,
  frames with a person, undecodable frames skipped, backend, timing);
* the failed jobs of the run, from the Snakemake log's ``Error in rule`` blocks (rule,
  output, job log), each with the reason taken from the job's log (the ``gaitprep: error:``
  line, else the last line of a traceback, else the last line of the log). When Snakemake
  ran with ``--quiet`` and its log has no such blocks, job logs under ``<root>/logs`` written
  during the run that end in an error are used instead.

Layout of the JSON::

    {"root": str, "generated": ISO time, "status": "success" | "error" | "unknown",
     "snakemake_log": [str],
     "totals": {"clips", "clips_complete", "clips_failed", "jobs_done", "jobs_failed",
                "frames", "frames_with_person", "frames_skipped"},
     "clips": {"PA000/UGS/NW-WJ_1": {"status": "complete" | "failed",
               "jobs": {"pose": {"frames", "frames_with_person", "frames_skipped": [int],
                                 "backend", "wall_s", "output"}, "flow.TVL1": {...}, ...},
               "failures": [...]}},
     "failures": [{"rule", "clip", "job", "output": [str], "log": [str], "reason"}],
     "warnings": [{"clip", "job", "message"}]}

A job key is the modality, with the flow method appended (``flow.TVL1``). Frame counts are
per job; ``frames_skipped`` lists source frame indices that could not be decoded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

from .. import sanity
from ..healthgait import naming
from ..healthgait.writers import TMP_TAG, write_json_atomic

REPORT_NAME = "run_report.json"
ERROR_PREFIX = "gaitprep: error:"
_ERROR_BLOCK = re.compile(r"^Error in rule (?P<rule>\S+?):\s*$")
_FIELD = re.compile(r"^\s{4}(?P<key>[a-z_]+):\s?(?P<value>.*)$")
_TB_LAST = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)|[A-Za-z_][\w.]*Error\b)[^\n]*$")


# --------------------------------------------------------------------------- provenance


def _job_key(rec: dict) -> str:
    m = rec.get("modality", "?")
    return f"{m}.{rec['method']}" if rec.get("method") else m


def load_provenance(root: str | Path) -> list[dict]:
    """All provenance records under ``<root>/provenance`` (unreadable ones are skipped with a note)."""
    out = []
    prov = Path(root) / "provenance"
    if not prov.is_dir():
        return out
    for p in sorted(prov.rglob("*.json")):
        if TMP_TAG in p.name:
            continue
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"gaitprep run-report: skipping unreadable provenance record {p}: {e}", file=sys.stderr)
            continue
        if isinstance(rec, dict) and "clip" in rec:
            rec.setdefault("_path", str(p))
            out.append(rec)
    return out


#: clips shorter than this are reported (too short for gait parameters)
SHORT_CLIP_S = 1.0


def job_warnings(rec: dict) -> list[dict]:
    """Problems a finished job's provenance shows: ``[{"clip", "job", "message"}]``.

    * no person in any frame (pose, silhouette, segmentation);
    * fewer frames decoded than the container reports for the range (a truncated file);
    * an ``end_frame`` past the end of the video (naming the frames actually read);
    * undecodable frames skipped in the middle;
    * a clip shorter than :data:`SHORT_CLIP_S` (from the real frame rate);
    * the record's own ``warnings`` (written by :func:`gaitprep.runner.provenance_extras`:
      header frame rate vs timestamps, non-uniform timing for flow, portrait or sideways
      video, a second person in view).
    """
    st = rec.get("stats") or {}
    v = rec.get("video") or {}
    key, job = rec.get("clip"), _job_key(rec)
    out = []

    def warn(msg):
        out.append({"clip": key, "job": job, "message": msg})

    decoded = st.get("frames_decoded", st.get("frames"))
    if rec.get("modality") != "flow" and st.get("frames_with_person") == 0 and st.get("frames"):
        warn(f"no person found in any of the {st['frames']} frames of {v.get('path', 'the video')}")
    n = v.get("frame_count")
    if decoded is not None and n:
        start = v.get("start") or 0
        expected = (min(v["end"], n) if v.get("end") else n) - start
        skipped = len(st.get("frames_skipped") or [])
        if v.get("end") and v["end"] > n:
            warn(f"end_frame {v['end']} is past the end of {v.get('path', 'the video')}: the container reports {n} frames "
                 f"and {decoded + skipped} were read from frame {start} (the clip ends at frame {start + decoded + skipped - 1})")
        elif decoded + skipped < expected:
            warn(
                f"decoded {decoded} of the {expected} frames the container reports for {v.get('path', 'the video')} "
                f"(file truncated or damaged at the end?)"
            )
    if st.get("frames_skipped"):
        warn(f"{len(st['frames_skipped'])} undecodable frame(s) skipped: {st['frames_skipped']}")
    fps = v.get("fps")
    tm = rec.get("timing") or {}
    length = (decoded or 0) + len(st.get("frames_skipped") or [])
    if tm.get("median_fps") and len(tm.get("t_s") or []) >= 2:  # the container's timestamps
        fps = tm["median_fps"]
        dur = tm["t_s"][-1] - tm["t_s"][0] + 1 / fps
        how = f"{length} frame(s) at {round(fps, 2):g} fps, from the container's timestamps"
    else:
        dur = length / fps if (length and fps) else None
        how = f"{length} frame(s) at {fps:g} fps" if fps else ""
    if dur is not None and rec.get("modality") == "pose" and dur < SHORT_CLIP_S:
        warn(f"clip is {dur:.2f} s long ({how}), shorter than {SHORT_CLIP_S:g} s: too short for gait parameters")
    for m in rec.get("warnings") or []:
        warn(str(m))
    return out


def _merge_warnings(warnings: list[dict]) -> list[dict]:
    """One entry per (clip, message): the jobs that raised it joined (``pose, flow.TVL1``)."""
    order = {"sheet": 0, "pose": 1, "silhouette": 2, "segmentation": 3}
    merged: dict[tuple, dict] = {}
    for w in warnings:
        k = (w.get("clip"), w["message"])
        if k in merged:
            merged[k]["_jobs"].append(str(w.get("job")))
        else:
            merged[k] = {**w, "_jobs": [str(w.get("job"))]}
    out = []
    for w in merged.values():
        jobs = sorted(set(w.pop("_jobs")), key=lambda j: (order.get(j, 9), j))
        out.append({**w, "job": ", ".join(jobs)})
    return out


# --------------------------------------------------------------------------- failures


def job_log_reason(log_path: str | Path, max_len: int = 600) -> Optional[str]:
    """The error a job log ends with, or ``None`` when the log shows none.

    Preference: the last ``gaitprep: error: ...`` line (the CLI prints one per failure,
    naming the file and the problem); else the exception line closing the last traceback;
    else the last non-empty line. Lines are stripped; long ones are cut to ``max_len``.
    """
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return None
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    errs = [i for i, ln in enumerate(lines) if ln.startswith(ERROR_PREFIX)]
    if errs:
        # a multi-line message (e.g. a list of problems) continues on indented lines
        i = errs[-1]
        msg = [lines[i][len(ERROR_PREFIX):].strip()]
        msg += [ln.strip() for ln in lines[i + 1 :] if ln.startswith((" ", "\t"))]
        return _cut("\n".join(msg), max_len)
    tb = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")]
    if tb:
        for ln in lines[tb[-1] + 1 :]:
            if not ln.startswith((" ", "\t")) and _TB_LAST.match(ln):
                return _cut(ln.strip(), max_len)
    return None


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def parse_snakemake_log(path: str | Path) -> list[dict]:
    """The ``Error in rule`` blocks of a Snakemake log: ``[{"rule", "output": [..], "log": [..], "jobid"}]``."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    blocks, cur = [], None
    for ln in lines:
        m = _ERROR_BLOCK.match(ln)
        if m:
            cur = {"rule": m["rule"], "output": [], "log": [], "jobid": None}
            blocks.append(cur)
            continue
        if cur is None:
            continue
        f = _FIELD.match(ln)
        if not f:
            if ln.startswith("        "):  # continuation of shell: etc.
                continue
            cur = None
            continue
        key, value = f["key"], f["value"].strip()
        if key in ("output", "log"):
            value = value.replace("(check log file(s) for error details)", "").strip()
            cur[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif key == "jobid":
            cur["jobid"] = value
    return blocks


def clip_of_path(root: str | Path, path: str | Path) -> tuple[Optional[str], Optional[str]]:
    """``(clip key, job key)`` of an output or log path inside the tree, else ``(None, None)``.

    Understands the four modality layouts of :mod:`gaitprep.healthgait.naming`, the provenance
    records and any path that contains ``<PID>/<GT>/<WC>_<clip>`` (logs, gait steps).
    """
    parts = Path(path).parts
    try:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).parts
    except ValueError:
        rel = parts
    inv = {v: k for k, v in naming.MODALITY_DIRS.items()}
    if rel and rel[0] in inv and len(rel) >= 4:
        modality = inv[rel[0]]
        pid, gt = rel[1], rel[2]
        if modality == "flow" and len(rel) >= 5:
            return f"{pid}/{gt}/{rel[4]}", f"flow.{rel[3]}"
        stem = re.sub(rf"{naming.SUFFIX[modality]}(\.json)?$", "", rel[3])
        return f"{pid}/{gt}/{stem}", modality
    # provenance/<PID>/<GT>/<stem>.<modality>[.<METHOD>].json: the image jobs' declared output
    m = re.fullmatch(r"([^.]+)\.(pose|silhouette|segmentation|flow)(?:\.([A-Z0-9]+))?\.json", rel[3]) if len(rel) == 4 and rel[0] == "provenance" else None
    if m:
        return f"{rel[1]}/{rel[2]}/{m[1]}", m[2] if m[3] is None else f"{m[2]}.{m[3]}"
    s = "/".join(parts)
    m = re.search(r"(PA\d{3,})/(UGS|FGS)/([A-Za-z]+-[A-Za-z]+_[^/._]+)", s)
    return (f"{m[1]}/{m[2]}/{m[3]}", None) if m else (None, None)


def _logs_since(root: Path, since: float) -> list[Path]:
    d = root / "logs"
    if not d.is_dir():
        return []
    return [p for p in d.rglob("*.log") if p.is_file() and p.stat().st_mtime >= since - 1]


def collect_failures(root: str | Path, snakemake_logs: Iterable[str | Path] = (), since: Optional[float] = None) -> list[dict]:
    """Failed jobs of the run, each ``{"rule", "clip", "job", "output", "log", "reason"}``.

    Args:
        root: the tree's root.
        snakemake_logs: the Snakemake log file(s) of the run (the ``log`` of the handlers).
        since: run start (epoch s) for the job-log fallback; default: the Snakemake log's
            creation time, if any.
    """
    root = Path(root)
    out, seen_logs, seen_jobs = [], set(), set()
    logs = [Path(p) for p in snakemake_logs if p]
    for sl in logs:
        for b in parse_snakemake_log(sl):
            # Snakemake may print a failed job's error block more than once (at the failure and
            # again in the final summary): one failure per (rule, outputs)
            key = (b["rule"], tuple(b["output"]), tuple(b["log"]))
            if key in seen_jobs:
                continue
            seen_jobs.add(key)
            clip = job = None
            for p in b["output"] + b["log"]:
                clip, job = clip_of_path(root, p)
                if clip:
                    break
            if job is None and b["output"]:
                job = clip_of_path(root, b["output"][0])[1]
            reason = None
            for lp in b["log"]:
                reason = job_log_reason(lp if os.path.isabs(lp) else Path(sl).parent.parent.parent / lp) or job_log_reason(lp)
                seen_logs.add(os.path.abspath(lp))
                if reason:
                    break
            out.append({
                "rule": b["rule"], "clip": clip, "job": job or b["rule"], "output": b["output"],
                "log": b["log"], "reason": reason or "job failed (no error message in its log; see the Snakemake log)",
            })  # fmt: skip
    if not out:
        if since is None and logs:
            try:
                since = min(p.stat().st_ctime for p in logs if p.exists())
            except ValueError:
                since = None
        if since is not None:
            for lp in sorted(_logs_since(root, since)):
                if os.path.abspath(lp) in seen_logs:
                    continue
                text = lp.read_text(errors="replace")
                if ERROR_PREFIX not in text and "Traceback (most recent call last)" not in text:
                    continue
                reason = job_log_reason(lp)
                if reason:
                    clip, job = clip_of_path(root, lp)
                    rule = lp.relative_to(root / "logs").parts[0]
                    out.append({"rule": rule, "clip": clip, "job": job or rule, "output": [], "log": [str(lp)], "reason": reason})
    return out


# --------------------------------------------------------------------------- report


def build_report(
    root: str | Path,
    snakemake_logs: Iterable[str | Path] = (),
    status: str = "unknown",
    since: Optional[float] = None,
) -> dict:
    """Join provenance records and failures into the report dict (layout in the module doc)."""
    root = Path(root)
    logs = [str(p) for p in snakemake_logs if p]
    clips: dict[str, dict] = {}

    def clip_entry(key):
        return clips.setdefault(key, {"status": "complete", "jobs": {}, "failures": []})

    totals = {"frames": 0, "frames_with_person": 0, "frames_skipped": 0}
    for rec in load_provenance(root):
        st = rec.get("stats", {}) or {}
        skipped = list(st.get("frames_skipped") or [])
        frames = st.get("frames", st.get("pairs", 0)) or 0
        job = {
            "frames": frames,
            "frames_with_person": st.get("frames_with_person"),
            "frames_skipped": skipped,
            "backend": rec.get("backend") or rec.get("name"),
            "wall_s": (rec.get("timing") or {}).get("wall_s"),
            "persons": st.get("persons"),
            "output": rec.get("output"),
            "finished": rec.get("finished"),
        }
        clip_entry(rec["clip"])["jobs"][_job_key(rec)] = job
        if rec.get("modality") != "flow":
            totals["frames"] += int(frames or 0)
            totals["frames_with_person"] += int(st.get("frames_with_person") or 0)
        totals["frames_skipped"] += len(skipped)
    recs = load_provenance(root)
    warnings = [w for rec in recs for w in job_warnings(rec)]
    warnings += sanity.read_sheet_warnings(root)
    widths = {r["clip"]: (r.get("video") or {}).get("width") for r in recs if r.get("modality") == "pose"}
    warnings += sanity.direction_warnings(root, sorted(clips), widths)
    warnings = _merge_warnings(warnings)
    failures = sorted(collect_failures(root, logs, since), key=lambda f: (f["clip"] or "", f["job"]))
    for f in failures:
        if f["clip"]:
            e = clip_entry(f["clip"])
            e["status"] = "failed"
            e["failures"].append({k: f[k] for k in ("job", "rule", "reason", "log")})
            e["jobs"].pop(f["job"], None)  # an older output may still exist; this run's job failed
    n_failed_clips = sum(1 for c in clips.values() if c["status"] == "failed")
    report = {
        "root": str(root),
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": status,
        "snakemake_log": logs,
        "totals": {
            "clips": len(clips),
            "clips_complete": len(clips) - n_failed_clips,
            "clips_failed": n_failed_clips,
            "jobs_done": sum(len(c["jobs"]) for c in clips.values()),
            "jobs_failed": len(failures),
            **totals,
        },
        "clips": dict(sorted(clips.items())),
        "failures": failures,
        "warnings": warnings,
    }
    return report


def clip_frames(clip: dict) -> Optional[int]:
    """Frames of one clip in a report's ``clips`` entry: the most frames any of its frame
    jobs processed (a flow job's pairs + 1), not their sum over modalities; None if no job
    finished."""
    counts = [j.get("frames") or 0 for key, j in clip["jobs"].items() if not key.startswith("flow")]
    counts += [(j.get("frames") or 0) + 1 for key, j in clip["jobs"].items() if key.startswith("flow") and j.get("frames")]
    return max(counts) if counts else None


def _frames_text(report: dict) -> str:
    n = [f for f in (clip_frames(c) for c in report["clips"].values()) if f is not None]
    if not n:
        return "no frames processed"
    if len(n) == 1:
        return f"{n[0]} frames"
    lo, hi = min(n), max(n)
    per = f"{lo} frames per clip" if lo == hi else f"{lo}-{hi} frames per clip"
    return f"{per} ({sum(n)} in all)"


def format_summary(report: dict) -> str:
    """A few lines for the end of the Snakemake output: where the results are, clips
    complete, modality jobs done (those that write a provenance record: pose, silhouette,
    segmentation, flow per method) and jobs failed (any rule), frames per clip (counted once
    per clip, not once per modality), undecodable frames skipped; then each failure and warning."""
    t = report["totals"]
    lines = [
        f"gaitprep run report ({report['root']}/{REPORT_NAME}): {t['clips_complete']} of {t['clips']} clips complete, "
        f"{t['jobs_done']} modality jobs done, {t['jobs_failed']} jobs failed; {_frames_text(report)}, "
        f"{t['frames_skipped']} undecodable frames skipped; results in {report['root']}/"
    ]
    for f in report["failures"]:
        where = f["clip"] or ", ".join(f["output"]) or f["rule"]
        log = f" (log: {f['log'][0]})" if f["log"] else ""
        reason = f["reason"].replace("\n", "\n      ")
        lines.append(f"  FAILED {where} {f['job']}: {reason}{log}")
    for key, c in report["clips"].items():
        for job, j in c["jobs"].items():
            if j["frames_skipped"]:
                lines.append(f"  skipped frames {key} {job}: {j['frames_skipped']}")
    for w in report.get("warnings", []):
        if "undecodable frame(s) skipped" not in w["message"]:  # listed above
            lines.append(f"  WARNING {w['clip']} {w['job']}: {w['message']}")
    return "\n".join(lines)


#: rules whose failure leaves gait_parameters_estimation.csv describing an older state of some
#: clip (the gait chain: synthetic input, pose, per-clip gait); a flow, silhouette,
#: segmentation or QC failure does not touch the gait numbers
GAIT_CHAIN_RULES = ("synth", "pose_clip", "blazepose_clip", "gait_clip", "gait_aggregate")


def drop_stale_estimation(root: str | Path, report: dict) -> Optional[str]:
    """Remove ``<root>/gait_parameters_estimation.csv`` when a job of the gait chain failed in
    this run, so that a table from an earlier run never stands beside outputs it no longer
    matches (the gait job of a clip whose pose failed never starts, so it cannot remove it).

    Returns the message printed (``None`` when nothing was removed)."""
    csv = Path(root) / naming.ESTIMATION_CSV
    failed = sorted({f.get("clip") or f.get("rule") for f in report.get("failures", []) if f.get("rule") in GAIT_CHAIN_RULES})
    if not failed or not csv.exists():
        return None
    csv.unlink()
    msg = (
        f"gaitprep: removed {csv}: the gait chain failed for {', '.join(str(c) for c in failed)}, so the table would "
        "mix this run's clips with an earlier state; fix the failure and rerun to rebuild it"
    )
    print(msg, file=sys.stderr)
    return msg


def write_run_report(
    root: str | Path,
    snakemake_logs: Iterable[str | Path] | str | None = None,
    status: str = "unknown",
    since: Optional[float] = None,
    quiet: bool = False,
) -> dict:
    """Build the report and write ``<root>/run_report.json`` atomically; print the summary
    to stderr unless ``quiet``. Returns the report dict."""
    if isinstance(snakemake_logs, (str, os.PathLike)):
        snakemake_logs = [snakemake_logs]
    report = build_report(root, snakemake_logs or (), status, since)
    Path(root).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(root) / REPORT_NAME, report)
    if not quiet:
        print(format_summary(report), file=sys.stderr)
    if status == "error":
        drop_stale_estimation(root, report)
    return report


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", required=True, help="root of the output tree")
    p.add_argument("--snakemake-log", action="append", default=[], help="Snakemake log of the run (repeatable)")
    p.add_argument("--status", default="unknown", choices=("success", "error", "unknown"))
    p.add_argument("--since", type=float, default=None, help="run start, epoch seconds (job-log fallback)")


def _run(args) -> int:
    write_run_report(args.root, args.snakemake_log, args.status, args.since)
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``run-report`` to the ``gaitprep`` CLI."""
    p = subparsers.add_parser("run-report", help=f"write <root>/{REPORT_NAME} from provenance records and a Snakemake log")
    _add_arguments(p)
    p.set_defaults(func=_run)
    return p


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gaitprep run-report", description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    return _run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
