"""Label-free gait events on hard synthetic cases (exact keypoints, no rendering; fast).

Leg-label swaps in runs, any frame rate, variable frame rate with timestamps, limping
gait, the diagnostics the quality record reads, and the provenance timing reader.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gaitprep.errors import InputError
from gaitprep.gait.clip import analyze_clip
from gaitprep.gait.io import attach_times, read_provenance_timing, series_from_records
from gaitprep.synth.hard import CaseParams, make_case

from conftest import REPO, SHARED, bench_module

CLIP = "PA001/UGS/NW-WJ_1"
BASE = dict(
    cadence=108, step_length_cm=66, double_support_fraction=0.1, height_cm=172, px_per_cm=1.6, background="plain"
)


def case(seed=5, fps=30.0, direction="left_to_right", **kw) -> CaseParams:
    return CaseParams(walker=dict(BASE, fps=fps, direction=direction, seed=seed), seed=seed, **kw)


def run(cp: CaseParams, timestamps: bool = True):
    recs, timing, truth = make_case(cp)
    s = series_from_records(recs, "synth", truth["width"], truth["height"])
    s = attach_times(s, timing if timestamps else None, truth["fps"])
    res = analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    return res, truth


def match(res, truth, kind, tol_s=0.12):
    """(errors in frames of found eligible events, n eligible, spurious detections)."""
    det = [e for e in res.events if e["event"] == kind]
    tr = [e for e in truth["events"] if e["event"] == kind]
    errs, used = [], set()
    for t in tr:
        best = min(det, key=lambda e: abs(e["t"] - t["time"]), default=None)
        if best is not None and abs(best["t"] - t["time"]) <= tol_s:
            used.add(id(best))
            if t["eligible"]:
                errs.append((best["t"] - t["time"]) * truth["fps"])
    n = sum(t["eligible"] for t in tr)
    spurious = [e for e in det if id(e) not in used]
    return errs, n, spurious


def run_hard(seed: int, step_to: bool = False):
    """``(case params, analyze_clip result, truth)`` of hard case ``seed`` (its timestamps)."""
    from gaitprep.synth.hard import random_case_params

    cp = random_case_params(seed, step_to=step_to)
    recs, timing, truth = make_case(cp)
    s = attach_times(series_from_records(recs, "synth", truth["width"], truth["height"]), timing, truth["fps"])
    return cp, analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]}), truth


def assert_feet_right(res, truth):
    """Every detected event has the foot of the nearest true event of its kind."""
    for e in res.events:
        t = min((x for x in truth["events"] if x["event"] == e["event"]), key=lambda x: abs(x["time"] - e["t"]))
        assert e["foot"] == t["foot"], (e, t)


def assert_all_found(res, truth, mae=0.6):
    for kind in ("HS", "TO"):
        errs, n, spurious = match(res, truth, kind)
        assert n >= 3, (kind, n)
        assert len(errs) == n, (kind, len(errs), n, res.summary["warnings"])
        assert not spurious, (kind, spurious)
        assert np.mean(np.abs(errs)) <= mae, (kind, errs)


@pytest.mark.parametrize("direction", ["left_to_right", "right_to_left"])
def test_leg_label_swaps_do_not_move_or_invent_events(direction):
    """25 % of the frames with the legs' labels swapped (runs of 1-9 frames): every step is
    found, none invented, and the feet still alternate."""
    res, truth = run(case(direction=direction, swap_frac=0.25, noise_px=0.8))
    assert_all_found(res, truth)
    hs = [e["foot"] for e in res.events if e["event"] == "HS"]
    assert all(a != b for a, b in zip(hs, hs[1:]))
    d = res.prep.diagnostics
    assert 0.05 <= d["leg_swap_rate"] <= 0.5
    assert d["event_method"] == "zeni-label-free"


def test_clean_walk_has_no_swaps_and_full_coverage():
    res, truth = run(case())
    assert_all_found(res, truth, mae=0.4)
    d = res.prep.diagnostics
    assert d["leg_swap_rate"] == 0.0
    assert d["rejected_events"] == []
    assert all(c > 0.95 for c in d["pose_coverage"])
    assert d["foot_label_agreement"] > 0.9
    # the labels are right: every event carries the true foot
    for kind in ("HS", "TO"):
        for t in [e for e in truth["events"] if e["event"] == kind and e["eligible"]]:
            e = min((x for x in res.events if x["event"] == kind), key=lambda x: abs(x["t"] - t["time"]))
            assert e["foot"] == t["foot"]


@pytest.mark.parametrize("fps", [24.0, 25.0, 29.97, 50.0, 60.0])
def test_any_frame_rate(fps):
    res, truth = run(case(fps=fps, noise_px=0.5))
    assert_all_found(res, truth)
    m = res.summary["means"]
    assert abs(m["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 1.5


def test_variable_frame_rate_times_from_timestamps():
    """30 fps, then 15 fps: with the timestamps every event's time is right; timed as
    frame / fps the second half would be compressed."""
    res, truth = run(case(vfr=True))
    errs = []
    for t in [e for e in truth["events"] if e["eligible"]]:
        e = min((x for x in res.events if x["event"] == t["event"]), key=lambda x: abs(x["t"] - t["time"]))
        errs.append(abs(e["t"] - t["time"]))
    assert len(errs) >= 6 and max(errs) < 0.04, errs
    assert any("variable frame rate" in w for w in res.summary["warnings"])
    # event times are the timestamps interpolated at the fractional frame
    e = res.events[-1]
    assert res.prep.time_source == "timestamps"
    assert abs(e["t"] - np.interp(e["frame"], res.prep.series.frames, res.prep.t)) < 1e-9


def test_rounded_timestamps_are_one_frame_rate():
    """A 29.97 fps clip whose container rounds timestamps to whole ms (33 and 34 ms
    intervals) is not a variable frame rate: the same events as with exact timestamps
    (their times within the 0.5 ms rounding), and no warning about the rate."""
    from gaitprep.gait.preprocess import VFR_TOLERANCE, uniform_timing
    from gaitprep.video import UNIFORM_TOLERANCE

    assert VFR_TOLERANCE == UNIFORM_TOLERANCE  # one notion of "uniform" for decode and gait
    recs, timing, truth = make_case(case(fps=29.97, noise_px=0.5))
    rounded = dict(timing, t_s=[round(t, 3) for t in timing["t_s"]])
    assert not np.allclose(np.diff(rounded["t_s"]), np.diff(rounded["t_s"])[0], rtol=0.02)  # 2 % apart
    assert uniform_timing(np.asarray(rounded["t_s"]))
    out = []
    for tm in (timing, rounded):
        s = attach_times(series_from_records(recs, "synth", truth["width"], truth["height"]), tm, truth["fps"])
        out.append(analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]}))
    exact, res = out
    assert [(e["event"], e["foot"]) for e in res.events] == [(e["event"], e["foot"]) for e in exact.events]
    assert max(abs(a["t"] - b["t"]) for a, b in zip(res.events, exact.events)) < 1e-3
    assert not any("variable frame rate" in w for w in res.summary["warnings"])


def test_variable_rate_keeps_the_pass_end_next_to_a_missing_frame():
    """On a variable frame rate the label-free signals are resampled onto a uniform grid;
    a frame without feet next to the pass end is bridged on the frames first, as at a
    fixed rate, so the pass's last samples (where its last toe-off or heel strike may be)
    are kept (they were NaN when the gap was widened by the resampling)."""
    import copy

    from gaitprep.gait.events import envelope_signals

    cp = CaseParams(walker=dict(BASE, fps=30.0, seed=5, duration_s=4.0, start_x_cm=60.0), seed=5)
    recs, timing, truth = make_case(cp)
    t = np.asarray(timing["t_s"], float)
    t[40:] += 0.0067  # one 40 ms interval among 33.3 ms ones: not uniform
    tm = dict(timing, t_s=t.tolist())
    recs = copy.deepcopy(recs)
    last = max(r["frame"] for r in recs if r["joints"])
    for k in [k for k in recs[last - 1]["joints"] if k.endswith(("heel", "toe", "ankle"))]:
        del recs[last - 1]["joints"][k]
    s = attach_times(series_from_records(recs, "synth", truth["width"], truth["height"]), tm, truth["fps"])
    res = analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    p = res.prep.passes[-1]
    assert p.stop == len(recs)
    env = envelope_signals(res.prep, p)
    assert not env["uniform"]
    assert np.isfinite(env["lead"][-2:]).all() and np.isfinite(env["trail"][-2:]).all()
    assert not env["lead_measured"][-2]  # still said unmeasured for the gap checks


def test_no_timestamps_is_said():
    res, _ = run(case(), timestamps=False)
    assert any("no frame timestamps" in w for w in res.summary["warnings"])
    assert res.prep.time_source == "fps"


def test_limping_gait_keeps_its_steps():
    """Asymmetric (limping) gait with step-time variability: every step found."""
    res, truth = run(case(limp=0.3, var=0.05, noise_px=0.5))
    assert_all_found(res, truth)
    st = res.steps["step_time_s"].dropna().to_numpy()
    assert st.max() - st.min() > 0.08  # the asymmetry is kept, not averaged away


def test_standing_person_gets_no_events():
    recs, timing, truth = make_case(case())
    still = [dict(recs[40], frame=i) for i in range(90)]
    s = attach_times(series_from_records(still, "still", truth["width"], truth["height"]), None, 30.0)
    res = analyze_clip(s, 30.0, CLIP, {"method": "px_per_cm", "px_per_cm": 1.6})
    assert res.events == [] and res.summary["n_steps"] == 0


def test_provenance_timing_reader(tmp_path):
    p = tmp_path / "prov.json"
    p.write_text(json.dumps({"video": {"fps": 30}, "timing": {"wall_s": 3.2, "load_s": 0.1, "fps": 12.0}}))
    assert read_provenance_timing(p) is None  # the runner's wall-clock timing, not frame times
    p.write_text(json.dumps({"timing": {"frames": [0, 1, 2], "t_s": [0.0, 0.033, 0.1], "header_fps": 30}}))
    tm = read_provenance_timing(p)
    assert list(tm["frames"]) == [0, 1, 2]
    p.write_text(json.dumps({"timing": {"frames": [0, 1, 2], "t_s": [0.0, 0.1, 0.05]}}))
    with pytest.raises(InputError, match="prov.json.*increasing"):
        read_provenance_timing(p)
    p.write_text(json.dumps({"timing": {"frames": [0, 1], "t_s": [0.0]}}))
    with pytest.raises(InputError, match="equal-length"):
        read_provenance_timing(p)


def test_bench_scores_real_labels_format(tmp_path):
    """bench/gait_accuracy.py reads the label TSVs and rejects bad rows naming the line."""
    ga = bench_module("gait_accuracy")

    (tmp_path / "real_events.tsv").write_text(
        "video\tevent\tfoot\tframe\tconfidence\tnote\nv.mp4\tHS\tR\t26\t±1\t\nv.mp4\tTO\tL\t30\t±1\tx\n"
    )
    (tmp_path / "real_passes.tsv").write_text(
        "video\tpass\tfirst_frame\tlast_frame\tdirection\nv.mp4\t1\t20\t60\tleft_to_right\n"
    )
    ev, pa = ga.read_labels(tmp_path)
    assert [e["foot"] for e in ev["v.mp4"]] == ["right", "left"] and pa["v.mp4"] == [(20, 60, "left_to_right")]
    (tmp_path / "real_events.tsv").write_text("video\tevent\tfoot\tframe\tconfidence\tnote\nv.mp4\tXX\tR\t26\t±1\t\n")
    with pytest.raises(SystemExit, match="real_events.tsv:2"):
        ga.read_labels(tmp_path)


def test_bench_label_noise_is_the_spread_of_the_labels_own_confidence(tmp_path, monkeypatch):
    """``--label-noise``: labels moved within their confidence move the reference cadence;
    labels of ±0 frames would not (a regular walk: one stride time, one cadence)."""
    ga = bench_module("gait_accuracy")

    rows = ["video\tevent\tfoot\tframe\tconfidence\tnote"]
    for i in range(6):  # HS every 18 frames (100 steps/min at 30 fps), TO 6 frames after each
        foot = "L" if i % 2 == 0 else "R"
        other = "R" if foot == "L" else "L"
        rows += [f"v.mp4\tHS\t{foot}\t{20 + 18 * i}\t±1\t", f"v.mp4\tTO\t{other}\t{26 + 18 * i}\t±1\t"]
    (tmp_path / "real_events.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "real_passes.tsv").write_text(
        "video\tpass\tfirst_frame\tlast_frame\tdirection\nv.mp4\t1\t15\t130\tleft_to_right\n"
    )
    monkeypatch.setattr(ga, "_info_fps", lambda video, videos_dir: 30.0)  # no video needed without a pose cache
    (r,) = ga.label_noise(tmp_path, tmp_path, draws=200)
    c = r["cadence_steps_per_min"]
    assert abs(c["reference"] - 100.0) < 1e-6 and 0.2 < c["sd"] < 3.0
    (tmp_path / "real_events.tsv").write_text("\n".join(rows).replace("±1", "±0") + "\n")
    (r,) = ga.label_noise(tmp_path, tmp_path, draws=20)
    assert r["cadence_steps_per_min"]["sd"] == 0.0


def _bench_accuracy(*args: str) -> str:
    """stdout of ``bench/gait_accuracy.py ARGS`` as a user runs it (exit status 0 asserted)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gait_accuracy.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "GAITPREP_SHARED": str(SHARED)},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
