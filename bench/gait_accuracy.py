"""Gait event and parameter accuracy: real hand labels and two synthetic seed sets.

Scores what ``gaitprep gait-clip`` computes (:func:`gaitprep.gait.clip.analyze_clip`,
default settings, zeni) against

(a) **real hand labels** of the four shared videos (``--labels DIR``, default
    ``bench/data``: ``real_events.tsv`` with columns ``video event foot frame
    confidence note`` and ``real_passes.tsv`` with ``video pass first_frame last_frame
    direction [hidden_events]``; a detection near a hidden event, "L HS ~113-115 behind
    the shoe rack", is not counted as spurious), on BlazePose keypoints (gaitprep's backend; cached in ``--cache``, about
    10 s per video on 2 CPU cores); height calibration with 170 cm (no statures known:
    the real videos score timing, not lengths);
(b) **synthetic seed sets A and B** of :mod:`gaitprep.synth.hard` (exact keypoints with
    injected leg-label swaps in runs, drop-outs near the frame edges, jitter, 24-60 fps
    and variable frame rate, 2-4 steps in view, limping and step-time variability,
    statures 150-195 cm); px_per_cm calibration from the walker.

Tuning / reporting: the detector's constants were chosen on synthetic sets A and A2; set
B was looked at while the label-free detector was developed (a development check); set C
is the reporting set, scored only once the detector was frozen. The BlazePose timing
offsets (``EVENT_OFFSET_S``) are calibrated on all eight labelled real videos, the shared
four and the held-out four (``--tune --heldout-videos DIR``); their held-out figure is the
leave-one-video-out table (each video scored with offsets calibrated on the other seven),
printed after the in-sample ones. The offsets time the physical contact: the labelling
rule picks a frame before the heel's contact and after the toe's lift-off, a lead this
script measures by applying the rule to the renderer's exact feet at each video's scale
(``--label-rule``), so the real videos are scored twice: against the contact the labels
imply (each label moved by its video's lead) and against the labels as labelled.

Events: a detected event is *found* when it lies within ``MATCH_S`` (0.12 s) of a true
event of the same kind (one-to-one, nearest first; the foot is scored separately);
*spurious* when it matches none. Synthetic truth counts only events where the whole lower
body is in view (``eligible``; a detection of a non-eligible event is neither found nor
spurious); real labels count the events inside the labelled pass frames. Errors are
``(t_detected - t_true) x fps`` frames (MAE and signed bias). Participant means (cadence,
step and stride length, MonoSP = single support, BiSP = double support, speed) are the
clip summary's against the truth's (for real video: computed from the hand-labelled
events with the same definitions).

    PYTHONPATH=src python bench/gait_accuracy.py [--labels bench/data] [--sets A,B] [--real]
        [--cases DIR] [--cache DIR] [--json OUT]

``--cases DIR`` stores the generated synthetic cases (JSON). Another checkout of gaitprep
(e.g. the main branch: ``PYTHONPATH=/path/to/main/src python bench/gait_accuracy.py``)
is scored on the very same inputs: the scoring calls only its ``analyze_clip`` and
``series_from_records`` (and ``attach_times`` when it has it); the synthetic cases and
the truth come from this checkout's :mod:`gaitprep.synth.hard`.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH chooses the gaitprep to score (e.g. another checkout)
    sys.path.insert(0, str(REPO / "src"))

from gaitprep.gait.calibration import body_height_px  # noqa: E402
from gaitprep.gait.clip import analyze_clip  # noqa: E402
from gaitprep.gait.io import series_from_records  # noqa: E402

MATCH_S = 0.12
VIDEOS_DIR = Path(os.environ.get("GAITPREP_SHARED", Path(__file__).resolve().parents[1].parent / "shared")) / "data" / "videos"
#: role of each synthetic seed set in the tables (gaitprep.synth.hard.SEED_SETS)
SET_ROLE = {"A": "tuning", "A2": "tuning", "B": "development check", "C": "reporting", "S": "tuning, step-to",
            "S2": "development check, step-to", "S3": "reporting, step-to"}  # fmt: skip
PARAMS = {
    "cadence_steps_per_min": "cadence (steps/min)",
    "step_length_cm": "step length (cm)",
    "stride_length_cm": "stride length (cm)",
    "single_support_s": "MonoSP (s)",
    "double_support_s": "BiSP (s)",
    "speed_m_per_s": "speed (m/s)",
}


def _hard():
    """:mod:`gaitprep.synth.hard` of this checkout, also when the gaitprep being scored (an
    older checkout on PYTHONPATH) has none: loaded from this file's repository."""
    try:
        from gaitprep.synth import hard
    except ImportError:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "gaitprep.synth.hard", REPO / "src" / "gaitprep" / "synth" / "hard.py"
        )
        hard = importlib.util.module_from_spec(spec)
        sys.modules["gaitprep.synth.hard"] = hard
        spec.loader.exec_module(hard)
    return hard


def _attach(series, timing, fps):
    try:
        from gaitprep.gait.io import attach_times
    except ImportError:  # an older gaitprep: frames are timed as frame / fps
        return series
    return attach_times(series, timing, fps)


def match_events(det: list[dict], truth: list[dict], kind: str, fps: float, in_scope) -> dict:
    """One-to-one matching of detected to true events of ``kind`` (nearest first, within
    :data:`MATCH_S`). ``truth`` items carry ``time``, ``foot`` and ``eligible``;
    ``in_scope(t)`` says whether a detection at time t that matches nothing counts as
    spurious. Returns counts and signed errors (frames)."""
    d = [e for e in det if e["event"] == kind]
    tr = [e for e in truth if e["event"] == kind]
    pairs = sorted(
        ((abs(a["_t"] - b["time"]), i, j) for i, a in enumerate(d) for j, b in enumerate(tr)), key=lambda x: x[0]
    )
    used_d, used_t, matched = set(), set(), []
    for dist, i, j in pairs:
        if dist > MATCH_S or i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        matched.append((d[i], tr[j]))
    elig = [b for b in tr if b["eligible"]]
    found = [(a, b) for a, b in matched if b["eligible"]]
    spurious = [a for i, a in enumerate(d) if i not in used_d and in_scope(a["_t"])]
    errs = [(a["_t"] - b["time"]) * fps for a, b in found]
    foot_ok = sum(1 for a, b in found if a["foot"] == b["foot"])
    return {"n_true": len(elig), "found": len(found), "spurious": len(spurious), "errors": errs, "foot_ok": foot_ok,
            "sources": [a.get("source") or "label-free" for a, _ in found],
            "_matched_truth": [b for _, b in matched]}  # fmt: skip


def score_clip(res, truth_events: list[dict], truth_means: dict, fps: float, in_scope) -> dict:
    det = []
    for e in res.events:
        t = e.get("t", e.get("time", e["frame"] / fps))
        det.append(dict(e, _t=float(t)))
    out = {k: match_events(det, truth_events, k, fps, in_scope) for k in ("HS", "TO")}
    # the truth means over the steps the clip shows: eligible heel strikes and any other
    # true heel strike the detector found (the summary's means include those steps too)
    seen = {id(b) for k in ("HS", "TO") for b in out[k].pop("_matched_truth")}
    shown = [e for e in truth_events if e["eligible"] or id(e) in seen]
    truth_means = dict(truth_means) | _hard().params_from_events(shown, lambda e: True)
    m = res.summary["means"]
    out["params"] = {}
    for k in PARAMS:
        est, tru = m.get(k), truth_means.get(k)
        ok = est is not None and tru is not None and np.isfinite(est) and np.isfinite(tru)
        out["params"][k] = (float(est) - float(tru)) if ok else None
    # the label-free double-support rhythm (a quality check's reference) against the truth
    ds = ((res.summary.get("quality") or {}).get("double_support_cadence") or {}).get("cadence_steps_per_min")
    tc = truth_means.get("cadence_steps_per_min")
    out["ds_cadence_error"] = (float(ds) - float(tc)) if ds is not None and tc is not None and np.isfinite(tc) else None
    out["warnings"] = res.summary.get("warnings", [])
    out["n_steps"] = res.summary.get("n_steps")
    return out


# ------------------------------------------------------------------ synthetic
def synth_cases(name: str, cases_dir: Path | None) -> list[dict]:
    """The cases of seed set ``name`` as dicts ``{records, timing, truth, label}``; generated
    with :mod:`gaitprep.synth.hard` (or read from ``cases_dir/<name>.json`` when present)."""
    path = cases_dir / f"synth_{name}.json" if cases_dir else None
    if path and path.exists():
        return json.loads(path.read_text())
    hard = _hard()
    case_summary, make_case, seed_set = hard.case_summary, hard.make_case, hard.seed_set
    out = []
    for cp in seed_set(name):
        recs, timing, truth = make_case(cp)
        out.append({"records": recs, "timing": timing, "truth": truth, "label": f"{cp.seed} {case_summary(cp)}"})
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out))
    return out


def run_synth(name: str, cases_dir: Path | None) -> list[dict]:
    rows = []
    for c in synth_cases(name, cases_dir):
        tr = c["truth"]
        s = series_from_records(c["records"], c["label"], tr["width"], tr["height"])
        s = _attach(s, c["timing"], tr["fps"])
        res = analyze_clip(s, tr["fps"], "PA001/UGS/NW-WJ_1", {"method": "px_per_cm", "px_per_cm": tr["px_per_cm"]})
        elig_t = [e["time"] for e in tr["events"] if e["eligible"]]
        lo, hi = (min(elig_t) - 0.3, max(elig_t) + 0.3) if elig_t else (0, -1)
        r = score_clip(res, tr["events"], tr, tr["fps"], lambda t, lo=lo, hi=hi: lo <= t <= hi)
        r["label"] = c["label"]
        r["diagnostics"] = _diag(res)
        rows.append(r)
    return rows


