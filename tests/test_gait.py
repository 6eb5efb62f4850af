"""Gait events and parameters on exact synthetic keypoints, and the gait plumbing (fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gaitprep.errors import CalibrationError, InputError
from gaitprep.gait.aggregate import estimation_table, write_estimation_csv
from gaitprep.gait.calibration import make_calibration, sensor_bar_homography
from gaitprep.gait.clip import analyze_clip, write_outputs
from gaitprep.gait.io import series_from_records
from gaitprep.gait.overrides import apply_overrides, read_overrides
from gaitprep.gait.params import STEP_COLUMNS
from gaitprep.gait.preprocess import interpolate_gaps, lowpass
from gaitprep.gait.validation import compare
from gaitprep.healthgait.naming import ESTIMATION_COLUMNS
from gaitprep.synth import WalkerParams, walker_keypoints, walker_truth

from conftest import REPO

L2R = dict(cadence=100, step_length_cm=60, double_support_fraction=0.12, direction="left_to_right", seed=1)
R2L = dict(cadence=125, step_length_cm=75, double_support_fraction=0.08, direction="right_to_left", seed=2)
CLIP = "PA001/UGS/NW-WJ_1"


def walker(cfg):
    p = WalkerParams(**cfg)
    return walker_keypoints(p), walker_truth(p), p


def analyse(recs, p, method="zeni", calibration=None, **kw):
    s = series_from_records(recs, "synth", p.width, p.height)
    cal = calibration or {"method": "px_per_cm", "px_per_cm": p.px_per_cm}
    return analyze_clip(s, p.fps, CLIP, cal, method, **kw)


@pytest.mark.parametrize("cfg", [L2R, R2L], ids=["left_to_right", "right_to_left"])
def test_zeni_exact_keypoints(cfg):
    recs, truth, p = walker(cfg)
    res = analyse(recs, p)
    c = compare(res, truth)
    assert len(c["HS_frames"]) >= 4 and len(c["TO_frames"]) >= 4
    assert np.mean(c["HS_frames"]) < 0.5 and np.mean(c["TO_frames"]) < 0.5
    assert np.mean(c["step_length_cm"]) < 0.5 and np.mean(c["stride_length_cm"]) < 0.5
    for k in ("step_time_s", "stride_time_s", "stance_s", "swing_s", "single_support_s", "double_support_s"):
        assert np.mean(c[k]) < 0.02, k
    assert c["clip"]["cadence_steps_per_min"] < 0.5
    assert c["clip"]["speed_m_per_s"] < 0.01
    assert res.summary["passes"][0]["direction"] == cfg["direction"].replace("_", "-")
    assert list(res.steps.columns) == STEP_COLUMNS


def test_instant_step_lengths_exact():
    recs, truth, p = walker(R2L)
    res = analyse(recs, p, lengths="instant")
    c = compare(res, truth)
    assert np.mean(c["step_length_cm"]) < 1.0 and np.mean(c["stride_length_cm"]) < 1.5
    assert res.summary["lengths"] == "instant"


def test_plain_zeni_has_its_known_bias():
    """Without refinement, Zeni's HS comes early and TO late (by about a frame at 30 fps)."""
    recs, truth, p = walker(L2R)
    res = analyse(recs, p, refine=False)
    from gaitprep.gait.validation import event_errors

    assert np.mean(event_errors(res.events, truth["events"], "HS")) < -0.5
    assert np.mean(event_errors(res.events, truth["events"], "TO")) > 0.3