def test_bench_synthetic_set_runs():
    """The command docs/gait.md quotes, on seed set B only (about 15 s)."""
    out = _bench_accuracy("--sets", "B", "--no-real")
    assert "| HS |" in out and "seed set B (development check)" in out


@pytest.mark.slow
def test_bench_sweep_only_runs(tmp_path):
    """`--sweep-only SEED,N` (docs/gait.md's tuning sweep), on one walker rendered and run
    through BlazePose (about 30 s)."""
    out = _bench_accuracy("--sweep-only", "4321,1", "--render-cache", str(tmp_path))
    assert "1 random walkers (sweep_configs, seed 4321)" in out and "| BlazePose's | HS |" in out
    # lengths also as a user's clip gets them by default (scaled from the stature)
    assert "| BlazePose's, height calibration | step length (cm) | 1/1 |" in out


@pytest.mark.slow
def test_bench_scale_runs(tmp_path):
    """`--scale` (docs/gait.md, "Calibration"): the height calibration on BlazePose and
    BlazePose's ankle above the sole, on one rendered walker (the walker only: the real
    videos' part is the same function on their files)."""
    out = _bench_accuracy("--scale", "--no-real", "--sweep-only", "4321,1", "--render-cache", str(tmp_path))
    assert "px/cm from the stature / exact px/cm over 1 walkers" in out
    row = next(line for line in out.splitlines() if line.startswith("| rendered walker 0 |") and line.count("|") == 8)
    cells = [c.strip() for c in row.strip("|").split("|")]
    ankle, mask_minus_floor = float(cells[2]), float(cells[5])
    assert 4 < ankle < 12 and abs(mask_minus_floor) < 1.5, row  # the mask's bottom is the floor on a rendered walker