def _diag(res) -> dict:
    d = getattr(res.prep, "diagnostics", None) or {}
    return {k: d.get(k) for k in ("leg_swap_rate", "pose_coverage", "foot_label_agreement") if k in d} | {
        "n_rejected": len(d.get("rejected_events", [])), "refused": _refused(res)
    }


# ------------------------------------------------------------------ real
def read_labels(labels_dir: Path, prefix: str = "real") -> tuple[dict, dict]:
    """``({video: [event...]}, {video: [(first, last, direction)...]})`` from
    ``<prefix>_events.tsv`` and ``<prefix>_passes.tsv``."""
    ev_path, pa_path = labels_dir / f"{prefix}_events.tsv", labels_dir / f"{prefix}_passes.tsv"
    if not ev_path.exists() or not pa_path.exists():
        raise SystemExit(f"{labels_dir}: {ev_path.name} / {pa_path.name} not found (pass --labels DIR)")
    events: dict = {}
    HIDDEN.clear()
    with open(ev_path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            try:
                kind, foot, frame = r["event"].strip().upper(), r["foot"].strip().upper(), float(r["frame"])
            except (KeyError, ValueError, AttributeError) as e:
                raise SystemExit(f"{ev_path}:{i}: bad row ({e})") from e
            if kind not in ("HS", "TO") or foot not in ("L", "R"):
                raise SystemExit(f"{ev_path}:{i}: event must be HS|TO and foot L|R, got {kind!r} {foot!r}")
            conf = (r.get("confidence") or "").strip().lstrip("±+-")
            events.setdefault(r["video"].strip(), []).append(
                {"event": kind, "foot": "left" if foot == "L" else "right", "frame": frame,
                 "tolerance_frames": int(conf) if conf.isdigit() else 1}
            )  # fmt: skip
    passes: dict = {}
    with open(pa_path, newline="") as f:
        for i, r in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            video = r["video"].strip()
            passes.setdefault(video, []).append((int(r["first_frame"]), int(r["last_frame"]), r["direction"].strip()))
            for foot, kind, a, b in HIDDEN_RE.findall(r.get("hidden_events") or ""):
                HIDDEN.setdefault(video, []).append((kind, float(a), float(b)))
    return events, passes


#: ``hidden_events`` notes of real_passes.tsv: "L HS ~113-115 behind the shoe rack" = an
#: event the labeller knows of but could not see; a detection of that kind within
#: HIDDEN_TOL_FRAMES of the range is neither found nor spurious
HIDDEN_RE = __import__("re").compile(r"\b([LR]) (HS|TO)\b[^~;]*?~(\d+)-(\d+)")
HIDDEN: dict = {}
HIDDEN_TOL_FRAMES = 3


def real_pose(video: str, cache: Path, videos_dir: Path = VIDEOS_DIR) -> tuple[list, dict]:
    """BlazePose records and ``{fps, width, height, t_s}`` of a video of ``videos_dir``
    (cached in ``cache`` by file name and size)."""
    v = videos_dir / video
    if not v.exists():
        raise SystemExit(f"{v}: video not found")
    path = cache / f"{video}.{v.stat().st_size}.pose.json"
    if path.exists():
        d = json.loads(path.read_text())
        return d["records"], d["info"]
    import cv2

    from gaitprep.gait.mpipe import blazepose_records

    recs, info = blazepose_records(v)
    cap = cv2.VideoCapture(str(v))
    ts = []
    while cap.grab():
        ts.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    info["t_s"] = ts
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"records": recs, "info": info}))
    return recs, info


def run_real(labels_dir: Path, cache: Path, videos_dir: Path = VIDEOS_DIR, prefix: str = "real",
             only: str | None = None) -> list[dict]:  # fmt: skip
    """Score every labelled video of ``<prefix>_events.tsv`` (videos in ``videos_dir``), or
    only the one named ``only``; a ``<prefix>_sources.tsv`` beside the labels (columns
    ``video sha1 source``) pins each video's content: a different file is refused.
    Each video is analysed once and scored twice: the row against the labels as labelled,
    and in its ``"against_contact"`` the same analysis against the contact each label
    implies (:func:`label_to_contact`, the video's lead from :func:`label_rule_leads`,
    recorded as ``"lead"``)."""
    labels, passes = read_labels(labels_dir, prefix)
    _check_sources(labels_dir / f"{prefix}_sources.tsv", videos_dir)
    rows = []
    for video in sorted(v for v in passes if only is None or v == only):
        recs, info = real_pose(video, cache, videos_dir)
        fps = float(info["fps"])
        ts = info.get("t_s") or []
        timing = {"frames": list(range(len(ts))), "t_s": ts, "header_fps": fps} if len(ts) == len(recs) and ts else None
        tfun = (lambda f: float(np.interp(f, range(len(ts)), ts))) if timing else (lambda f: f / fps)
        rng = [(a, b) for a, b, _ in passes[video]]
        ev = []
        for e in labels.get(video, []):
            q = next((i for i, (a, b) in enumerate(rng) if a <= e["frame"] <= b), None)
            ev.append(dict(e, time=tfun(e["frame"]), eligible=q is not None, **{"pass": q}))
        s = series_from_records(recs, video, info["width"], info["height"])
        s.extra["backend"] = "blazepose"  # as read from the pose provenance (read_provenance_backend)
        s = _attach(s, timing, fps)
        res = analyze_clip(s, fps, "PA900/UGS/NW-WoJ_2", {"method": "height", "height_cm": 170})
        px = body_height_px(res.prep.series, res.prep.passes)
        lead = label_rule_leads([{"label": video, "nose_ankle_px": px}])[video]
        t_rng = [(tfun(a), tfun(b)) for a, b in rng]
        scored = {}
        for contact in (False, True):
            move = lead if contact else {"HS": 0.0, "TO": 0.0}
            tev = sorted(label_to_contact(ev, move), key=lambda e: e["time"])
            means = _hard().params_from_events([e for e in tev if e["eligible"]], lambda e: True)
            # a hidden event's rough frames are label-timed: moved like the labels
            hidden = [(tfun(a - HIDDEN_TOL_FRAMES) - move.get(k, 0.0), tfun(b + HIDDEN_TOL_FRAMES) - move.get(k, 0.0))
                      for k, a, b in HIDDEN.get(video, [])]  # fmt: skip

            def in_scope(t, t_rng=t_rng, hidden=hidden):
                return any(a <= t <= b for a, b in t_rng) and not any(a <= t <= b for a, b in hidden)

            r = score_clip(res, tev, means, fps, in_scope)
            for k in ("step_length_cm", "stride_length_cm", "speed_m_per_s"):
                r["params"][k] = None  # no stature / static camera: not scored on the real videos
            r["label"] = video
            r["fps"] = fps
            r["_heldout"] = prefix == "heldout"
            r["diagnostics"] = _diag(res)
            r["nose_ankle_px"], r["lead"] = px, lead
            scored[contact] = r
        scored[False]["against_contact"] = scored[True]
        rows.append(scored[False])
    return rows


def label_noise(labels_dir: Path, videos_dir: Path = VIDEOS_DIR, prefix: str = "real", draws: int = 400, seed: int = 0,
                cache: Path | None = None) -> list[dict]:  # fmt: skip
    """How much the hand-labelled reference itself is uncertain: each labelled event moved
    by a uniform whole number of frames within its stated confidence (``±1``: -1, 0 or +1;
    ``±2``: -2..+2), ``draws`` times, and the participant means recomputed from the labels
    exactly as the truth of :func:`run_real`. The spread (standard deviation and mean
    absolute change) is the part of a measured error that would be there with a perfect
    detector. Frame times as :func:`run_real` (the video's timestamps, from the pose cache)."""
    labels, passes = read_labels(labels_dir, prefix)
    rng = np.random.default_rng(seed)
    out = []
    for video in sorted(passes):
        ts, fps = None, None
        if cache is not None:
            _, info = real_pose(video, cache, videos_dir)
            ts, fps = info.get("t_s") or None, float(info["fps"])
        rngs = [(a, b) for a, b, _ in passes[video]]
        ev = []
        for e in labels.get(video, []):
            q = next((i for i, (a, b) in enumerate(rngs) if a <= e["frame"] <= b), None)
            if q is not None:
                ev.append(dict(e, **{"pass": q}))
        if fps is None:  # no pose cache: the container's rate
            fps = float(_info_fps(video, videos_dir))

        def means(shift, ev=ev, ts=ts, fps=fps):
            tf = (lambda f: float(np.interp(f, range(len(ts)), ts))) if ts else (lambda f: f / fps)
            evs = sorted((dict(e, time=tf(e["frame"] + d)) for e, d in zip(ev, shift)), key=lambda e: e["time"])
            return _hard().params_from_events(evs, lambda e: True)

        m0 = means([0] * len(ev))
        dd = [means([int(rng.integers(-e["tolerance_frames"], e["tolerance_frames"] + 1)) for e in ev]) for _ in range(draws)]
        row = {"label": video}
        for k in ("cadence_steps_per_min", "single_support_s", "double_support_s"):
            x = np.array([d[k] for d in dd], float) - m0[k]
            row[k] = {"reference": m0[k], "sd": float(np.nanstd(x)), "mean_abs": float(np.nanmean(np.abs(x)))}
        out.append(row)
    return out


