"""Per-clip quality record, plausibility ranges and honest refusal (issue 12 item 5, issue
16: wrong fps header, calibration inputs, gait-clip without the frame size, stale
estimation table). Fast tests on exact synthetic keypoints; the workflow ones are slow."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from gaitprep.errors import CalibrationError, InputError
from gaitprep.gait.calibration import make_calibration, participant_height, read_measures
from gaitprep.gait.clip import analyze_clip
from gaitprep.gait.io import series_from_records
from gaitprep.gait.quality import PLAUSIBLE
from gaitprep.results import HALPE26
from gaitprep.synth import WalkerParams, walker_keypoints
from gaitprep.synth.model import make_walker

from conftest import REPO, shared_video, snakemake

CLIP = "PA000/UGS/NW-WoJ_1"
DEMO = dict(direction="right_to_left", cadence=110, step_length_cm=65, seed=0)
TEMPORAL = ("cadence_steps_per_min", "single_support_s", "double_support_s", "speed_m_per_s")


def run(cfg, fps=None, calibration=None, recs=None):
    p = WalkerParams(**cfg)
    s = series_from_records(recs if recs is not None else walker_keypoints(p), "synth", p.width, p.height)
    cal = calibration or {"method": "height", "height_cm": p.height_cm}
    return analyze_clip(s, fps or p.fps, CLIP, cal), p


def test_quality_record_of_a_clean_walk():
    res, p = run(DEMO)
    q = res.summary["quality"]
    assert q["steps_used"] >= 4 and not q["refused"] and not q["gaps_skipped"]
    assert abs(q["spectral_cadence"]["cadence_steps_per_min"] - 110) < 1.5
    assert all(c["ok"] for c in q["checks"].values()), q["checks"]
    assert q["pose_coverage"] and q["pose_coverage"][0]["share"] > 0.9
    assert q["leg_swap_rate"] == 0
    assert abs(res.summary["means"]["cadence_steps_per_min"] - 110) < 0.5
    assert set(q["checks"]) >= {"cadence_steps_per_min", "speed_m_per_s", "step_length_over_height", "stance_fraction",
                                "walk_ratio_over_height", "body_height_fraction", "cadence_agreement", "pose_coverage"}  # fmt: skip
    for k, (lo, hi, unit, src) in PLAUSIBLE.items():
        assert lo < hi and unit and len(src) > 40, k


@pytest.mark.parametrize("fps, cadence, check", [(60.0, 220.0, "cadence_steps_per_min"), (15.0, 55.0, "walk_ratio_over_height")])
def test_wrong_fps_header_refuses_the_temporal_parameters(fps, cadence, check):
    """A 30 fps walk read as 60 or 15 fps: cadence 220 is out of range; 55 (plausible on its
    own for a slow walker) is refused by the walk ratio; the step lengths, measured in
    space, are kept."""
    res, p = run(DEMO, fps=fps)
    q, m = res.summary["quality"], res.summary["means"]
    assert abs(q["computed"]["cadence_steps_per_min"] - cadence) < 1.5
    assert q["checks"][check]["ok"] is False
    for k in TEMPORAL:
        assert np.isnan(m[k]) and k in q["refused"], k
    assert "walk_ratio_over_height" in q["refused"]["single_support_s"] or "cadence_steps_per_min" in q["refused"]["single_support_s"]
    assert abs(m["step_length_cm"] - 65) < 3 and np.isfinite(m["stride_length_cm"])
    assert any("refused" in w for w in res.summary["warnings"])


def limping_records(p: WalkerParams, long_share: float = 0.6):
    """Exact keypoints of a walker time-warped so that steps ending at a right HS take
    ``long_share`` of the stride and left ones the rest (step-time asymmetry ratio 1.5 for
    0.6): piecewise-linear time map with knots at the heel strikes. Returns (records, events)."""
    w = make_walker(p)
    ev = w.events()
    hs = [e for e in ev if e["event"] == "HS"]
    T = [hs[0]["time"] - 100.0] + [e["time"] for e in hs] + [hs[-1]["time"] + 100.0]
    S = [T[0], T[1]]
    for a, e in zip(hs[:-1], hs[1:]):
        S.append(S[-1] + (e["time"] - a["time"]) * (2 * long_share if e["foot"] == "right" else 2 * (1 - long_share)))
    S.append(S[-1] + 100.0)
    duration = float(np.interp(w.duration, T, S))
    recs = []
    for j in range(int(duration * p.fps)):
        t = float(np.interp(j / p.fps, S, T))
        b = w.image_body(t)
        joints = {n: {"x": float(b[n][0]), "y": float(b[n][1]), "score": 1.0} for n in HALPE26
                  if 0 <= b[n][0] < p.width and 0 <= b[n][1] < p.height}  # fmt: skip
        recs.append({"frame": j, "joints": joints or None})
    truth = [dict(e, time=float(np.interp(e["time"], T, S))) for e in ev]
    return recs, truth


def test_limping_walk_still_gets_numbers():
    """Asymmetric gait (right steps 1.5 x the left ones) is not refused: all six CSV
    parameters are written, the per-foot step times and the symmetry index show the limp."""
    cfg = dict(DEMO, cadence=100, step_length_cm=60, px_per_cm=1.2)
    p = WalkerParams(**cfg)
    recs, truth = limping_records(p, 0.6)
    res, _ = run(cfg, recs=recs)
    s, q = res.summary, res.summary["quality"]
    assert not q["refused"], q["refused"]
    for k in ("step_length_cm", "stride_length_cm", "cadence_steps_per_min", "single_support_s", "double_support_s", "speed_m_per_s"):
        assert np.isfinite(s["means"][k]), k
    assert abs(s["means"]["cadence_steps_per_min"] - 100) < 2
    stride = 1.2
    assert abs(s["per_foot"]["right"]["step_time_s"] - 0.6 * stride) < 0.03
    assert abs(s["per_foot"]["left"]["step_time_s"] - 0.4 * stride) < 0.03
    assert s["symmetry_index_pct"]["step_time_s"] == pytest.approx(40.0, abs=10)  # the warp shifts Zeni extrema a little
    assert s["symmetry_ratio"]["step_time_s"] == pytest.approx(1.5, abs=0.15)
    assert not q["gaps_skipped"]


def test_quality_record_reads_the_preprocessing_diagnostics(monkeypatch):
    """The interface of the event/preprocessing side: ``prep.diagnostics`` with
    ``leg_swap_rate``, ``rejected_events`` and ``pose_coverage`` goes into the record; a
    high swap rate is a flag, little pose refuses the clip."""
    from gaitprep.gait import clip as clip_mod

    rejected = [{"frame": 50, "kind": "HS", "foot": "left", "reason": "spurious"}]

    real_events = clip_mod.zeni_events

    def with_diagnostics(prep, **kw):
        # the event detector fills prep.diagnostics; overwrite what it measured with known values
        events = real_events(prep, **kw)
        prep.diagnostics.update({"leg_swap_rate": 0.4, "rejected_events": rejected, "pose_coverage": {0: 0.5}})
        return events

    monkeypatch.setattr(clip_mod, "zeni_events", with_diagnostics)
    res, _ = run(DEMO)
    q = res.summary["quality"]
    assert q["leg_swap_rate"] == 0.4 and q["events_rejected"] == rejected
    assert q["pose_coverage"] == [{"index": 0, "share": 0.5}] and q["checks"]["pose_coverage"]["ok"] is False
    assert any("leg labels swapped in 40 %" in f for f in q["flags"])
    assert "pose_coverage" in q["refused"]["cadence_steps_per_min"] and np.isnan(res.summary["means"]["step_length_cm"])


def test_a_tiny_body_refuses_everything():
    res, p = run(dict(DEMO, px_per_cm=0.5), calibration={"method": "px_per_cm", "px_per_cm": 0.5})
    q = res.summary["quality"]
    assert res.summary["n_steps"] >= 2 and q["checks"]["body_height_fraction"]["ok"] is False
    assert all(np.isnan(v) for k, v in res.summary["means"].items() if k in q["computed"])
    assert "body_height_fraction" in q["refused"]["step_length_cm"]


# --------------------------------------------------------------------------- calibration inputs


def _csv(tmp_path, text, name="participants_measures.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_measures_height_in_metres(tmp_path):
    p = _csv(tmp_path, "ID,Sex,Age,PA_level,Height,Weight\nPA000,1,30,2,1.72,70\n")
    with pytest.raises(CalibrationError) as e:
        participant_height(p, "PA000")
    assert f"{p} line 2" in str(e.value) and "1.72" in str(e.value) and "looks like metres" in str(e.value)
    with pytest.raises(CalibrationError, match="looks like metres"):
        make_calibration({"method": "height", "height_cm": 1.72}, "PA000", lambda: 100.0)
    with pytest.raises(CalibrationError, match="outside 50-250 cm"):
        participant_height(_csv(tmp_path, "ID,Height\nPA000,17\n", "b.csv"), "PA000")


def test_measures_duplicate_id(tmp_path):
    p = _csv(tmp_path, "ID,Height\nPA000,172\nPA001,160\nPA000,180\n")
    with pytest.raises(CalibrationError) as e:
        participant_height(p, "PA000")
    assert f"{p} line 2" in str(e.value) and "lines 2, 4" in str(e.value) and "duplicate ID" in str(e.value)
    assert participant_height(p, "PA001") == 160  # the others' rows are fine


def test_measures_decimal_comma(tmp_path):
    p = _csv(tmp_path, "ID,Sex,Age,PA_level,Height,Weight\nPA000,1,30,2,172,5,70\n")
    with pytest.raises(CalibrationError) as e:
        participant_height(p, "PA000")
    assert f"{p} line 2" in str(e.value) and "decimal comma" in str(e.value) and "172,5" in str(e.value)
    q = _csv(tmp_path, "ID;Height\nPA000;172,5\n", "semi.csv")
    with pytest.raises(CalibrationError, match=r"line 2: Height of PA000 is not a number: '172,5' \(a decimal comma"):
        participant_height(q, "PA000")
    assert read_measures(_csv(tmp_path, "ID;Height\nPA000;172.5\n", "ok.csv"))["PA000"]["height_cm"] == 172.5


# --------------------------------------------------------------------------- gait-clip frame size


def _pose_file(tmp_path):
    p = WalkerParams(**DEMO)
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps([{"frame": r["frame"], "joints": r["joints"]} for r in walker_keypoints(p)]))
    return pose, p


def test_gait_clip_without_provenance_needs_the_frame_size(tmp_path):
    pose, p = _pose_file(tmp_path)
    env = {"PYTHONPATH": str(REPO / "src")}
    cal = json.dumps({"method": "px_per_cm", "px_per_cm": p.px_per_cm})
    base = [sys.executable, "-m", "gaitprep", "gait-clip", "--pose", str(pose), "--clip", CLIP, "--fps", "30", "--calibration", cal]
    out = tmp_path / "out"
    r = subprocess.run(base + ["--summary", str(out / "a.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert "frame size of" in r.stderr and "--width and --height" in r.stderr and "--video" in r.stderr
    assert not out.exists()
    r = subprocess.run(base + ["--width", str(p.width), "--height", str(p.height), "--summary", str(out / "b.json")],
                       capture_output=True, text=True, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert abs(json.loads((out / "b.json").read_text())["means"]["cadence_steps_per_min"] - 110) < 1


def test_gait_clip_event_offsets_from_the_command_line(tmp_path):
    """``--event-offsets HS,TO`` (the config's ``gait.event_offsets_s``) replaces the pose
    backend's timing corrections: every heel strike moves by HS and every toe-off by TO
    seconds; a malformed value is an error naming the flag."""
    pose, p = _pose_file(tmp_path)
    env = {"PYTHONPATH": str(REPO / "src")}
    cal = json.dumps({"method": "px_per_cm", "px_per_cm": p.px_per_cm})
    base = [sys.executable, "-m", "gaitprep", "gait-clip", "--pose", str(pose), "--clip", CLIP, "--fps", "30",
            "--width", str(p.width), "--height", str(p.height), "--calibration", cal]  # fmt: skip
    steps = {}
    for name, extra in (("none", []), ("shift", ["--event-offsets", "0.05,-0.03"])):
        out = tmp_path / f"{name}.parquet"
        r = subprocess.run(base + extra + ["--steps", str(out)], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        steps[name] = pd.read_parquet(out)
    a, b = steps["none"], steps["shift"]
    assert len(a) == len(b) >= 4
    assert np.allclose(b["hs_time"] - a["hs_time"], 0.05, atol=1e-6)
    to = a["to_time"].notna()
    assert to.any() and np.allclose((b["to_time"] - a["to_time"])[to], -0.03, atol=1e-6)
    r = subprocess.run(base + ["--event-offsets", "0.05"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "--event-offsets must be HS,TO" in r.stderr


def test_frame_info_from_video():
    from gaitprep.gait.cli import frame_info

    v = shared_video("gait_normal_01.mp4")
    ns = argparse.Namespace(fps=None, width=None, height=None, provenance=None, video=str(v), pose="p.json")
    fps, w, h = frame_info(ns)
    assert fps > 20 and w > 0 and h > 0
    with pytest.raises(InputError, match="--fps"):
        frame_info(argparse.Namespace(fps=None, width=None, height=None, provenance=None, video=None, pose="p.json"))


# --------------------------------------------------------------------------- workflow (slow)


def _wf_config(wd, measures="participants_measures_in.csv", gait_cal=None, name="c.yaml"):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["modalities"] = ["pose", "gait"]
    cfg["gait"]["calibration"] = gait_cal or {"default": {"method": "height"}}
    # a demo clip is calibrated at its renderer's scale unless its own entry says otherwise
    cfg["demo"]["clips"][0]["calibration"] = cfg["gait"]["calibration"]["default"]
    cfg["gait"]["event_overrides"] = None
    cfg["participants_measures"] = measures
    cfg["output_dir"] = "res"
    path = wd / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


HEADER = "ID,Sex,Age,PA_level,Height,Weight\n"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The default demo clip through pose + gait, height calibration from a measures CSV (~30 s)."""
    wd = tmp_path_factory.mktemp("gait_quality_wf")
    (wd / "participants_measures_in.csv").write_text(HEADER + "PA000,1,30,2,170,70\n")
    cfg = _wf_config(wd)
    snakemake("--configfile", cfg, "--cores", "2", cwd=wd)
    return wd, cfg


def _summary(wd):
    return json.loads((wd / "res" / "gait_steps" / "PA000" / "UGS" / "NW-WoJ_1.summary.json").read_text())


@pytest.mark.slow
def test_workflow_height_edit_reruns_gait_and_bad_measures_fail_before_any_job(demo_run):
    wd, cfg = demo_run
    root = wd / "res"
    est = root / "gait_parameters_estimation.csv"
    s1 = _summary(wd)
    assert s1["calibration"]["height_cm"] == 170 and (root / "gait_steps" / "PA000" / "UGS" / "NW-WoJ_1.csv").is_file()
    step1 = float(est.read_text().splitlines()[1].split(",")[1])
    # an edited Height reruns the participant's gait job (not only the copy into the tree)
    (wd / "participants_measures_in.csv").write_text(HEADER + "PA000,1,30,2,187,70\n")
    r = snakemake("--configfile", cfg, "--cores", "2", "-n", cwd=wd)
    assert "gait_clip" in r.stdout + r.stderr
    snakemake("--configfile", cfg, "--cores", "2", cwd=wd)
    s2 = _summary(wd)
    assert s2["calibration"]["height_cm"] == 187
    step2 = float(est.read_text().splitlines()[1].split(",")[1])
    assert step2 == pytest.approx(step1 * 187 / 170, rel=1e-3)
    before = est.read_text()
    # metres, duplicate ID, decimal comma: errors at DAG build naming file, line and value; nothing runs
    bad = {
        "1.72": (HEADER + "PA000,1,30,2,1.72,70\n", "line 2: Height of PA000 is 1.72, outside 50-250 cm (looks like metres"),
        "dup": (HEADER + "PA000,1,30,2,170,70\nPA000,1,30,2,180,70\n", "participant PA000 appears on lines 2, 3 (duplicate ID"),
        "comma": (HEADER + "PA000,1,30,2,172,5,70\n", "line 2: 7 fields where the header has 6 (a decimal comma"),
    }
    for name, (text, msg) in bad.items():
        (wd / "participants_measures_in.csv").write_text(text)
        r = snakemake("--configfile", cfg, "--cores", "2", cwd=wd, check=False)
        assert r.returncode != 0, name
        out = r.stdout + r.stderr
        assert "participants_measures_in.csv " + msg.split(":")[0] in out or msg in out, (name, out[-2000:])
        assert msg in out, (name, out[-2000:])
        assert "gait_clip" not in out.split("CalibrationError")[0], name  # no job started
        assert est.read_text() == before and _summary(wd)["calibration"]["height_cm"] == 187
    (wd / "participants_measures_in.csv").write_text(HEADER + "PA000,1,30,2,187,70\n")


@pytest.mark.slow
def test_workflow_failed_gait_job_removes_the_stale_estimation_table(demo_run):
    wd, cfg = demo_run
    root = wd / "res"
    (wd / "participants_measures_in.csv").write_text(HEADER + "PA000,1,30,2,187,70\n")
    snakemake("--configfile", cfg, "--cores", "2", cwd=wd)
    est = root / "gait_parameters_estimation.csv"
    assert est.is_file()
    bad = _wf_config(wd, gait_cal={"default": {"method": "sensor_bars", "sensor_bars": "missing_bars.json"}}, name="bad.yaml")
    r = snakemake("--configfile", bad, "--cores", "2", "--keep-going", cwd=wd, check=False)
    assert r.returncode != 0
    assert "missing_bars.json: sensor_bars calibration: boxes file not found" in r.stderr
    assert not est.exists()  # never left with the old values
    assert not (root / "gait_steps" / "PA000" / "UGS" / "NW-WoJ_1.summary.json").exists()
    snakemake("--configfile", cfg, "--cores", "2", cwd=wd)
    assert est.is_file()


def test_short_steps_still_get_numbers():
    """Shuffling or step-to gait with steps ~0.11 x stature (the walker's x coordinates
    compressed to 0.7 about the image centre: its steps 0.7 x 30 cm in the image scale the
    height calibration reads from the upright body) is not refused: all six CSV parameters
    are written and the step length is the compressed one."""
    cfg = dict(DEMO, cadence=90, step_length_cm=30, height_cm=190)
    p = WalkerParams(**cfg)
    recs = walker_keypoints(p)
    c = p.width / 2.0
    for r in recs:
        for j in (r["joints"] or {}).values():
            j["x"] = c + 0.7 * (j["x"] - c)
    res, _ = run(cfg, recs=recs)
    s, q = res.summary, res.summary["quality"]
    assert not q["refused"], q["refused"]
    assert 0.08 < q["checks"]["step_length_over_height"]["value"] < 0.13
    for k in ("step_length_cm", "stride_length_cm", "cadence_steps_per_min", "single_support_s", "double_support_s", "speed_m_per_s"):
        assert np.isfinite(s["means"][k]), k
    assert abs(s["means"]["step_length_cm"] - 0.7 * 30) < 1.5
    assert abs(s["means"]["cadence_steps_per_min"] - 90) < 1.5