@pytest.mark.slow
def test_bench_sweep_in_view_runs(tmp_path):
    """`--sweep-only SEED,N --in-view` (walkers in view from the first frame to the last,
    docs/gait.md), on one walker: it starts inside the image and the clip ends before it
    leaves."""
    from gaitprep.synth import WalkerParams

    ga = bench_module("gait_accuracy")

    cfg = ga.sweep_configs(1, 8080, in_view=True)[0]
    p = WalkerParams(**cfg)
    assert p.start_x_cm is not None and p.duration_s is not None
    assert ga.sweep_configs(1, 8080)[0].items() <= cfg.items()  # the same walker, filmed closer
    out = _bench_accuracy("--sweep-only", "8080,1", "--in-view", "--per-clip", "--render-cache", str(tmp_path))
    assert "seed 8080, in view from the first frame to the last" in out and "| BlazePose's | HS |" in out
    assert "per walker, BlazePose's offsets" in out and "\n| 0 | " in out  # (--per-clip: each walker's errors)


@pytest.mark.slow
def test_bench_domains_runs(tmp_path):
    """`--domains ALPHAS` (docs/gait.md: raw timing against the real hand labels and against
    rendered walkers' exact contacts per refinement threshold; the gap is the labelling
    rule's, `--label-rule`), on the four shared videos and one rendered walker (~1 min)."""
    out = _bench_accuracy("--domains", "0.3", "--sweep-only", "4321,1", "--render-cache", str(tmp_path / "r"),
                          "--cache", str(tmp_path / "c"))  # fmt: skip
    assert "| 0.3 | HS |" in out and "| 0.3 | TO |" in out
    assert "| real (hand labels) | 33 |" in out and "| rendered (exact contact, <= 30 fps) |" in out