def _info_fps(video: str, videos_dir: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(videos_dir / video))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    finally:
        cap.release()


def _print_label_noise(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}")
    print("| video | cadence (steps/min): reference, sd, mean abs change | MonoSP (s) | BiSP (s) |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        cells = [f"{r[k]['reference']:.{p}f}, {r[k]['sd']:.{p}f}, {r[k]['mean_abs']:.{p}f}"
                 for k, p in (("cadence_steps_per_min", 2), ("single_support_s", 3), ("double_support_s", 3))]  # fmt: skip
        print(f"| {r['label']} | " + " | ".join(cells) + " |")
    mean = [np.mean([r[k]["mean_abs"] for r in rows]) for k in ("cadence_steps_per_min", "single_support_s", "double_support_s")]
    print(f"| mean | mean abs change {mean[0]:.2f} | {mean[1]:.3f} | {mean[2]:.3f} |")


def _check_sources(path: Path, videos_dir: Path) -> None:
    if not path.exists():
        return
    import hashlib

    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            v = videos_dir / r["video"]
            if not v.exists():
                raise SystemExit(f"{v}: video not found (source: {r.get('source', '?')})")
            h = hashlib.sha1(v.read_bytes()).hexdigest()
            if h != r["sha1"].strip():
                raise SystemExit(f"{v}: sha1 {h} is not the labelled file's {r['sha1']} (source: {r.get('source', '?')})")