def test_ankle_distance_method_exact():
    recs, truth, p = walker(L2R)
    res = analyse(recs, p, method="ankle-distance")
    m = res.summary["means"]
    assert abs(m["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 1
    assert abs(m["step_length_cm"] - truth["step_length_cm"]) < 8  # peak ankle distance < heel-to-heel step
    assert np.isnan(m["double_support_s"]) and np.isnan(m["single_support_s"])


def test_leg_swaps_are_corrected():
    recs, truth, p = walker(R2L)
    ref = analyse(recs, p)
    bad = json.loads(json.dumps(recs))
    frames_with = [r for r in bad if r["joints"] and "l_ankle" in r["joints"] and "r_ankle" in r["joints"]]
    mid = len(frames_with) // 2
    swapped = [frames_with[i] for i in list(range(mid - 22, mid - 10)) + [mid, mid + 15]]
    for r in swapped:
        j = r["joints"]
        for n in ("knee", "ankle", "heel", "big_toe", "small_toe"):
            j[f"l_{n}"], j[f"r_{n}"] = j[f"r_{n}"], j[f"l_{n}"]
    res = analyse(bad, p)
    assert res.summary["n_leg_swaps_fixed"] >= 10  # the 12-frame stretch; lone frames may go as glitches
    assert [(e["foot"], e["event"]) for e in ref.events] == [(e["foot"], e["event"]) for e in res.events]
    assert np.allclose([e["frame"] for e in ref.events], [e["frame"] for e in res.events], atol=0.5)


def test_there_and_back_gives_two_passes():
    r1, _, p = walker(dict(L2R, duration_s=5.0, start_x_cm=-40))
    r2, _, _ = walker(dict(L2R, direction="right_to_left", duration_s=5.0, start_x_cm=-40))
    recs = r1 + [{"frame": len(r1) + i, "joints": None} for i in range(20)]
    recs += [dict(r, frame=r["frame"] + len(r1) + 20) for r in r2]
    res = analyse(recs, p)
    assert [q["direction"] for q in res.summary["passes"]] == ["left-to-right", "right-to-left"]
    assert all(q["n_steps"] >= 4 for q in res.summary["passes"])


def test_degenerate_inputs_warn_and_give_nan():
    p = WalkerParams(**L2R)
    empty = [{"frame": i, "joints": None} for i in range(60)]
    res = analyse(empty, p)
    assert res.summary["n_steps"] == 0 and res.summary["warnings"]
    assert all(np.isnan(v) for v in res.summary["means"].values())
    # a walker that only pokes in: never fully in view
    recs, _, p2 = walker(dict(L2R, duration_s=1.0))
    res = analyse(recs, p2)
    assert np.isnan(res.summary["means"]["cadence_steps_per_min"]) and res.summary["warnings"]
    # long gaps everywhere
    recs, _, p3 = walker(L2R)
    gappy = [r if (i // 10) % 2 == 0 else {"frame": r["frame"], "joints": None} for i, r in enumerate(recs)]
    res = analyse(gappy, p3)
    assert any("gap" in w for w in res.summary["warnings"])
    assert res.summary["n_steps"] < 2 or np.isfinite(res.summary["means"]["cadence_steps_per_min"])


def test_filter_is_zero_phase_and_gaps_fill():
    t = np.arange(300) / 30.0
    x = np.sin(2 * np.pi * 1.0 * t) + 0.05 * np.random.default_rng(0).normal(size=t.size)
    y = lowpass(x, 30.0, 6.0)
    assert abs(int(np.argmax(y[:60])) - int(np.argmax(np.sin(2 * np.pi * t[:60])))) <= 1
    g = np.array([0.0, 1, np.nan, np.nan, 4, np.nan, np.nan, np.nan, np.nan, np.nan, 10])
    f = interpolate_gaps(g, 3)
    assert f[2] == 2 and f[3] == 3 and np.isnan(f[6])


def test_calibrations(tmp_path):
    recs, truth, p = walker(L2R)
    res = analyse(recs, p, calibration={"method": "height", "height_cm": p.height_cm})
    est = res.summary["calibration"]["px_per_cm"]
    assert abs(est / p.px_per_cm - 1) < 0.05, est
    csv = tmp_path / "participants_measures.csv"
    csv.write_text("ID,Sex,Age,PA_level,Height,Weight\nPA001,1,30,2,170,70\n")
    res2 = analyse(recs, p, calibration={"method": "height", "participants_measures": str(csv)})
    assert res2.summary["calibration"]["height_cm"] == 170
    # sensor bars: an axis-aligned 4.2 m walkway spanning 840 px -> 2 px/cm along x
    boxes = {"0": {"x_min": 60, "y_min": 480, "x_max": 80, "y_max": 490}, "1": {"x_min": 60, "y_min": 500, "x_max": 80, "y_max": 510},
             "2": {"x_min": 880, "y_min": 480, "x_max": 900, "y_max": 490}, "3": {"x_min": 880, "y_min": 500, "x_max": 900, "y_max": 510}}  # fmt: skip
    bars = tmp_path / "bars.json"
    bars.write_text(json.dumps(boxes))
    cal = make_calibration({"method": "sensor_bars", "sensor_bars": str(bars)}, "PA001", lambda: None)
    xy = cal.to_floor(np.array([[60.0, 480], [900.0, 480], [480.0, 495]]))
    assert np.allclose(xy[:, 0], [0, 420, 210], atol=1e-6)
    res3 = analyse(recs, p, calibration={"method": "sensor_bars", "sensor_bars": boxes})
    assert abs(res3.summary["means"]["step_length_cm"] - p.step_length_cm * p.px_per_cm / 2.0) < 0.5
    with pytest.raises(CalibrationError, match="participants_measures"):
        make_calibration({"method": "height"}, "PA001", lambda: 100.0)
    with pytest.raises(CalibrationError, match="PA002"):
        make_calibration({"method": "height", "participants_measures": str(csv)}, "PA002", lambda: 100.0)
    with pytest.raises(CalibrationError, match="not found"):
        make_calibration({"method": "sensor_bars", "sensor_bars": str(tmp_path / "no.json")}, "PA001", lambda: None)
    with pytest.raises(CalibrationError, match="'2'"):
        sensor_bar_homography({k: v for k, v in boxes.items() if k != "2"})
    with pytest.raises(CalibrationError, match="px_per_cm"):
        make_calibration({"method": "px_per_cm"}, "PA001", lambda: None)


def test_height_calibration_takes_the_pose_backends_nose_to_ankle_fraction():
    """BlazePose's ankle keypoint sits above the malleolus (calibration.py,
    NOSE_ANKLE_FRACTION_BY_BACKEND): its pixel height is divided by 0.84 x stature, other
    backends' by the anatomical 0.86; the config can set it; what was used is recorded."""
    from gaitprep.gait.calibration import NOSE_ANKLE_FRACTION, nose_ankle_fraction

    assert nose_ankle_fraction("blazepose") == 0.84 and nose_ankle_fraction("alphapose") == NOSE_ANKLE_FRACTION == 0.86
    assert nose_ankle_fraction(None) == 0.86
    cfg = {"method": "height", "height_cm": 170}
    bp = make_calibration(cfg, "PA001", lambda: 142.8, "blazepose")
    assert bp.px_per_cm == pytest.approx(142.8 / (0.84 * 170))
    assert bp.describe()["nose_ankle_fraction"] == 0.84 and bp.describe()["nose_ankle_fraction_source"] == "pose backend blazepose"
    other = make_calibration(cfg, "PA001", lambda: 142.8)
    assert other.px_per_cm == pytest.approx(142.8 / (0.86 * 170)) and other.info["nose_ankle_fraction_source"] == "anatomical"
    own = make_calibration({**cfg, "nose_ankle_fraction": 0.85}, "PA001", lambda: 142.8, "blazepose")
    assert own.px_per_cm == pytest.approx(142.8 / (0.85 * 170)) and own.info["nose_ankle_fraction_source"] == "config"
    for bad in (8.4, "x", 0.5):
        with pytest.raises(CalibrationError, match="nose_ankle_fraction"):
            make_calibration({**cfg, "nose_ankle_fraction": bad}, "PA001", lambda: 142.8)


def test_overrides(tmp_path):
    recs, truth, p = walker(L2R)
    res = analyse(recs, p)
    hs = [e for e in res.events if e["event"] == "HS"]
    victim = hs[2]
    tsv = tmp_path / "ov.tsv"
    tsv.write_text(
        "clip\tfoot\tevent\tframe\taction\n"
        f"{CLIP}\t{victim['foot']}\tHS\t{round(victim['frame'])}\tremove\n"
        f"{CLIP}\t{victim['foot']}\tHS\t{victim['frame'] + 1:.1f}\tadd\n"
        f"PA009/UGS/NW-WJ_1\tleft\tTO\t5\tadd\n"
    )
    ov = read_overrides(tsv)
    ev, edited, notes = apply_overrides(res.events, ov, CLIP, p.fps, lambda f: 0)
    assert len(ev) == len(res.events) and len(edited) == 2 and not notes
    res2 = analyse(recs, p, overrides=ov)
    assert res2.steps["edited"].any() and not res2.steps["edited"].all()
    assert res2.summary["n_edited_events"] == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("clip\tfoot\tevent\tframe\taction\nX\tmiddle\tHS\t3\tadd\n")
    with pytest.raises(InputError, match="foot"):
        read_overrides(bad)


def test_aggregate(tmp_path):
    def summ(clip, step, cad):
        return {"clip": clip, "means": {"step_length_cm": step, "stride_length_cm": 2 * step, "cadence_steps_per_min": cad,
                                        "single_support_s": 0.4, "double_support_s": 0.1, "speed_m_per_s": 1.23456}}  # fmt: skip

    ss = [summ("PA001/UGS/NW-WJ_1", 60, 100), summ("PA001/UGS/NW-WoJ_2", 62, float("nan")), summ("PA002/FGS/FW-WJ_1", 70, 120)]
    df = estimation_table(ss)
    assert list(df.columns) == ESTIMATION_COLUMNS
    assert df.loc[0, "Step_UGS"] == 61 and df.loc[0, "Cadence_UGS"] == 100 and np.isnan(df.loc[0, "Step_FGS"])
    paths = []
    for i, s in enumerate(ss):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(s).replace("NaN", "null"))
    out = tmp_path / "gait_parameters_estimation.csv"
    write_estimation_csv(paths, out)
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(ESTIMATION_COLUMNS)
    assert lines[1].startswith("PA001,61.000,122.000,100.000,0.400,0.100,1.235,,,")
    assert lines[2] == "PA002,,,,,,,70.000,140.000,120.000,0.400,0.100,1.235"


def test_cli_gait_clip_and_aggregate(tmp_path):
    recs, truth, p = walker(R2L)
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps([{"frame": r["frame"], "joints": r["joints"]} for r in recs]))
    prov = tmp_path / "prov.json"
    prov.write_text(json.dumps({"video": {"fps": p.fps, "width": p.width, "height": p.height}}))
    env = {"PYTHONPATH": str(REPO / "src")}
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "gaitprep", "gait-clip", "--pose", str(pose), "--clip", CLIP, "--provenance", str(prov),
           "--calibration", json.dumps({"method": "px_per_cm", "px_per_cm": p.px_per_cm}),
           "--steps", str(out / "s.parquet"), "--summary", str(out / "s.summary.json"), "--qc", str(out / "qc.png")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    steps = pd.read_parquet(out / "s.parquet")
    assert list(steps.columns) == STEP_COLUMNS and len(steps) >= 4
    summary = json.loads((out / "s.summary.json").read_text())
    assert abs(summary["means"]["cadence_steps_per_min"] - 125) < 1
    assert (out / "qc.png").stat().st_size > 10_000
    r = subprocess.run(cmd[:8] + ["--summary", str(out / "t.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "--fps or --provenance" in r.stderr
    r = subprocess.run(cmd[:8] + ["--fps", "30", "--width", "960", "--height", "540", "--summary", str(out / "t.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "participants_measures" in r.stderr  # default height calibration, no CSV given
    r = subprocess.run([sys.executable, "-m", "gaitprep", "gait-aggregate", "--summaries", str(out / "s.summary.json"),
                        "--out", str(out / "est.csv")], capture_output=True, text=True, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (out / "est.csv").read_text().splitlines()[1].startswith("PA001,")


def test_fps_from_tree_provenance(tmp_path):
    from gaitprep.gait.io import clip_video_info
    from gaitprep.healthgait.naming import ClipId, provenance_path

    c = ClipId.from_key(CLIP)
    pp = provenance_path(tmp_path, c, "pose")
    pp.parent.mkdir(parents=True)
    pp.write_text(json.dumps({"video": {"fps": 29.97, "width": 960, "height": 540}}))
    assert clip_video_info(tmp_path, CLIP)["fps"] == 29.97
    pp.write_text(json.dumps({"video": {}}))
    with pytest.raises(InputError, match="video.fps"):
        clip_video_info(tmp_path, c)


def test_coco17_only_pose_uses_ankles():
    from gaitprep.results import COCO17

    recs, truth, p = walker(L2R)
    coco = [{"frame": r["frame"], "joints": r["joints"] and {k: v for k, v in r["joints"].items() if k in COCO17}} for r in recs]
    res = analyse(coco, p)
    assert res.summary["keypoints"]["left"] == {"hs": "ankle", "to": "ankle"}
    assert abs(res.summary["means"]["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 1
    assert abs(res.summary["means"]["step_length_cm"] - truth["step_length_cm"]) < 1


def test_write_outputs_nan_as_null(tmp_path):
    p = WalkerParams(**L2R)
    res = analyse([{"frame": i, "joints": None} for i in range(40)], p)
    write_outputs(res, tmp_path / "a.parquet", tmp_path / "a.json", tmp_path / "a.png")
    s = json.loads((tmp_path / "a.json").read_text())
    assert s["means"]["cadence_steps_per_min"] is None
    assert pd.read_parquet(tmp_path / "a.parquet").empty