def test_the_hand_label_rule_picks_a_frame_before_heel_contact_and_after_toe_off():
    """bench/data/README.md's rule (heel within 12 px of its rest position, toe within 5 px
    of its stance position) on the renderer's exact feet: at a real video's scale (~390 px
    nose to ankle) it picks a frame before the heel's contact and after the toe's lift-off
    (the lead ``--tune`` moves each real label by); with no tolerance it picks the first
    frame at (within 2 ms) or after the contact and the last frame before the lift-off."""
    ga = bench_module("gait_accuracy")

    curves = ga.rule_curves(((4321, 2),))
    kinds = {c["kind"] for c in curves}
    assert kinds == {"HS", "TO"} and len(curves) >= 8
    for c in curves:
        dt = float(np.median(np.diff(c["t"])))
        exact = ga.label_rule_time(c, 1e-6) - c["t0"]
        if c["kind"] == "HS":  # (a rendered heel comes to rest smoothly: a frame 1 ms early is already there)
            assert -0.002 < exact < dt + 1e-9
        else:
            assert -dt - 1e-9 < exact < 0.002
    rows = [{"label": "v.mp4", "nose_ankle_px": 390.0}]
    lead = ga.label_rule_leads(rows, curves)["v.mp4"]
    assert -0.06 < lead["HS"] < -0.015 and 0.003 < lead["TO"] < 0.03, lead
    # a larger image (more px per cm): the same px tolerance is a shorter distance, a smaller lead
    big = ga.label_rule_leads([{"label": "v.mp4", "nose_ankle_px": 780.0}], curves)["v.mp4"]
    assert lead["HS"] < big["HS"] and big["TO"] < lead["TO"]


def test_scoring_against_contact_moves_each_label_by_its_lead():
    """``label_to_contact``: a label moves by its video's label - contact lead; BiSP from
    the moved events (TO - HS) is shorter than from the labels as labelled by the TO lead
    minus the HS lead, MonoSP longer by it."""
    ga = bench_module("gait_accuracy")

    ev = [{"event": "HS", "foot": "left", "time": 1.0}, {"event": "TO", "foot": "right", "time": 1.2},
          {"event": "HS", "foot": "right", "time": 1.55}]  # fmt: skip
    moved = ga.label_to_contact(ev, {"HS": -0.03, "TO": 0.01})
    assert [e["time"] for e in moved] == pytest.approx([1.03, 1.19, 1.58]) and ev[0]["time"] == 1.0
    bisp = lambda e: e[1]["time"] - e[0]["time"]  # noqa: E731
    mono = lambda e: e[2]["time"] - e[1]["time"]  # noqa: E731
    assert bisp(ev) - bisp(moved) == pytest.approx(0.04) and mono(moved) - mono(ev) == pytest.approx(0.04)


@pytest.mark.slow
def test_bench_label_rule_runs(tmp_path):
    """`--label-rule` (docs/gait.md, "What the hand labels time"), on the four shared
    videos and one rendered walker: the rule's lead per real video, and the walker scored
    against its exact contacts and against the rule."""
    out = _bench_accuracy("--label-rule", "--sweep-only", "4321,1", "--render-cache", str(tmp_path / "r"),
                          "--cache", str(tmp_path / "c"))  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("| gait_normal_01.mp4 |"))
    hs, to = (float(x) for x in row.strip("|").split("|")[2:4])
    assert -60 < hs < -10 and 0 < to < 30, row
    assert "| BlazePose's | HS | exact contact |" in out and "| none | TO | hand-label rule |" in out


def test_load_pose_reads_timestamps_and_backend(tmp_path):
    """``load_pose(..., provenance=)``: the provenance's frame timestamps time the events and
    its backend selects the timing correction (BlazePose: calibrated to the contact), which
    the summary records with its source; the config's own offsets replace it, said so."""
    from gaitprep.gait.events import EVENT_OFFSET_S
    from gaitprep.gait.io import load_pose

    recs, timing, truth = make_case(case(vfr=True))
    pose, prov = tmp_path / "pose.json", tmp_path / "prov.json"
    pose.write_text(json.dumps(recs))
    prov.write_text(json.dumps({"backend": "blazepose", "video": {"fps": 30.0}, "timing": timing}))
    s = load_pose(pose, truth["width"], truth["height"], provenance=prov)
    assert s.time_source == "timestamps" and s.extra["backend"] == "blazepose"
    res = analyze_clip(s, 30.0, CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    assert res.prep.diagnostics["event_offsets_s"] == EVENT_OFFSET_S["blazepose"]
    assert not any("no frame timestamps" in w for w in res.summary["warnings"])
    timing = res.summary["event_timing"]
    assert timing["offsets_s"] == EVENT_OFFSET_S["blazepose"] and timing["reference"].startswith("contact")
    assert "pose backend blazepose" in timing["source"]
    own = analyze_clip(s, 30.0, CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]},
                       event_offsets={"HS": -0.046, "TO": 0.019})  # fmt: skip
    assert own.summary["event_timing"]["offsets_s"] == {"HS": -0.046, "TO": 0.019}
    assert own.summary["event_timing"]["source"] == "config gait.event_offsets_s"
    json.dumps(own.summary["event_timing"])


def test_pass_velocity_is_unbiased_at_the_ends_of_a_short_pass():
    """A pass shorter than the 1 s velocity window (0.9 s in view) is found over all its
    frames: a moving average would flatten its ends and split or drop it."""
    from gaitprep.gait.preprocess import PrepConfig, find_passes, local_velocity

    t = np.arange(27) / 30.0
    x = 100 + 150.0 * t + 6 * np.sin(2 * np.pi * 1.8 * t)  # 150 px/s with the stride oscillation
    v = local_velocity(x, t, 0.5)
    assert np.isfinite(v).all() and np.all(np.abs(v - 150) < 30)
    passes, warnings = find_passes(x, 30.0, PrepConfig(), t)
    assert [(p.start, p.stop, p.direction) for p in passes] == [(0, 27, 1)], warnings