# ------------------------------------------------------------------ tables
def event_table(rows: list[dict]) -> list[str]:
    out = [
        "| event | true | found | found % | spurious | MAE (frames) | bias (frames) | max (frames) | foot right |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in ("HS", "TO"):
        n = sum(r[k]["n_true"] for r in rows)
        f = sum(r[k]["found"] for r in rows)
        sp = sum(r[k]["spurious"] for r in rows)
        e = np.array([x for r in rows for x in r[k]["errors"]])
        fo = sum(r[k]["foot_ok"] for r in rows)
        mae = f"{np.mean(np.abs(e)):.2f}" if len(e) else "n/a"
        bias = f"{np.mean(e):+.2f}" if len(e) else "n/a"
        mx = f"{np.max(np.abs(e)):.2f}" if len(e) else "n/a"
        out.append(f"| {k} | {n} | {f} | {100 * f / max(n, 1):.1f} | {sp} | {mae} | {bias} | {mx} | {fo}/{f} |")
    return out


def param_table(rows: list[dict]) -> list[str]:
    out = ["| parameter | clips scored | MAE | bias | worst |", "| --- | --- | --- | --- | --- |"]
    for k, name in PARAMS.items():
        v = np.array([r["params"][k] for r in rows if r["params"].get(k) is not None], float)
        if not len(v):
            continue
        out.append(
            f"| {name} | {len(v)}/{len(rows)} | {np.mean(np.abs(v)):.3f} | {np.mean(v):+.3f} | {np.max(np.abs(v)):.3f} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--labels",
        default=str(Path(__file__).resolve().parent / "data"),
        help="folder with real_events.tsv, real_passes.tsv",
    )
    ap.add_argument("--sets", default="A,A2,B,C", help="synthetic seed sets, comma separated ('' for none)")
    ap.add_argument("--no-loo", action="store_true", help="skip the leave-one-video-out table of the real videos")
    ap.add_argument(
        "--heldout-videos",
        default=None,
        help="folder with the held-out real videos of heldout_sources.tsv (the Dataset/ folder of a clone of their"
        " source repository): also score heldout_events.tsv, and pool them into --tune and the leave-one-video-out table",
    )
    ap.add_argument("--no-real", action="store_true", help="skip the real videos")
    ap.add_argument("--cases", default=None, help="folder to keep/reuse the generated synthetic cases")
    ap.add_argument("--cache", default="/tmp/gaitprep_real_pose", help="BlazePose cache of the real videos")
    ap.add_argument("--per-clip", action="store_true", help="also print one line per clip")
    ap.add_argument(
        "--rendered", action="store_true", help="also the project's rendered walkers through BlazePose (~25 s each, cached)"
    )
    ap.add_argument(
        "--sweep-only",
        metavar="SEED,N",
        default=None,
        help="only the random renderer walkers of sweep_configs(N, SEED) through BlazePose (e.g. 4321,16: the tuning"
        " sweep; the reporting sweep of --rendered is 777,12)",
    )
    ap.add_argument(
        "--in-view", action="store_true",
        help="with --sweep-only: the same walkers filmed closer and in view from the first frame to the last"
        " (sweep_configs in_view: the pose starts and ends mid-stride)",
    )  # fmt: skip
    ap.add_argument("--loo", action="store_true", help="real videos only, BlazePose offsets leave-one-video-out")
    ap.add_argument("--render-cache", default="/tmp/gaitprep_synth_cache", help="cache of the rendered walkers' pose")
    ap.add_argument("--json", default=None, help="write all per-clip scores here")
    ap.add_argument(
        "--label-noise",
        action="store_true",
        help="also print how much the real videos' hand-labelled participant means move when every label moves"
        " within its stated confidence (the reference's own uncertainty)",
    )
    ap.add_argument(
        "--tune",
        action="store_true",
        help="print the BlazePose timing offsets (s) that zero the mean error on all the real videos (computed without offsets)",
    )
    ap.add_argument(
        "--domains",
        metavar="ALPHAS",
        default=None,
        help="raw event timing (no offsets) on the real videos against the renderer sweep (--sweep-only's SEED,N, default"
        " 4321,16) for these comma-separated refinement thresholds, e.g. 0.1,0.3,0.5",
    )
    ap.add_argument(
        "--label-rule",
        action="store_true",
        help="what the hand labels time: the labelling rule's lead on the renderer's exact feet at each real video's scale,"
        " and renderer sweeps (--sweep-only SEED,N; default 4321,16 and 777,12) through BlazePose scored against the"
        " exact contacts and against the rule",
    )
    ap.add_argument(
        "--scale",
        action="store_true",
        help="the height calibration on BlazePose: its scale against the renderer's exact one for the walkers of"
        " --sweep-only's SEED,N (default 4321,16), where BlazePose puts the nose, ankles and heels against the"
        " renderer's joints, and the feet's geometry on the real videos against the walkers",
    )
    a = ap.parse_args()
    import gaitprep

    print(f"gaitprep from {Path(gaitprep.__file__).parent}")
    heldout = Path(a.heldout_videos) if a.heldout_videos else None
    if a.tune:
        tune(Path(a.labels), Path(a.cache), heldout)
        return
    if a.loo:
        leave_one_out(Path(a.labels), Path(a.cache), heldout)
        return
    if a.domains:
        seed, n = (int(x) for x in (a.sweep_only or "4321,16").split(","))
        alphas = [float(x) for x in a.domains.split(",")]
        domain_alphas(Path(a.labels), Path(a.cache), heldout, Path(a.render_cache), (seed, n), alphas)
        return
    if a.label_rule:
        sweeps = [tuple(int(x) for x in a.sweep_only.split(","))] if a.sweep_only else [(4321, 16), (777, 12)]
        label_rule(Path(a.labels), Path(a.cache), heldout, Path(a.render_cache), sweeps)
        return
    if a.scale:
        seed, n = (int(x) for x in (a.sweep_only or "4321,16").split(","))
        scale_check(Path(a.labels), Path(a.cache), heldout, Path(a.render_cache), (seed, n), not a.no_real)
        return
    if a.sweep_only:
        seed, n = (int(x) for x in a.sweep_only.split(","))
        run_rendered_sweep(Path(a.render_cache), n, seed, a.in_view, a.per_clip)
        return
    allrows = {}
    for name in [x for x in a.sets.split(",") if x]:
        rows = run_synth(name, Path(a.cases) if a.cases else None)
        allrows[f"synth_{name}"] = rows
        split = SET_ROLE.get(name, "reporting")
        _print_set(f"synthetic seed set {name} ({split}), {len(rows)} clips, exact keypoints + swaps/drop-outs/jitter", rows, a.per_clip)
    if not a.no_real:
        rows = run_real(Path(a.labels), Path(a.cache))
        allrows["real"] = rows
        contact = [r["against_contact"] for r in rows]
        title = f"real videos, BlazePose, shipped offsets (calibrated on these {len(rows)} and the held-out ones: in-sample)"
        _print_set(f"{title}, against the contact the hand labels imply", contact, False)
        _print_set(f"{title}, against the hand labels as labelled", rows, a.per_clip)
    if heldout is not None:
        rows = run_real(Path(a.labels), Path(a.cache), heldout, prefix="heldout")
        contact = [r["against_contact"] for r in rows]
        allrows["real_heldout"] = rows
        title = f"held-out real videos, BlazePose, shipped offsets (the detector's constants never tuned on them; the offsets calibrated on these and the shared ones: in-sample for the offsets): {', '.join(r['label'] for r in rows)}"
        _print_set(f"{title}, against the contact the hand labels imply", contact, False)
        _print_set(f"{title}, against the hand labels as labelled", rows, a.per_clip)
    if not a.no_real and not a.no_loo:
        loo = leave_one_out(Path(a.labels), Path(a.cache), heldout)
        allrows["real_loo"] = loo
        _per_clip(loo, a.per_clip)
    if a.label_noise and not a.no_real:
        rows = label_noise(Path(a.labels), cache=Path(a.cache))
        allrows["label_noise_real"] = rows
        _print_label_noise("the reference's own uncertainty: real hand labels moved within their confidence (400 draws)", rows)
    if a.label_noise and a.heldout_videos:
        rows = label_noise(Path(a.labels), Path(a.heldout_videos), "heldout", cache=Path(a.cache))
        allrows["label_noise_heldout"] = rows
        _print_label_noise("the reference's own uncertainty: held-out hand labels moved within their confidence (400 draws)", rows)
    if a.rendered:
        run_rendered(Path(a.render_cache))
    if a.json:
        Path(a.json).write_text(json.dumps(allrows, indent=1, default=float))


def _rendered_clip(recs: list, p, backend: str | None = "blazepose", height: bool = False):
    """``(series, analyze_clip result)`` of a rendered walker's pose records (``p``: its
    :class:`gaitprep.synth.WalkerParams`), calibrated at the renderer's px_per_cm, or with
    ``height`` from the walker's stature as a user's clip is by default (the ``height``
    method: its nose-to-ankle pixel height); ``backend`` as the pose provenance would name
    it (selects the timing offsets; None: no offsets)."""
    s = series_from_records(recs, "synth", p.width, p.height)
    if backend:
        s.extra["backend"] = backend
    cal = {"method": "height", "height_cm": p.height_cm} if height else {"method": "px_per_cm", "px_per_cm": p.px_per_cm}
    return s, analyze_clip(s, p.fps, "PA001/UGS/NW-WJ_1", cal)


def run_rendered(cache: Path) -> None:
    """The project's renderer through BlazePose (:data:`gaitprep.gait.validation.CONFIGS`,
    six walkers, cached in ``cache``): per-step HS/TO bias and MAE (frames) and MonoSP /
    BiSP MAE (s), with and without the BlazePose timing offset."""
    from gaitprep.gait.validation import CONFIGS, compare, event_errors, synth_blazepose

    data = [synth_blazepose(c, cache) for c in CONFIGS]
    print(f"\n## project renderer -> BlazePose, {len(data)} walkers (validation.CONFIGS), per step")
    print("| offset | HS MAE / bias (frames) | TO MAE / bias (frames) | MonoSP MAE (s) | BiSP MAE (s) |")
    print("| --- | --- | --- | --- | --- |")
    for backend in ("blazepose", None):
        hs, to, ss, ds = [], [], [], []
        for recs, truth, p in data:
            _, res = _rendered_clip(recs, p, backend)
            hs += event_errors(res.events, truth["events"], "HS")
            to += event_errors(res.events, truth["events"], "TO")
            c = compare(res, truth)
            ss += c["single_support_s"]
            ds += c["double_support_s"]
        print(
            f"| {'BlazePose' if backend else 'none'} | {np.mean(np.abs(hs)):.2f} / {np.mean(hs):+.2f} |"
            f" {np.mean(np.abs(to)):.2f} / {np.mean(to):+.2f} | {np.mean(ss):.3f} | {np.mean(ds):.3f} |"
        )
    run_rendered_step_to(cache)
    run_rendered_sweep(cache)


#: the random renderer walkers of :func:`run_rendered_sweep` (seeded: the same every run)
SWEEP_N, SWEEP_SEED = 12, 777


def sweep_configs(n: int = SWEEP_N, seed: int = SWEEP_SEED, in_view: bool = False) -> list[dict]:
    """``n`` random :class:`gaitprep.synth.WalkerParams` field sets: cadence 85-130 steps/min,
    step 45-80 cm, double support 8-16 % of the cycle, both directions, 24/25/30/50/60 fps,
    statures 150-195 cm, plain or indoor background. ``in_view``: the same walkers filmed
    closer (1.6-3.0 px/cm on the 960 px width: 2-5 steps in view), already in view at the
    first frame (pelvis 25-40 % of the view from the entry edge) and still in view at the
    last (1.6-5 s, ending before the pelvis passes 75 % of the view): the pose starts and
    ends mid-stride, as in a clip cut out of a longer walk."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        out.append(dict(
            cadence=int(rng.integers(85, 131)), step_length_cm=int(rng.integers(45, 81)),
            double_support_fraction=round(float(rng.uniform(0.08, 0.16)), 3),
            direction=str(rng.choice(["left_to_right", "right_to_left"])), seed=100 + k,
            fps=float(rng.choice([24.0, 25.0, 30.0, 50.0, 60.0])), height_cm=int(rng.integers(150, 196)),
            background=str(rng.choice(["plain", "indoor"])),
        ))  # fmt: skip
    if in_view:
        r = np.random.default_rng(seed)  # (its own generator: the walkers above stay the same)
        for cfg in out:
            px_per_cm = float(r.uniform(1.6, 3.0))
            view_cm = 960 / px_per_cm
            start = float(r.uniform(0.25, 0.4) * view_cm)
            speed_cm_s = cfg["cadence"] / 60 * cfg["step_length_cm"]
            dur = float(min(r.uniform(2.5, 5.0), (0.75 * view_cm - start) / speed_cm_s))
            cfg.update(px_per_cm=round(px_per_cm, 3), start_x_cm=round(start, 1), duration_s=round(max(dur, 1.6), 2))
    return out


def run_rendered_sweep(cache: Path, n: int = SWEEP_N, seed: int = SWEEP_SEED, inview: bool = False,
                       per_clip: bool = False) -> None:  # fmt: skip
    """Random walkers of the project's renderer through BlazePose (:func:`sweep_configs`,
    cached in ``cache``), scored like a user's clip: a true event counts when the pose
    model places the striking heel (HS) or the leaving toe (TO) of either leg inside the
    image (15 px from the left/right border) with the hips seen, i.e. including the
    contacts of a walker coming into or leaving the view; a detection within
    :data:`MATCH_S` matches (one-to-one); errors in frames and in ms; participant means
    against the renderer's truth. True events: :func:`gaitprep.synth.truth.events_in_view`. Once with the BlazePose
    timing offsets (calibrated on real video: what a user gets) and once without any;
    lengths and speed once more with the offsets and the ``height`` calibration (a user's
    default: the scale from the stature, here the walker's; the others use the renderer's
    exact px_per_cm). ``inview``: the walkers of ``sweep_configs(n, seed, in_view=True)`` (in view from the
    first frame to the last). ``per_clip``: also each walker's parameter errors (with the
    offsets) and the quality check that refused its numbers, if one did."""
    from gaitprep.gait.validation import synth_blazepose

    cfgs = sweep_configs(n, seed, inview)
    kind = "inview" if inview else "sweep"
    data = [synth_blazepose(cfg, cache, tag=f"{kind}{seed}_{i}") for i, cfg in enumerate(cfgs)]
    try:
        from gaitprep.synth.truth import events_in_view

        in_view = [events_in_view(p) for _, _, p in data]
    except ImportError:  # an older checkout: its truth files' events (heel and toe in view)
        print("\n(this gaitprep has no synth.truth.events_in_view: true events are the truth files' (heel and toe in view))")
        in_view = [truth["events"] for _, truth, _ in data]
    keys = ("cadence_steps_per_min", "single_support_s", "double_support_s", "step_length_cm")
    lengths = ("step_length_cm", "stride_length_cm", "speed_m_per_s")
    what = ", in view from the first frame to the last" if inview else ""
    print(f"\n## project renderer -> BlazePose, {len(cfgs)} random walkers (sweep_configs, seed {seed}{what}), events with the foot in the image")
    print("| offsets | event | true | found | found % | spurious | MAE (frames) | bias (frames) | mean error (ms) | missed with the whole body in view |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    params, misses, walkers = {}, [], []
    for name, backend in (("BlazePose's", "blazepose"), ("none", None)):
        tot = {k: [0, 0, 0, [], [], 0] for k in ("HS", "TO")}
        means = params[name] = {k: [] for k in keys}
        for k_walker, (recs, truth, p) in enumerate(data):
            s, res = _rendered_clip(recs, p, backend)
            frames = {int(f): j for j, f in enumerate(s.frames)}
            det = [dict(e, _t=float(e["t"])) for e in res.events]
            for kind in ("HS", "TO"):
                tev = _seen_truth(s, p, in_view[k_walker], kind)
                m = match_events(det, tev, kind, p.fps, lambda t: True)
                tot[kind][0] += m["n_true"]
                tot[kind][1] += m["found"]
                tot[kind][2] += sum(1 for e in det if e["event"] == kind) - len(m["_matched_truth"])
                tot[kind][3] += m["errors"]
                tot[kind][4] += [1000.0 * x / p.fps for x in m["errors"]]
                whole = set(truth["fully_visible_frames"])
                hit = {id(b) for b in m["_matched_truth"]}
                missed = [e for e in tev if id(e) not in hit]
                tot[kind][5] += sum(1 for e in missed if int(round(e["frame"])) in whole)
                if backend is None:  # where the misses are (the same events with and without offsets)
                    order = sorted(e["frame"] for e in tev)
                    for e in missed:
                        hx = s.xy["l_hip"][frames[int(round(e["frame"]))], 0]
                        place = "first" if e["frame"] == order[0] else "last" if e["frame"] == order[-1] else "inner"
                        misses.append((k_walker, p, kind, e, min(hx, p.width - hx), place))
            err = {}
            for k in keys:
                v = res.summary["means"].get(k)
                if v is not None and np.isfinite(v):
                    means[k].append(v - truth[k])
                    err[k] = v - truth[k]
            if backend is not None:
                walkers.append((k_walker, p, err, _refused(res)))
                # lengths as a user's clip gets them by default: scaled from the stature
                # (the events are the same; only the px -> cm scale differs)
                _, res_h = _rendered_clip(recs, p, backend, height=True)
                for k in lengths:
                    v = res_h.summary["means"].get(k)
                    if v is not None and np.isfinite(v):
                        params.setdefault("BlazePose's, height calibration", {x: [] for x in lengths})[k].append(v - truth[k])
        for k, (n, f, sp, e, ms, inner) in tot.items():
            e = np.array(e)
            print(f"| {name} | {k} | {n} | {f} | {100 * f / max(n, 1):.1f} | {sp} | {np.mean(np.abs(e)):.2f} | {np.mean(e):+.2f} | {np.mean(ms):+.1f} | {inner} |")
    print(f"\nmissed events: {len(misses)}, each with the hips' distance from the nearer left/right image border (px)")
    print("| walker | fps | direction | event | foot | frame (of the clip's) | hips from border (px) | place among the walker's events of its kind |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k_walker, p, kind, e, edge, place in misses:
        n_fr = len(data[k_walker][0])
        print(f"| {k_walker} | {p.fps:g} | {p.direction} | {kind} | {e['foot']} | {e['frame']:.1f} (0-{n_fr - 1}) | {edge:.0f} | {place} |")
    print("\n| offsets | parameter | clips scored | MAE | bias | worst |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, means in params.items():
        for k, v in means.items():
            v = np.array(v)
            print(f"| {name} | {PARAMS[k]} | {len(v)}/{len(cfgs)} | {np.mean(np.abs(v)):.3f} | {np.mean(v):+.3f} | {np.max(np.abs(v)):.3f} |")
    if per_clip:
        print("\nper walker, BlazePose's offsets: mean minus truth")
        print("| walker | fps | direction | cadence (steps/min) | MonoSP (s) | BiSP (s) | step length (cm) | refused by |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for k_walker, p, err, why in walkers:
            cells = " | ".join(f"{err[k]:+.3f}" if k in err else "-" for k in keys)
            print(f"| {k_walker} | {p.fps:g} | {p.direction} | {cells} | {why or ''} |")


def _refused(res) -> str | None:
    """The quality check that refused a clip's cadence (the first word of its reason), or None."""
    why = ((res.summary.get("quality") or {}).get("refused") or {}).get("cadence_steps_per_min")
    return why.split(":")[0] if why else None


def _seen_truth(s, p, in_view: list[dict], kind: str) -> list[dict]:
    """The true events of ``kind`` a sweep scores (:func:`run_rendered_sweep`): of the
    contacts in view (``in_view``), those at whose frame the pose model places the hips and
    the striking heel (HS) or leaving toe (TO) of either leg more than 15 px inside the
    left/right image border (``s``: the walker's pose series, ``p``: its parameters)."""
    key = "heel" if kind == "HS" else "big_toe"
    frames = {int(f): j for j, f in enumerate(s.frames)}
    out = []
    for e in in_view:
        j = frames.get(int(round(e["frame"])))
        if e["event"] != kind or j is None or not np.isfinite(s.xy["l_hip"][j, 0]):
            continue
        xs = [s.xy[f"{sd}_{key}"][j, 0] for sd in ("l", "r")]
        if any(np.isfinite(x) and 15 < x < p.width - 15 for x in xs):
            out.append(dict(e, eligible=True))
    return out


def _real_analyses(labels: Path, cache: Path, heldout_videos: Path | None):
    """Yield ``(video, its hand-labelled events, fps, analyze_clip result)`` for every
    labelled real video (the shared ones, then the held-out ones when ``heldout_videos``
    is given), analysed as BlazePose pose with the height calibration at 170 cm."""
    lab = [read_labels(labels, "real") + (VIDEOS_DIR,)]
    if heldout_videos is not None:
        lab.append(read_labels(labels, "heldout") + (heldout_videos,))
    for events, passes, vdir in lab:
        for video in sorted(passes):
            recs, info = real_pose(video, cache, vdir)
            s = series_from_records(recs, video, info["width"], info["height"])
            s.extra["backend"] = "blazepose"
            yield video, events.get(video, []), float(info["fps"]), analyze_clip(s, float(info["fps"]), "PA900/UGS/NW-WoJ_2", {"method": "height", "height_cm": 170})


def domain_alphas(labels: Path, cache: Path, heldout_videos: Path | None, render_cache: Path,
                  sweep: tuple[int, int], alphas: list[float]) -> None:  # fmt: skip
    """Raw timing (no offsets) of BlazePose events against hand labels of real video and
    against the exact truth of the project's renderer walkers, for each refinement
    threshold ``alpha`` (:data:`gaitprep.gait.events.LABEL_FREE_ALPHA`, both kinds). The
    labels as labelled precede the heel's contact by the labelling rule's lead, so the two
    differ by about that lead (``--label-rule``; the shipped offsets time the contact)."""
    import gaitprep.gait.events as ev_mod
    from gaitprep.gait.validation import synth_blazepose
    from gaitprep.synth.truth import events_in_view

    seed, n = sweep
    data = [synth_blazepose(cfg, render_cache, tag=f"sweep{seed}_{i}") for i, cfg in enumerate(sweep_configs(n, seed))]
    in_view = [events_in_view(p) for _, _, p in data]
    print(f"\n## raw event timing (no offsets) by refinement threshold: real hand labels vs renderer sweep {seed},{n}")
    print("| alpha (HS and TO) | kind | real mean error ms (n) | rendered mean error ms (n) | real - rendered ms |")
    print("| --- | --- | --- | --- | --- |")
    orig = dict(ev_mod.LABEL_FREE_ALPHA)
    try:
        for alpha in alphas:
            ev_mod.LABEL_FREE_ALPHA = {"HS": alpha, "TO": alpha}
            rows = _with_offsets({"HS": 0.0, "TO": 0.0}, labels, cache, heldout_videos)
            rend: dict = {"HS": [], "TO": []}
            for (recs, _, p), iv in zip(data, in_view):
                s, res = _rendered_clip(recs, p, None)
                det = [dict(e, _t=float(e["t"])) for e in res.events]
                for kind in rend:
                    m = match_events(det, _seen_truth(s, p, iv, kind), kind, p.fps, lambda t: True)
                    rend[kind] += [1000.0 * x / p.fps for x in m["errors"]]
            for kind in ("HS", "TO"):
                real = [1000.0 * x / r["fps"] for r in rows for x in r[kind]["errors"]]
                print(f"| {alpha:g} | {kind} | {np.mean(real):+.1f} ({len(real)}) | {np.mean(rend[kind]):+.1f} ({len(rend[kind])}) |"
                      f" {np.mean(real) - np.mean(rend[kind]):+.1f} |")  # fmt: skip
    finally:
        ev_mod.LABEL_FREE_ALPHA = orig
    # where each truth puts the heel: its distance from where it comes to rest, around the
    # true HS frame, on the pose the detector reads (swap-corrected legs)
    profiles: dict = {"real (hand labels)": [], "rendered (exact contact, <= 30 fps)": []}
    for _, events, fps, res in _real_analyses(labels, cache, heldout_videos):
        profiles["real (hand labels)"] += [_heel_profile(res.prep, e, fps) for e in events if e["event"] == "HS"]
    for (recs, _, p), iv in zip(data, in_view):
        if p.fps <= 30:
            s, res = _rendered_clip(recs, p, None)
            profiles["rendered (exact contact, <= 30 fps)"] += [_heel_profile(res.prep, e, p.fps) for e in _seen_truth(s, p, iv, "HS")]
    print("\nmedian heel distance from its rest position (% of leg length) at frames k from the true HS (real: 24-30 fps)")
    print("| truth | n | " + " | ".join(f"k={k:+d}" for k in PROFILE_K) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in PROFILE_K) + " |")
    for name, rows in profiles.items():
        rows = np.array([r for r in rows if r is not None])
        print(f"| {name} | {len(rows)} | " + " | ".join(f"{v:.1f}" for v in np.nanmedian(rows, axis=0)) + " |")