def test_pass_length_is_measured_in_seconds_under_a_variable_frame_rate():
    """15 frames at 15 fps (1 s) are a pass, whatever the nominal 30 fps says."""
    from gaitprep.gait.preprocess import PrepConfig, find_passes

    t = np.arange(15) / 15.0
    x = 400 - 120.0 * t
    passes, _ = find_passes(x, 30.0, PrepConfig(), t)
    assert [(p.start, p.stop, p.direction) for p in passes] == [(0, 15, -1)]


def test_a_missing_heel_strike_does_not_cost_a_toe_off():
    """Two TOs one step time apart between two detected heel strikes two steps apart (the
    heel strike between them was not seen) are both kept; two TOs of one step are one."""
    from gaitprep.gait.events import _one_to_per_step

    hs = [{"t": 0.0}, {"t": 0.55}, {"t": 1.1}, {"t": 2.2}]  # the strike at ~1.65 s is missing
    to = [{"t": 0.35, "_value": 5.0}, {"t": 0.9, "_value": 4.0}, {"t": 1.45, "_value": 6.0},
          {"t": 1.5, "_value": 1.0}, {"t": 2.0, "_value": 3.0}, {"t": 2.5, "_value": 3.0}]  # fmt: skip
    for e in to:
        e.update(event="TO", frame=30 * e["t"], **{"pass": 0})
    rejected: list = []
    kept = _one_to_per_step(hs, to, rejected)
    assert [e["t"] for e in kept] == [0.35, 0.9, 1.45, 2.0, 2.5]
    assert [r["frame"] for r in rejected] == [45.0] and "stronger" in rejected[0]["reason"]


def test_a_pass_with_one_step_in_view_is_still_a_pass():
    """A fast walker (130 steps/min) in view for ~1 s: its one visible heel strike and toe
    off are found (the pass is not dropped as too short)."""
    cp, res, truth = run_hard(2014)  # 1.0 s fully in view
    assert res.prep.passes, res.summary["warnings"]
    for kind in ("HS", "TO"):
        errs, n, spurious = match(res, truth, kind)
        assert n >= 1 and len(errs) == n and not spurious, (kind, errs, n, spurious)


def test_step_to_gait_gets_both_feet_or_is_refused():
    """A step-to gait (the far foot lands beside the near one and never leads): the
    label-free signals see one foot's contacts only. With the pose model's labels clean and
    a long pass, the other foot's heel strikes come from its own signal (every heel strike
    found); whatever happens, a cadence of half the truth is never written: the
    double-support rhythm (label-free, two dips per stride in any gait) refuses it."""
    w = dict(BASE, cadence=100, step_length_cm=60, px_per_cm=1.2, fps=30.0, direction="right_to_left", seed=3,
             step_asymmetry=0.85, width=1280, height=720)  # fmt: skip
    res, truth = run(CaseParams(walker=w, seed=3, noise_px=0.5))
    errs, n, spurious = match(res, truth, "HS")
    assert n >= 5 and len(errs) == n and not spurious, (errs, n, spurious, res.summary["warnings"])
    assert any("non-alternating gait" in x for x in res.summary["warnings"])
    # support times of a step-to pass are written with a word (how far off they came on
    # rendered step-to walkers through BlazePose)
    assert any("step-to" in x and "check the events in the QC plot" in x for x in res.summary["warnings"])
    assert abs(res.summary["means"]["cadence_steps_per_min"] - 100) < 3
    q = res.summary["quality"]
    assert q["checks"]["double_support_rhythm"]["ok"] is True
    assert abs(q["double_support_cadence"]["cadence_steps_per_min"] - 100) < 8