def _foot_geometry(s, passes) -> dict:
    """Median vertical ankle-above-heel and ankle-above-toe distances of the stance foot
    (the lower ankle), in % of the nose-to-lower-ankle height (the height calibration's
    pixel height), over the middle half of each pass."""
    out: dict = {"ankle above heel": [], "ankle above toe": []}
    for p in passes:
        n = p.stop - p.start
        for j in range(p.start + n // 4, p.stop - n // 4):
            ly, ry = s.xy["l_ankle"][j, 1], s.xy["r_ankle"][j, 1]
            sd = "l" if ly > ry else "r"
            h = max(ly, ry) - s.xy["nose"][j, 1]
            if not (np.isfinite(h) and h > 0):
                continue
            ank = s.xy[f"{sd}_ankle"][j, 1]
            out["ankle above heel"].append(100.0 * (s.xy[f"{sd}_heel"][j, 1] - ank) / h)
            out["ankle above toe"].append(100.0 * (s.xy[f"{sd}_big_toe"][j, 1] - ank) / h)
    return {k: float(np.nanmedian(v)) if v else float("nan") for k, v in out.items()}


#: nose height of a walking adult above the floor (barefoot), fraction of stature: nose tip
#: at ~0.91 H standing (Drillis & Contini 1966 via Winter 2009, fig. 4.1), ~1 % of H lower
#: while walking (:data:`gaitprep.gait.calibration.NOSE_ANKLE_FRACTION`'s derivation)
NOSE_HEIGHT_WALKING = 0.90


def sole_heights(video: Path, cache: Path, floor_y=None) -> dict:
    """BlazePose's stance-foot keypoints above the sole, from BlazePose's own person mask.

    gaitprep's BlazePose model (:class:`gaitprep.backends.blazepose.BlazePoseModel`, the
    pose backend's default settings) with its segmentation head on, over ``video`` decoded
    by :class:`gaitprep.video.VideoReader`; per frame with the nose and both feet between
    15 and 85 % of the image width: the stance foot is the lower ankle, the sole the
    lowest mask pixel (mask > 0.5) in 7-px columns at five points from its heel to its toe
    (big toe, BlazePose's foot index). Heights of the ankle, heel and toe above the sole in
    % of the nose-to-lower-ankle height (the height calibration's pixel height).
    ``floor_y(frame)``: the true floor's y (rendered walkers) to check the mask's bottom
    against. Cached in ``cache`` (by file name and size). Returns ``{"ankle", "heel",
    "toe", ["mask_minus_floor"]: median %, "n": frames}``.
    """
    from gaitprep.backends.blazepose import BLAZEPOSE_INDEX, BlazePoseModel, BlazePoseParams
    from gaitprep.video import VideoReader

    path = cache / f"{video.name}.{video.stat().st_size}.sole.json"
    if path.exists():
        return json.loads(path.read_text())
    names = {"nose": "nose", "ankle": "ankle", "heel": "heel", "toe": "big_toe"}
    rows: dict = {"ankle": [], "heel": [], "toe": [], "mask_minus_floor": []}
    model = BlazePoseModel(BlazePoseParams(), segmentation=True)
    try:
        for f, lm, soft in model.process(iter(VideoReader(video, prefetch=0))):
            if lm is None or soft is None:
                continue
            h, w = f.image.shape[:2]
            pt = {f"{sd}_{k}": lm[BLAZEPOSE_INDEX[f"{sd}_{names[k]}"], :2] for sd in "lr" for k in ("ankle", "heel", "toe")}
            pt["nose"] = lm[BLAZEPOSE_INDEX["nose"], :2]
            if not all(0.15 * w < x < 0.85 * w for x, _ in pt.values()):
                continue
            sd = "l" if pt["l_ankle"][1] > pt["r_ankle"][1] else "r"
            hp = max(pt["l_ankle"][1], pt["r_ankle"][1]) - pt["nose"][1]
            if hp <= 0:
                continue
            m = soft > 0.5
            x0, x1 = sorted((pt[f"{sd}_heel"][0], pt[f"{sd}_toe"][0]))
            bottoms = []
            for x in np.linspace(x0, x1, 5):
                ys = np.nonzero(m[:, max(0, int(x) - 3) : int(x) + 4].any(axis=1))[0]
                if len(ys):
                    bottoms.append(ys.max())
            if not bottoms:
                continue
            sole = max(bottoms)
            for k in ("ankle", "heel", "toe"):
                rows[k].append(100.0 * (sole - pt[f"{sd}_{k}"][1]) / hp)
            if floor_y is not None:
                rows["mask_minus_floor"].append(100.0 * (sole - floor_y(f.index)) / hp)
    finally:
        model.close()
    out = {k: float(np.median(v)) for k, v in rows.items() if v}
    out["n"] = len(rows["ankle"])
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def scale_check(labels: Path, cache: Path, heldout_videos: Path | None, render_cache: Path, sweep: tuple[int, int],
                real: bool = True) -> None:  # fmt: skip
    """The ``height`` calibration (``nose_ankle_fraction("blazepose")`` of the stature = the
    nose-to-lower-ankle pixel height) on BlazePose keypoints: (1) per
    renderer walker, its px/cm against the renderer's exact one (lengths scale by the
    inverse); (2) where BlazePose puts the nose, ankles and heels against the renderer's
    own joints (vertical, % of the stature, walker in the middle of the image); (3) the
    stance foot's geometry (ankle above heel and toe, % of the pixel height) on the real
    videos and on the walkers: the same geometry on both says BlazePose reads the two
    kinds of feet alike, which (2) alone cannot tell; (4) BlazePose's ankle, heel and toe
    above the sole (:func:`sole_heights`) on the real videos and the walkers, and the
    nose-to-ankle fraction of the stature they imply, :data:`NOSE_HEIGHT_WALKING` / (1 + a)
    with ``a`` the ankle's height above the sole over the nose-to-ankle height (barefoot;
    a shoe sole of s cm raises the nose and adds s / H / (1 + a)): what
    :data:`gaitprep.gait.calibration.NOSE_ANKLE_FRACTION_BY_BACKEND` ``["blazepose"]`` is
    derived from. ``real=False``: the walkers only."""
    from gaitprep.gait.calibration import body_height_px, nose_ankle_fraction
    from gaitprep.gait.validation import synth_blazepose
    from gaitprep.synth.model import Walker

    seed, n = sweep
    ratios, place, geo_r = [], {}, []
    for i, cfg in enumerate(sweep_configs(n, seed)):
        recs, _, p = synth_blazepose(cfg, render_cache, tag=f"sweep{seed}_{i}")
        s, res = _rendered_clip(recs, p, None)
        hp = body_height_px(res.prep.series, res.prep.passes)
        if hp:
            ratios.append(hp / (nose_ankle_fraction("blazepose") * p.height_cm * p.px_per_cm))
        geo_r.append(_foot_geometry(res.prep.series, res.prep.passes))
        w, h_px = Walker(p), p.height_cm * p.px_per_cm
        for j, f in enumerate(s.frames):
            b = w.image_body(f / p.fps)
            if not 100 < b["l_hip"][0] < p.width - 100:
                continue
            for k in ("nose", "l_ankle", "r_ankle", "l_heel", "r_heel"):
                if np.isfinite(s.xy[k][j, 1]) and s.score[k][j] > 0.5:
                    place.setdefault(k, []).append(100.0 * (s.xy[k][j, 1] - b[k][1]) / h_px)
    r = np.array(ratios)
    print(f"\n## height calibration on BlazePose (nose-to-ankle {nose_ankle_fraction('blazepose')} x stature),"
          f" renderer sweep {seed},{n} (stature known, exact px/cm known)")  # fmt: skip
    print(f"px/cm from the stature / exact px/cm over {len(r)} walkers: median {np.median(r):.3f} (min {r.min():.3f},"
          f" max {r.max():.3f}); lengths and speed scale by the inverse: median {100 * (1 / np.median(r) - 1):+.1f} %")  # fmt: skip
    print("\n| BlazePose keypoint | frames | median height above the renderer's joint (% of stature) |")
    print("| --- | --- | --- |")
    for k, v in place.items():
        print(f"| {k} | {len(v)} | {-np.median(v):+.2f} |")
    rows = [(f"rendered walker {i}", g) for i, g in enumerate(geo_r)]
    real_dirs = (("real", VIDEOS_DIR), ("heldout", heldout_videos)) if real else ()
    if real:
        rows += [(f"real {video}", _foot_geometry(res.prep.series, res.prep.passes))
                 for video, _, _, res in _real_analyses(labels, cache, heldout_videos)]  # fmt: skip
    print("\nstance foot, % of the nose-to-lower-ankle pixel height (median over the middle half of each pass)")
    print("| clip | ankle above heel | ankle above toe |")
    print("| --- | --- | --- |")
    for name, g in rows:
        print(f"| {name} | {g['ankle above heel']:.1f} | {g['ankle above toe']:.1f} |")
    for kind in ("real", "rendered"):
        g = [x for name, x in rows if name.startswith(kind)]
        if g:
            print(f"{kind}: median ankle above heel {np.median([x['ankle above heel'] for x in g]):.1f} %, above toe"
                  f" {np.median([x['ankle above toe'] for x in g]):.1f} % ({len(g)} clips)")  # fmt: skip
    # (4) above the sole, from BlazePose's own person mask
    import tempfile

    from gaitprep.synth import render_walker

    sole = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, cfg in enumerate(sweep_configs(n, seed)):
            _, _, p = synth_blazepose(cfg, render_cache, tag=f"sweep{seed}_{i}")
            video = Path(tmp) / f"sweep{seed}_{i}.mp4"
            path = render_cache / f"sweep{seed}_{i}.mp4.sole.json"
            if path.exists():
                sole.append((f"rendered walker {i}", json.loads(path.read_text())))
                continue
            render_walker(video, p, Path(tmp) / f"sweep{seed}_{i}.truth.json")
            w = Walker(p)

            def floor_y(f, w=w, p=p):  # the lower heel: on the floor in stance
                b = w.image_body(f / p.fps)
                return max(b["l_heel"][1], b["r_heel"][1])

            r = sole_heights(video, Path(tmp), floor_y)
            path.write_text(json.dumps(r))
            sole.append((f"rendered walker {i}", r))
    for prefix, vdir in real_dirs:
        if vdir is not None:
            sole += [(f"real {v}", sole_heights(vdir / v, cache)) for v in sorted(read_labels(labels, prefix)[1])]
    print("\nBlazePose's stance foot above the sole (its own person mask's bottom), % of the nose-to-lower-ankle height;"
          f" implied nose-to-ankle fraction of the stature {NOSE_HEIGHT_WALKING} / (1 + ankle / 100), barefoot")  # fmt: skip
    print("| clip | frames | ankle | heel | toe | mask bottom - true floor | implied fraction |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in sole:
        mf = f"{r['mask_minus_floor']:+.2f}" if "mask_minus_floor" in r else ""
        print(f"| {name} | {r['n']} | {r['ankle']:.2f} | {r['heel']:.2f} | {r['toe']:.2f} | {mf} | {NOSE_HEIGHT_WALKING / (1 + r['ankle'] / 100):.4f} |")
    for kind in ("real", "rendered"):
        a = [r["ankle"] for name, r in sole if name.startswith(kind)]
        if a:
            med = float(np.median(a))
            print(f"{kind}: median ankle above the sole {med:.2f} % ({len(a)} clips) -> nose-to-ankle fraction"
                  f" {NOSE_HEIGHT_WALKING / (1 + med / 100):.4f} barefoot, +{1 / 170 / (1 + med / 100):.4f} per cm of shoe sole at 170 cm")  # fmt: skip


PROFILE_K = (-2, -1, 0, 1, 2)


def _heel_profile(prep, e: dict, fps: float):
    """``|x(k) - rest|`` of the HS foot's heel at frames ``e["frame"] + k`` (k in
    :data:`PROFILE_K`), in % of the leg length (median hip-to-ankle height); ``rest`` is the
    heel's median x 2 frames to 0.25 s after the HS. None near the ends of the pose."""
    sd = "l" if e["foot"] == "left" else "r"
    x = prep.series.xy[f"{sd}_heel"][:, 0]
    j = int(round(e["frame"])) - int(prep.series.frames[0])
    h = int(round(0.25 * fps))
    if j + min(PROFILE_K) < 0 or j + h >= len(x) or not np.isfinite(x[j + 2 : j + h]).any():
        return None
    leg = np.nanmedian(np.abs(prep.series.xy[f"{sd}_ankle"][:, 1] - prep.series.xy[f"{sd}_hip"][:, 1]))
    rest = np.nanmedian(x[j + 2 : j + h])
    return [100.0 * abs(x[j + k] - rest) / leg for k in PROFILE_K]


def run_rendered_step_to(cache: Path) -> None:
    """Step-to walkers of the project's renderer through BlazePose
    (:data:`gaitprep.gait.validation.STEP_TO_CONFIGS`, cached in ``cache``): per clip the
    events found / true / spurious (the true ones are those with the whole body in view,
    a detection matches within :data:`MATCH_S`) and each participant mean minus the truth,
    or the refusal."""
    from gaitprep.gait.validation import synth_blazepose

    try:
        from gaitprep.gait.validation import STEP_TO_CONFIGS
    except ImportError:  # another checkout of gaitprep, before the step-to walkers
        print("\n(step-to walkers skipped: this gaitprep has no validation.STEP_TO_CONFIGS)")
        return
    print(f"\n## project renderer -> BlazePose, {len(STEP_TO_CONFIGS)} step-to walkers (validation.STEP_TO_CONFIGS), per clip")
    keys = ("cadence_steps_per_min", "step_length_cm", "single_support_s", "double_support_s")
    print("| walker | HS found/true (+spurious) | TO found/true (+spurious) | " + " | ".join(PARAMS[k] + " error" for k in keys) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in keys) + " |")
    for cfg in STEP_TO_CONFIGS:
        recs, truth, p = synth_blazepose(cfg, cache)
        _, res = _rendered_clip(recs, p)
        vis = truth["fully_visible_frames"]
        lo, hi = min(vis) / p.fps, max(vis) / p.fps
        tev = [dict(e, eligible=lo <= e["time"] <= hi) for e in truth["events"]]
        det = [dict(e, _t=float(e["t"])) for e in res.events]
        cells = []
        for kind in ("HS", "TO"):
            m = match_events(det, tev, kind, p.fps, lambda t, lo=lo, hi=hi: lo - 0.1 <= t <= hi + 0.1)
            cells.append(f"{m['found']}/{m['n_true']} (+{m['spurious']})")
        means = res.summary["means"]
        for k in keys:
            v = means.get(k)
            cells.append(f"{v - truth[k]:+.3f}" if v is not None and np.isfinite(v) else "refused")
        name = f"{cfg['cadence']} steps/min, asymmetry {cfg['step_asymmetry']}, {p.fps:g} fps, {cfg['direction']}"
        print(f"| {name} | " + " | ".join(cells) + " |")


def _real_sets(labels: Path, cache: Path, heldout_videos: Path | None, only: str | None = None) -> list[dict]:
    """Every labelled real video (or only the one named ``only``): the shared ones and, when
    ``heldout_videos`` is given, the held-out ones (scored as :func:`run_real` does, with
    whatever ``zeni_events`` is now)."""
    rows = run_real(labels, cache, only=only)
    if heldout_videos is not None:
        rows += run_real(labels, cache, heldout_videos, prefix="heldout", only=only)
    return rows


def _with_offsets(off: dict, labels: Path, cache: Path, heldout_videos: Path | None, only: str | None = None) -> list[dict]:
    """:func:`_real_sets` with the BlazePose offsets replaced by ``off`` (``{"HS": s, "TO": s}``)."""
    import gaitprep.gait.clip as clip_mod
    import gaitprep.gait.events as ev_mod

    orig = ev_mod.zeni_events
    clip_mod.zeni_events = lambda prep, refine=True, offsets=None: orig(prep, refine=refine, offsets=off)
    try:
        return _real_sets(labels, cache, heldout_videos, only)
    finally:
        clip_mod.zeni_events = orig


#: the hand labels' tolerances (bench/data/README.md; px of the labelled video): HS = the
#: first frame the heel is within 12 px of its rest position (along the floor and in height
#: together), TO = the last frame the toe tip is within 5 px of its stance position
LABEL_RULE_PX = {"HS": 12.0, "TO": 5.0}
#: renderer sweeps ``(seed, n)`` on whose exact kinematics :func:`label_rule_leads` applies
#: the rule (two of the tuning sweeps; no video or pose model is needed)
LABEL_RULE_SWEEPS = ((4321, 16), (2026, 20))


@functools.lru_cache(maxsize=4)
def rule_curves(sweeps=LABEL_RULE_SWEEPS) -> list[dict]:
    """For every true contact in view of the sweeps' walkers (:func:`sweep_configs`, exact
    kinematics of :class:`gaitprep.synth.model.Walker`), in the order of
    :func:`gaitprep.synth.truth.events_in_view`: ``{"kind", "foot", "t0" (s), "t" (frame
    times, s), "d" (cm: the heel's distance from its rest position 0.05 s after HS, or the
    toe tip's from its stance position 0.05 s before TO, at those frames), "scale" (cm: the
    walker's nose-to-ankle height as BlazePose gives it, 0.84 x stature)}``. Frames from
    0.3 s before to 0.2 s after the contact, on the walker's own frame grid."""
    import math

    from gaitprep.synth.model import WalkerParams, make_walker
    from gaitprep.synth.truth import events_in_view

    try:
        from gaitprep.gait.calibration import nose_ankle_fraction

        frac = nose_ankle_fraction("blazepose")
    except ImportError:  # an older gaitprep on PYTHONPATH: this checkout's value
        frac = 0.84
    out = []
    for seed, n in sweeps:
        for cfg in sweep_configs(n, seed):
            p = WalkerParams(**cfg)
            w, dt = make_walker(p), 1.0 / p.fps
            for e in events_in_view(p, w):
                t0, sd = e["time"], e["foot"][0]
                point = f"{sd}_heel" if e["event"] == "HS" else f"{sd}_big_toe"
                rest = w.body(t0 + 0.05 if e["event"] == "HS" else t0 - 0.05)[point]
                t = np.arange(math.ceil((t0 - 0.3) / dt), math.floor((t0 + 0.2) / dt) + 1) * dt
                d = np.array([np.linalg.norm(w.body(x)[point] - rest) for x in t])
                out.append({"kind": e["event"], "foot": e["foot"], "t0": t0, "t": t, "d": d,
                            "scale": frac * p.height_cm})  # fmt: skip
    return out


def label_rule_time(c: dict, tol_frac: float) -> float:
    """The frame time (s) the hand-label rule picks for one contact of :func:`rule_curves`,
    its tolerance ``tol_frac`` x the walker's nose-to-ankle height: HS = the first frame
    within it of the rest position, TO = the frame before the first one beyond it after
    the stance (NaN where the rule picks nothing in the window)."""
    near = c["d"] <= tol_frac * c["scale"]
    if c["kind"] == "HS":
        i = np.flatnonzero(near)
        return float(c["t"][i[0]]) if len(i) else float("nan")
    after = np.flatnonzero(~near & (c["t"] > c["t0"] - 0.05))
    return float(c["t"][after[0] - 1]) if len(after) and after[0] > 0 else float("nan")


def label_rule_leads(rows: list[dict], curves: list[dict] | None = None) -> dict:
    """Per labelled real video (``rows`` of :func:`run_real`, with ``nose_ankle_px``): how
    much earlier (negative) or later than the exact contact the hand-label rule
    (:data:`LABEL_RULE_PX`) picks its frame, ``{video: {"HS": s, "TO": s}}``: the rule
    applied to the renderer's exact feet (:func:`rule_curves`) with its pixel tolerances
    taken at the video's scale (as fractions of BlazePose's nose-to-ankle height there,
    :func:`gaitprep.gait.calibration.body_height_px`), mean over the contacts."""
    curves = rule_curves() if curves is None else curves
    out = {}
    for r in rows:
        px = r.get("nose_ankle_px")
        if not px:
            raise SystemExit(f"{r['label']}: no nose-to-ankle height to scale the label rule by")
        out[r["label"]] = {
            k: float(np.nanmean([label_rule_time(c, LABEL_RULE_PX[k] / px) - c["t0"] for c in curves if c["kind"] == k]))
            for k in ("HS", "TO")
        }
    return out


def label_rule(labels: Path, cache: Path, heldout_videos: Path | None, render_cache: Path, sweeps) -> None:
    """What the hand labels time, measured (``--label-rule``). (1) Per labelled real video:
    the rule's lead on the renderer's exact feet at that video's scale (label minus
    contact, ms). (2) The renderer's walkers of ``sweeps`` through BlazePose, with no
    offsets and with the shipped ones, scored against the exact contacts and against the
    frames the hand-label rule picks on the same exact feet (at the real videos' median
    scale): if BlazePose errs alike on real and rendered feet, its errors against the rule
    match its errors against the real hand labels (``--tune``)."""
    from gaitprep.gait.validation import synth_blazepose
    from gaitprep.synth.truth import events_in_view

    rows = _with_offsets({"HS": 0.0, "TO": 0.0}, labels, cache, heldout_videos)
    print("## the hand-label rule on the renderer's exact feet, at each real video's scale")
    print("| video | nose-ankle (px) | HS: label - contact (ms) | TO: label - contact (ms) |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        lead = r["lead"]
        print(f"| {r['label']} | {r['nose_ankle_px']:.0f} | {1000 * lead['HS']:+.1f} | {1000 * lead['TO']:+.1f} |")
    px = float(np.median([r["nose_ankle_px"] for r in rows]))
    for seed, n in sweeps:
        curves = iter(rule_curves(((int(seed), int(n)),)))
        acc: dict = {}
        for i, cfg in enumerate(sweep_configs(n, seed)):
            recs, _, p = synth_blazepose(cfg, render_cache, tag=f"sweep{seed}_{i}")
            ev = events_in_view(p)
            rule = {}  # rule_curves lists the same contacts in the same order
            for e, c in zip(ev, curves):
                assert (c["kind"], c["foot"], c["t0"]) == (e["event"], e["foot"], e["time"])
                rule[(e["event"], e["foot"], e["time"])] = label_rule_time(c, LABEL_RULE_PX[c["kind"]] / px)
            for name, backend in (("none", None), ("BlazePose's", "blazepose")):
                s, res = _rendered_clip(recs, p, backend)
                det = [dict(e, _t=float(e["t"])) for e in res.events]
                for kind in ("HS", "TO"):
                    tev = _seen_truth(s, p, ev, kind)
                    by_rule = [dict(e, time=rule[(kind, e["foot"], e["time"])]) for e in tev]
                    for ref, tr in (("exact contact", tev), ("hand-label rule", [e for e in by_rule if np.isfinite(e["time"])])):
                        m = match_events(det, tr, kind, p.fps, lambda t: True)
                        a = acc.setdefault((name, kind, ref), [[], [], 0, 0])
                        a[0] += m["errors"]
                        a[1] += [1000.0 * x / p.fps for x in m["errors"]]
                        a[2] += m["found"]
                        a[3] += m["n_true"]
        print(f"\n## renderer sweep {seed},{n} through BlazePose: against the exact contact and against the hand-label rule (at {px:.0f} px nose-ankle)")
        print("| offsets | event | reference | found | MAE (frames) | bias (frames) | mean error (ms) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for (name, kind, ref), (e, ms, f, nt) in acc.items():
            print(f"| {name} | {kind} | {ref} | {f}/{nt} | {np.mean(np.abs(e)):.2f} | {np.mean(e):+.2f} | {np.mean(ms):+.1f} |")


def tune(labels: Path, cache: Path, heldout_videos: Path | None = None) -> None:
    """The BlazePose timing offsets from the labelled real videos (the shared four and, with
    ``heldout_videos``, the held-out four), no offset applied: per kind, the mean error (s)
    against the hand labels, and against the contact the labels imply (each label moved by
    its video's :func:`label_rule_leads`). ``EVENT_OFFSET_S["blazepose"]`` is minus the
    latter (rounded to 1 ms): timing against contact. How well that carries to new video is
    what :func:`leave_one_out` measures."""
    zero = {"HS": 0.0, "TO": 0.0}
    rows = _with_offsets(zero, labels, cache, heldout_videos)
    crow = {r["label"]: r["against_contact"] for r in rows}
    print(f"calibration videos: {', '.join(r['label'] for r in rows)}")
    print("| video | fps | nose-ankle (px) | HS n | HS mean error (ms) | HS label - contact (ms) | HS n, error against contact (ms) | TO n | TO mean error (ms) | TO label - contact (ms) | TO n, error against contact (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def ms(r, k):
        return 1000 * np.mean(r[k]["errors"]) / r["fps"]

    for r in rows:
        c = crow[r["label"]]
        cells = [f"{len(r[k]['errors'])} | {ms(r, k):+.1f} | {1000 * r['lead'][k]:+.1f} | {len(c[k]['errors'])}, {ms(c, k):+.1f}" for k in ("HS", "TO")]
        print(f"| {r['label']} | {r['fps']:.2f} | {r['nose_ankle_px']:.0f} | " + " | ".join(cells) + " |")
    for k in ("HS", "TO"):
        e = [x / r["fps"] for r in rows for x in r[k]["errors"]]
        c = [x / r["fps"] for r in crow.values() for x in r[k]["errors"]]
        print(
            f"{k}: against the labels n={len(e)}, mean error {np.mean(e) * 1000:+.1f} ms (median {np.median(e) * 1000:+.1f}):"
            f" offset {-np.mean(e):+.3f} s times events as the labels do; against contact n={len(c)}, {np.mean(c) * 1000:+.1f} ms"
            f" (median {np.median(c) * 1000:+.1f}) -> offset {-np.mean(c):+.3f} s (shipped: timing against contact)"
        )


def label_to_contact(events: list[dict], lead: dict) -> list[dict]:
    """Hand-labelled events (``time`` in s) moved to the contact each implies: ``time -
    lead[kind]`` (``lead``: label minus contact, s, :func:`label_rule_leads`). MonoSP and
    BiSP computed from the moved events are then between contacts (from the labels as
    labelled, BiSP = TO - HS is longer by the TO lead minus the HS lead)."""
    return [dict(e, time=e["time"] - lead[e["event"]]) for e in events]


def leave_one_out(labels: Path, cache: Path, heldout_videos: Path | None = None) -> list[dict]:
    """Each labelled real video scored with BlazePose offsets calibrated on all the others
    (mean error without offset, per kind, pooled over their events; the shared four and,
    with ``heldout_videos``, the held-out four): how the offsets carry to new video."""
    raw = [r["against_contact"] for r in _with_offsets({"HS": 0.0, "TO": 0.0}, labels, cache, heldout_videos)]
    out, as_labelled = [], []
    for r in raw:
        others = [x for x in raw if x["label"] != r["label"]]
        off = {k: -float(np.mean([e / x["fps"] for x in others for e in x[k]["errors"]])) for k in ("HS", "TO")}
        (row,) = (x for x in _with_offsets(off, labels, cache, heldout_videos, only=r["label"]) if x["_heldout"] == r["_heldout"])
        out.append(row["against_contact"])
        as_labelled.append(row)
        print(f"{r['label']}: offsets from the others HS {off['HS']:+.3f} s, TO {off['TO']:+.3f} s")
    n = len(out) - 1
    _print_set(f"real videos, BlazePose, leave-one-video-out offsets (each video scored with offsets calibrated on the other {n}: the held-out figure), against the contact the hand labels imply (each label moved by its video's label - contact lead, --label-rule)", out, False)
    _print_set("the same, against the hand labels as labelled", as_labelled, False)
    if heldout_videos is not None:
        for name, keep in (("shared", lambda r: not r["_heldout"]), ("held-out", lambda r: r["_heldout"])):
            for what, rows in (("against contact", out), ("against the hand labels", as_labelled)):
                part = [r for r in rows if keep(r)]
                _print_set(f"the same, {name} videos only ({len(part)}), {what}", part, False)
    return out


def _print_set(title: str, rows: list[dict], per_clip: bool) -> None:
    """One scored set: its heading, the event and parameter tables, optionally one line per clip."""
    print(f"\n## {title}")
    print("\n".join(event_table(rows)))
    print()
    print("\n".join(param_table(rows)))
    if per_clip:
        print("\n".join(source_table(rows)))
    _per_clip(rows, per_clip)


def source_table(rows: list[dict]) -> list[str]:
    """Found events by where they come from (``source`` of the detection: the label-free
    extrema, ``single-foot``, ``double-support``, ``other-foot``): count, MAE and bias (frames)."""
    out = ["", "| event | source | found | MAE (frames) | bias (frames) |", "| --- | --- | --- | --- | --- |"]
    for k in ("HS", "TO"):
        by: dict = {}
        for r in rows:
            for src, e in zip(r[k].get("sources", []), r[k]["errors"]):
                by.setdefault(src, []).append(e)
        for src, e in sorted(by.items()):
            out.append(f"| {k} | {src} | {len(e)} | {np.mean(np.abs(e)):.2f} | {np.mean(e):+.2f} |")
    return out


def _per_clip(rows, show):
    if not show:
        return
    for r in rows:
        hs, to = r["HS"], r["TO"]
        cad = r["params"]["cadence_steps_per_min"]
        dse = r.get("ds_cadence_error")
        print(
            f"  {r['label'][:70]:70s} HS {hs['found']}/{hs['n_true']}+{hs['spurious']} TO {to['found']}/{to['n_true']}+{to['spurious']}"
            f" cad {'n/a' if cad is None else f'{cad:+.1f}'} ds-rhythm {'n/a' if dse is None else f'{dse:+.1f}'}"
            f" {r.get('diagnostics', {})}"
        )


if __name__ == "__main__":
    main()