def test_step_to_gait_with_swapped_labels_from_the_double_support_periods():
    """Step-to gait with the leg labels swapped in 19 % of the frames (the labels cannot show
    which foot leads): the other foot's contacts come from the label-free double-support
    periods, and the cadence is right."""
    cp, res, truth = run_hard(4013, step_to=True)
    for kind in ("HS", "TO"):
        errs, n, spurious = match(res, truth, kind)
        assert n >= 4 and len(errs) == n and not spurious, (kind, errs, n, spurious)
    assert any(e.get("source") == "double-support" for e in res.events)
    assert any("double-support periods" in w for w in res.summary["warnings"])
    assert abs(res.summary["means"]["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 2


@pytest.mark.parametrize("seed", [4008, 4011])
def test_step_to_feet_and_lengths_from_every_frame_not_three_votes(seed):
    """Step-to gaits (tuning set S) whose injected leg-label swaps (18 %, 25 % of the
    frames) happen to cover two of the three label-free heel strikes: the feet come from
    the labels in every judged frame (as in an alternating pass), so each event has the
    true foot, the legs are relabelled, and step and stride length are written (not
    refused) and right; the swap rate said is about the injected one."""
    cp, res, truth = run_hard(seed, step_to=True)
    n = 0
    for e in res.events:
        t = min((x for x in truth["events"] if x["event"] == e["event"]), key=lambda x: abs(x["time"] - e["t"]))
        if abs(t["time"] - e["t"]) <= 0.12:
            n += 1
            assert e["foot"] == t["foot"], (e, t)
    assert n >= 8
    assert res.prep.diagnostics["step_to_relabelled"] == [0]
    assert abs(res.prep.diagnostics["leg_swap_rate"] - cp.swap_frac) < 0.15
    m = res.summary["means"]
    for k in ("step_length_cm", "stride_length_cm"):
        assert np.isfinite(m[k]) and abs(m[k] - truth[k]) < 1.5, (k, m[k], truth[k], res.summary["warnings"])


@pytest.mark.parametrize("seed", [4003, 4006])
def test_double_support_contacts_are_timed_by_the_foot_that_makes_them(seed):
    """The other foot's HS and TO of a step-to gait (tuning set S) are timed by that foot's
    own ground speed, not by the edge of the double-support period (where the landing
    toe comes down after the heel struck, the leading heel rises before its toe leaves:
    up to 1.6 frames late / 0.8 early before)."""
    cp, res, truth = run_hard(seed, step_to=True)
    errs = []
    for e in res.events:
        if e.get("source") == "double-support":
            t = min((x for x in truth["events"] if x["event"] == e["event"]), key=lambda x: abs(x["time"] - e["t"]))
            errs.append((e["t"] - t["time"]) * truth["fps"])
    assert len(errs) >= 4 and max(abs(x) for x in errs) <= 0.6, errs


@pytest.mark.parametrize("seed", [4001, 4010])
def test_step_to_gait_at_24_25_fps(seed):
    """Step-to gaits at 25 and 24 fps (tuning set S): a double support of ~0.1 s lasts one
    or two samples there, and a period of one sample (>= 0.04 s) counts, so the other
    foot's contacts are found: every eligible event, none spurious, each with its foot."""
    cp, res, truth = run_hard(seed, step_to=True)
    assert cp.walker["fps"] in (24.0, 25.0)
    for kind in ("HS", "TO"):
        errs, n, spurious = match(res, truth, kind)
        assert n >= 3 and len(errs) == n and not spurious, (kind, errs, n, spurious)
    assert_feet_right(res, truth)
    assert np.isfinite(res.summary["means"]["cadence_steps_per_min"])


def test_one_contact_per_stride_is_refused_not_written(monkeypatch):
    """The safety net: with both step-to recoveries switched off, the events of a step-to
    gait are one per stride (half the cadence); the double-support rhythm check refuses the
    numbers, with the reason, instead of writing them."""
    import gaitprep.gait.events as ev_mod

    monkeypatch.setattr(ev_mod, "DS_MIN_RATIO", 1e9)
    monkeypatch.setattr(ev_mod, "NON_ALTERNATING_MIN_EVENTS", 10**6)
    cp, res, truth = run_hard(4013, step_to=True)
    q = res.summary["quality"]
    cad = q["computed"]["cadence_steps_per_min"]
    assert cad is not None and cad < 0.7 * truth["cadence_steps_per_min"], cad
    for k in ("cadence_steps_per_min", "step_length_cm", "single_support_s"):
        assert "double_support_rhythm" in q["refused"][k]
    assert any("double-support rhythm" in x for x in res.summary["warnings"])
    assert abs(q["double_support_cadence"]["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 8


def test_a_false_detection_before_the_walker_is_not_bridged_to_it():
    """A pose model's one-frame false detection far from the walker (another person, a
    poster), a few frames before the walker comes into view: the gap interpolation must
    not bridge it to the walker as a jump (a velocity of the wrong sign that would delay
    the pass start and cost its first heel strike). The events are those of the clean
    clip, and a warning says what was dropped."""
    import copy

    from gaitprep.gait.preprocess import PrepConfig, mask_unusable

    cp = case(seed=7)
    recs, timing, truth = make_case(cp)
    clean, _ = run(cp)
    _, usable = mask_unusable(series_from_records(recs, "synth", truth["width"], truth["height"]), PrepConfig())
    first = int(np.flatnonzero(usable)[0])  # the first frame with the walker's whole body in view
    ghost = copy.deepcopy(recs)
    for r in ghost[: first - 3]:
        r["joints"] = None  # nothing in view before the ghost...
    k = first - 4  # ...and 3 frames of nothing between it and the walker (< max_gap)
    src = recs[len(recs) // 2]
    ghost[k]["joints"] = {n: dict(j, x=j["x"] + 450.0 * (1 if j["x"] < truth["width"] / 2 else -1))
                          for n, j in src["joints"].items()}  # fmt: skip
    s = attach_times(series_from_records(ghost, "synth", truth["width"], truth["height"]), timing, truth["fps"])
    res = analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    assert any("isolated detection" in w for w in res.summary["warnings"]), res.summary["warnings"]
    key = lambda r: [(e["event"], e["foot"], round(e["t"], 6)) for e in r.events]  # noqa: E731
    assert key(res) == key(clean)


def test_drop_islands_keeps_the_walker_reappearing_at_the_edge():
    """A short run of detections within reach of the walker (the walker seen again for a
    frame at the image edge) is kept; one hundreds of px away is dropped."""
    from gaitprep.gait.preprocess import drop_islands

    t = np.arange(40) / 30.0
    usable = np.ones(40, bool)
    usable[30:32] = usable[33:] = False  # walker 0..29, a 1-frame run at 32
    x = 100 + 150.0 * t
    u = usable.copy()
    assert drop_islands(u, t, x, 120.0, 0.1) == [] and u[32]
    x2 = x.copy()
    x2[32] = 900.0
    u = usable.copy()
    assert drop_islands(u, t, x2, 120.0, 0.1) == [(32, 33)] and not u[32]
    assert drop_islands(usable.copy(), t, x2, 120.0, 0.0) == []


def test_first_contact_with_the_trailing_leg_still_outside_the_image(monkeypatch):
    """A walker coming into view: at its first heel strike the trailing leg is still at the
    image border (the pose model puts it there, with score 0). That leg is masked on its
    own, not the frame, so the strike is found from the leading leg alone, on time; with
    the old rule (the whole frame dropped) it was lost."""
    import gaitprep.gait.preprocess as pre
    from gaitprep.synth import WalkerParams, walker_keypoints, walker_truth

    p = WalkerParams(direction="left_to_right", cadence=100, step_length_cm=60, seed=1)
    truth = [e for e in walker_truth(p)["events"] if e["event"] == "HS"]

    def first_hs(edge_one_leg):
        monkeypatch.setattr(pre, "EDGE_ONE_LEG", edge_one_leg)
        s = series_from_records(walker_keypoints(p), "synth", p.width, p.height)
        res = analyze_clip(s, p.fps, CLIP, {"method": "px_per_cm", "px_per_cm": p.px_per_cm})
        return min((e for e in res.events if e["event"] == "HS"), key=lambda e: e["frame"])

    t = truth[1]  # the first strike with the leading foot in the image (the one before is outside)
    new, old = first_hs(True), first_hs(False)
    # (from the label-free leading heel, the masked trailing heel being behind it; before
    # that, from the leading leg's own signal, source "single-foot")
    assert abs(new["frame"] - t["frame"]) < 0.5 and new["foot"] == t["foot"]
    assert old["frame"] > t["frame"] + 10  # the old rule's first strike is the next one


def _contact_at_the_border(seed: int, direction: str, kind: str, last: bool):
    """The exact-keypoint walker of the border tests: its last (``last``) or first contact of
    ``kind`` whose own point (heel for HS, toe for TO) is in the image, that contact's heel
    and toe distances from the nearer left/right border (px), and the detected events of
    ``kind`` within 0.5 frame of it."""
    from gaitprep.synth import Walker, WalkerParams, walker_keypoints

    p = WalkerParams(direction=direction, cadence=100, step_length_cm=60, seed=seed)
    w = Walker(p)

    def heel_toe(e):
        b = w.image_body(e["time"])
        return b[f"{e['foot'][0]}_heel"][0], b[f"{e['foot'][0]}_big_toe"][0]

    own = 0 if kind == "HS" else 1
    seen = [e for e in w.events() if e["event"] == kind and 0 <= heel_toe(e)[own] < p.width]
    true = (max if last else min)(seen, key=lambda e: e["frame"])
    heel, toe = (min(x, p.width - 1 - x) for x in heel_toe(true))
    s = series_from_records(walker_keypoints(p), "synth", p.width, p.height)
    res = analyze_clip(s, p.fps, CLIP, {"method": "px_per_cm", "px_per_cm": p.px_per_cm})
    near = [e for e in res.events if e["event"] == kind and abs(e["frame"] - true["frame"]) < 0.5]
    return true, heel, toe, near


@pytest.mark.parametrize("direction", ["left_to_right", "right_to_left"])
@pytest.mark.parametrize("seed", [2, 5])
def test_last_contact_with_the_toe_at_the_border_is_read_from_the_heel(seed, direction):
    """A walker leaving the view: its last heel strike lands 50-65 px inside the image with
    the toe at or past the border. The toe alone masks only the toes, so the strike is found
    from the heel, on time (before, the whole leg was masked and the strike lost)."""
    last, heel, toe, near = _contact_at_the_border(seed, direction, "HS", last=True)
    assert heel > 40 and toe < 16, (heel, toe)
    assert len(near) == 1 and near[0]["foot"] == last["foot"], (near, last)


@pytest.mark.parametrize("direction", ["left_to_right", "right_to_left"])
@pytest.mark.parametrize("seed", [1, 3, 7])
def test_first_toe_off_with_the_heel_at_the_border_is_read_from_the_toe(seed, direction):
    """A walker coming into view: its first toe-off has the toe 30-60 px inside the image and
    the heel within the border margin or past the border. The leg is masked, its toes kept,
    so the toe-off is found from the toe, on time and on the right foot (before, the whole
    leg was masked and the toe-off lost)."""
    first, heel, toe, near = _contact_at_the_border(seed, direction, "TO", last=False)
    assert heel < 20 and toe > 28, (heel, toe)
    assert len(near) == 1 and near[0]["foot"] == first["foot"], (near, first)


def test_backward_samples_drops_what_moves_back_and_keeps_noise():
    """A front-most foot never moves backward over the ground: a run drawn behind the
    samples before it and a single sample ahead of all after it are dropped; noise under
    the tolerance and a steady forward ramp are kept."""
    from gaitprep.gait.preprocess import backward_samples

    t = np.arange(60) / 30.0
    rng = np.random.default_rng(0)
    y = np.floor(np.arange(60) / 15.0) * 80.0 + rng.normal(0.0, 2.0, 60)  # stance, swing, stance...
    assert not backward_samples(y, t, tol=14.0).any()
    dip = y.copy()
    dip[20:24] -= 45.0  # both legs drawn on the rear one for 4 frames
    assert np.flatnonzero(backward_samples(dip, t, tol=14.0)).tolist() == [20, 21, 22, 23]
    spike = y.copy()
    spike[33] += 200.0
    assert np.flatnonzero(backward_samples(spike, t, tol=14.0)).tolist() == [33]
    gap = y.copy()
    gap[5:9] = np.nan
    assert not backward_samples(gap, t, tol=14.0).any()


def test_backward_samples_drops_random_garbage_only():
    """Front heel and rear toe of a walk (stance, then a forward swing of one step per 0.5 s)
    with 10 % of the frames replaced by garbage up to 100 px off in either direction: what
    is dropped is garbage (no good frame lost to a garbage neighbour), and most of it."""
    from gaitprep.gait.preprocess import backward_samples

    rng = np.random.default_rng(1)
    t = np.arange(900) / 60.0
    ph = (t * 2) % 1.0
    base = np.floor(t * 2) * 60.0 + np.where(ph > 0.6, (ph - 0.6) / 0.4 * 60.0, 0.0)
    y = np.stack([base + rng.normal(0, 2, len(t)), base - 40 + rng.normal(0, 2, len(t))])
    g = rng.random(len(t)) < 0.1
    y[:, g] += rng.uniform(-100, 100, (2, g.sum()))
    bad = backward_samples(y, t, tol=20.0)
    assert not (bad & ~g).any()
    assert (bad & g).sum() >= 0.8 * g.sum()


def test_legs_drawn_on_one_around_a_heel_strike_give_no_short_step():
    """A pose model that draws both legs on one (the midpoint of the two, 0.17 s) around an
    inner heel strike: before, the leading heel appeared to move back and forth and the
    strike moved by frames (a short step, a wrong cadence). Those frames are dropped with a
    warning; no event is invented or moved, and the means stay those of the clean clip."""
    import copy

    cp = case(seed=5)
    recs, timing, truth = make_case(cp)
    clean, _ = run(cp)
    hs = [e for e in truth["events"] if e["event"] == "HS" and e["eligible"]][2]
    f0 = int(round(hs["frame"]))
    bad = copy.deepcopy(recs)
    for r in bad:
        if f0 - 1 <= r["frame"] <= f0 + 3:
            j = r["joints"]
            for k in ("knee", "ankle", "heel", "big_toe", "small_toe"):
                mid = {c: 0.5 * (j[f"l_{k}"][c] + j[f"r_{k}"][c]) for c in ("x", "y")}
                j[f"l_{k}"] = dict(j[f"l_{k}"], **mid)
                j[f"r_{k}"] = dict(j[f"r_{k}"], **mid)
    s = attach_times(series_from_records(bad, "synth", truth["width"], truth["height"]), timing, truth["fps"])
    res = analyze_clip(s, truth["fps"], CLIP, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    assert any("moves backward over the ground" in w for w in res.summary["warnings"]), res.summary["warnings"]
    for kind in ("HS", "TO"):
        errs, n, spurious = match(res, truth, kind)
        assert not spurious, (kind, spurious)
        assert np.max(np.abs(errs)) <= 1.0, (kind, errs)
    for k in ("cadence_steps_per_min", "step_length_cm"):
        assert abs(res.summary["means"][k] - clean.summary["means"][k]) <= 0.02 * clean.summary["means"][k], k


def test_per_foot_extent_keeps_a_short_legs_toe_offs_and_drops_a_glitch():
    """A limping leg's toe may never pass behind the pelvis: its toe-off extrema sit far
    below the other leg's. The pooled check drops them all; the per-foot one (the other
    foot's events of a non-alternating pass) keeps them and still drops a foot's own
    outlier."""
    from gaitprep.gait.events import _consistent_extent

    def ev(foot, value, frame):
        return {"foot": foot, "event": "TO", "frame": float(frame), "_value": float(value)}

    t = np.linspace(0, 4 * np.pi, 200)
    sig = {s: {"hs": 100 * np.sin(t), "to": 100 * np.sin(t)} for s in ("l", "r")}  # 5-95 % range ~195 px
    long_leg = [ev("right", v, f) for v, f in ((100, 10), (110, 40), (105, 70), (112, 100), (108, 130), (103, 160))]
    short_leg = [ev("left", v, f) for v, f in ((-50, 25), (-31, 55), (-48, 85), (-56, 115))]
    glitch = [ev("left", -150, 145)]
    pev = long_leg + short_leg + glitch
    pooled = _consistent_extent(pev, sig)
    assert not any(e["foot"] == "left" for e in pooled)
    kept = _consistent_extent(pev, sig, per_foot=True)
    assert sorted(e["frame"] for e in kept if e["foot"] == "left") == [25, 55, 85, 115]
    assert len([e for e in kept if e["foot"] == "right"]) == 6


def test_a_maximum_right_after_the_data_begin_is_judged_by_its_fall():
    """``signal_peaks(open_start=True)``: a heel strike 3 samples after the pose begins (a
    walker coming into view: the rise into it cut short) is found by the stance that
    follows it; without ``open_start``, and at the end of the data (where the stance that
    would show the contact is the part missing), the two-sided test stands."""
    from gaitprep.gait.events import signal_peaks

    fps = 30.0
    t = np.arange(60) / fps
    y = 40 * np.cos(2 * np.pi * (t - 0.1) / 1.1)  # maxima at 0.1 s (sample 3) and 1.2 s (sample 36)
    found = signal_peaks(y, fps, open_start=True)
    assert len(found) == 2 and abs(found[0] - 3.0) < 0.2 and abs(found[1] - 36.0) < 0.2
    assert [round(p) for p in signal_peaks(y, fps)] == [36]
    # the mirror at the end: a maximum 3 samples before the data end is not taken
    assert [round(p) for p in signal_peaks(y[::-1], fps, open_start=True)] == [59 - 36]


@pytest.mark.parametrize("direction", ["left_to_right", "right_to_left"])
def test_a_foot_beyond_the_border_leaves_the_label_free_signals_to_the_foot_seen(direction):
    """A heel masked at the border behind the walker (coming into view) is behind any heel
    seen, a toe masked at the border ahead (leaving) ahead of any toe seen: there the
    leading-heel and trailing-toe signals are the seen foot's, not a gap (found on renderer
    sweeps: a walker's last toe-off, its trailing toe in full view while the leading toe was
    at the border, was lost with the gap)."""
    from gaitprep.gait.events import envelope_signals
    from gaitprep.gait.preprocess import prepare
    from gaitprep.synth import WalkerParams, walker_keypoints

    p = WalkerParams(cadence=100, step_length_cm=60, double_support_fraction=0.12, direction=direction, seed=1)
    s = series_from_records(walker_keypoints(p), "synth", p.width, p.height)
    prep = prepare(s, p.fps)
    (q,) = prep.passes
    sign = 1 if direction == "left_to_right" else -1
    side = prep.labelled.extra["border_side"]
    # the heels at the entry border are recorded on the side behind the walker
    assert sum(int((side[f"{sd}_heel"] == -sign).sum()) for sd in "lr") > 5
    env = envelope_signals(prep, q)
    one = env["lead_measured"] & ~env["lead_both_seen"]
    assert one.sum() >= 5  # was a gap before
    sl = slice(q.start, q.stop)
    rel = {sd: sign * (prep.labelled.xy[f"{sd}_heel"][sl, 0] - prep.pelvis[sl, 0]) for sd in "lr"}
    seen = np.where(np.isfinite(rel["l"]), rel["l"], rel["r"])
    assert np.all(np.abs(env["lead"][one] - seen[one]) < 3.0)  # the seen heel's (low-passed)
