"""Pose as .trc (OpenSim / Pose2Sim / Sports2D marker files): the format read back with
pandas, y flipped up, metres only where the clip has a uniform scale, missing joints empty."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gaitprep.errors import InputError
from gaitprep.export.trc import export_trc, marker_name, read_trc

H, W, FPS = 540, 960, 30.0


def _records():
    """Frames 10..14: frame 12 has nobody; r_ankle missing in 11; l_heel clipped (score 0) in 13."""
    recs = []
    for f in range(10, 15):
        if f == 12:
            recs.append({"frame": f, "joints": None})
            continue
        j = {
            "nose": {"x": 100.0 + f, "y": 50.25, "score": 0.9},
            "l_ankle": {"x": 90.5 + 2 * f, "y": 500.0, "score": 0.8},
            "r_ankle": {"x": 110.125, "y": 480.0 + f, "score": 0.7},
            "l_heel": {"x": 85.0, "y": 510.0, "score": 0.6},
            "hip": {"x": 100.0, "y": 300.0 + 0.5 * f, "score": 1.0},
        }
        if f == 11:
            del j["r_ankle"]
        if f == 13:
            j["l_heel"]["score"] = 0.0
        recs.append({"frame": f, "joints": j})
    return recs


@pytest.fixture
def clip(tmp_path):
    pose = tmp_path / "NW-WoJ_1_AlphaPose.json"
    pose.write_text(json.dumps(_records()))
    prov = tmp_path / "NW-WoJ_1.pose.json"
    prov.write_text(json.dumps({"video": {"fps": FPS, "width": W, "height": H}}))
    return pose, prov


def _summary(tmp_path, cal):
    p = tmp_path / "summary.json"
    p.write_text(json.dumps({"clip": "PA000/UGS/NW-WoJ_1", "calibration": cal}))
    return p


def test_round_trip_pixels_and_metres(clip, tmp_path):
    pose, prov = clip
    px, m, info_p = tmp_path / "c_px.trc", tmp_path / "c_m.trc", tmp_path / "c_trc.json"
    summ = _summary(tmp_path, {"method": "height", "height_cm": 172, "px_per_cm": 2.5})
    info = export_trc(pose, prov, px, m, info_p, summary=summ)
    assert info["files"] == {"px": str(px), "m": str(m)} and json.loads(info_p.read_text()) == info
    assert info["metres"]["px_per_m"] == 250.0 and info["no_metres_reason"] is None

    # the header, as OpenSim documents it: 3 header lines, 2 label rows, a blank row
    lines = px.read_text().split("\n")
    assert lines[0].split("\t") == ["PathFileType", "4", "(X/Y/Z)", "c_px.trc"]
    assert lines[1].split("\t") == ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
                                    "OrigDataStartFrame", "OrigNumFrames"]  # fmt: skip
    assert lines[2].split("\t") == ["30", "30", "5", "5", "px", "30", "10", "5"]
    # markers in Halpe-26 order, Pose2Sim names, each over its X/Y/Z columns
    assert lines[3].split("\t") == ["Frame#", "Time", "Nose", "", "", "LAnkle", "", "", "RAnkle", "", "", "Hip", "", "",
                                    "LHeel", "", ""]  # fmt: skip
    assert lines[4].split("\t") == ["", ""] + [f"{a}{k}" for k in range(1, 6) for a in "XYZ"]
    assert lines[5] == ""
    rows = [r.split("\t") for r in lines[6:] if r]
    assert len(rows) == 5 and all(len(r) == 2 + 3 * 5 for r in rows)
    assert rows[2][2:] == [""] * 15  # frame 12: nobody -> empty cells, never zeros

    # read back with pandas: numbers equal
    raw = pd.read_csv(px, sep="\t", skiprows=5, header=None)
    assert raw.shape == (5, 17) and list(raw[0]) == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(raw[1], np.arange(10, 15) / FPS, atol=1e-6)
    hdr, d = read_trc(px)
    assert hdr["Units"] == "px" and hdr["NumFrames"] == "5"
    recs = {r["frame"]: r["joints"] for r in _records()}
    for t, f in enumerate(range(10, 15)):
        for joint, name in [("nose", "Nose"), ("l_ankle", "LAnkle"), ("r_ankle", "RAnkle"), ("hip", "Hip"), ("l_heel", "LHeel")]:
            j = (recs[f] or {}).get(joint)
            present = j is not None and j["score"] > 0
            x, y, z = d[f"{name}_X"][t], d[f"{name}_Y"][t], d[f"{name}_Z"][t]
            if not present:
                assert np.isnan([x, y, z]).all(), (f, joint)
                continue
            assert x == pytest.approx(j["x"], abs=1e-4) and y == pytest.approx(H - j["y"], abs=1e-4) and z == 0.0
    hm, dm = read_trc(m)
    assert hm["Units"] == "m"
    cols = [c for c in d.columns if c not in ("Frame#", "Time")]
    np.testing.assert_allclose(dm[cols].to_numpy(), d[cols].to_numpy() / 250.0, atol=1e-7)
    assert np.isnan(dm["RAnkle_X"][1]) and np.isnan(dm["LHeel_X"][3])  # missing / clipped stay empty
    assert info["frames_without_person"] == 1 and info["joints_below_min_score"] == 1
    assert info["empty_marker_cells"] == 5 + 1 + 1  # frame 12 (5 markers), r_ankle @11, l_heel @13


@pytest.mark.parametrize(
    "cal, reason",
    [
        ({"method": "sensor_bars", "homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "homography"),
        ({"method": "height", "error": "participant PA000 has no height"}, "has no height"),
        ({"method": "px_per_cm"}, "no px_per_cm"),
    ],
)
def test_no_metres_without_a_uniform_scale(clip, tmp_path, cal, reason):
    pose, prov = clip
    px, m = tmp_path / "c_px.trc", tmp_path / "c_m.trc"
    m.write_text("stale")  # from an earlier, calibrated run: must not survive
    info = export_trc(pose, prov, px, m, summary=_summary(tmp_path, cal))
    assert px.is_file() and not m.exists()
    assert info["files"] == {"px": str(px)} and info["metres"] is None and reason in info["no_metres_reason"]


def test_cli_on_a_tree_and_bad_input(tmp_path, capsys):
    from gaitprep.cli import main

    root = tmp_path / "out"
    (root / "pose/PA000/UGS").mkdir(parents=True)
    (root / "provenance/PA000/UGS").mkdir(parents=True)
    (root / "gait_steps/PA000/UGS").mkdir(parents=True)
    (root / "pose/PA000/UGS/NW-WoJ_1_AlphaPose.json").write_text(json.dumps(_records()))
    (root / "provenance/PA000/UGS/NW-WoJ_1.pose.json").write_text(json.dumps({"video": {"fps": FPS, "height": H}}))
    (root / "gait_steps/PA000/UGS/NW-WoJ_1.summary.json").write_text(
        json.dumps({"calibration": {"method": "px_per_cm", "px_per_cm": 2.0}})
    )
    assert main(["export-trc", "--root", str(root), "--clip", "PA000/UGS/NW-WoJ_1"]) == 0
    d = root / "exports/trc/PA000/UGS"
    assert sorted(p.name for p in d.iterdir()) == ["NW-WoJ_1_m.trc", "NW-WoJ_1_px.trc", "NW-WoJ_1_trc.json"]
    assert read_trc(d / "NW-WoJ_1_m.trc")[0]["Units"] == "m"
    # the tree stays the spec's: exports/ is a known side folder
    from gaitprep.healthgait.validate import SIDE_DIRS

    assert "exports" in SIDE_DIRS
    # bad input: a clear error naming the file, nothing written
    (root / "provenance/PA000/UGS/NW-WoJ_1.pose.json").write_text(json.dumps({"video": {"fps": FPS}}))
    bad = tmp_path / "bad_px.trc"
    assert main(["export-trc", "--pose", str(root / "pose/PA000/UGS/NW-WoJ_1_AlphaPose.json"),
                 "--provenance", str(root / "provenance/PA000/UGS/NW-WoJ_1.pose.json"), "--px", str(bad)]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "NW-WoJ_1.pose.json" in err and "video.height" in err and not bad.exists()
    with pytest.raises(InputError, match="strictly increasing"):
        from gaitprep.export.trc import markers_from_records

        markers_from_records([{"frame": 2, "joints": None}, {"frame": 1, "joints": None}], FPS, H, "x.json")


def test_marker_names():
    assert [marker_name(j) for j in ("nose", "l_big_toe", "r_shoulder", "hip", "neck", "r_small_toe")] == [
        "Nose", "LBigToe", "RShoulder", "Hip", "Neck", "RSmallToe"
    ]  # fmt: skip


def test_synthetic_walker_step_length_in_metres(tmp_path):
    """Known truth: the synthetic walker (gaitprep synth, exact keypoints, 2 px/cm) steps 65 cm;
    in the metre file the planted heels of consecutive heel strikes are 0.65 m apart, and Y
    points up (nose above heels)."""
    import math

    from gaitprep.cli import main

    video, pose = tmp_path / "w.mp4", tmp_path / "w_pose.json"
    assert main(["synth", "--out", str(video), "--pose-json", str(pose), "--steps", "6", "--step-length", "65"]) == 0
    truth = json.loads((tmp_path / "w.truth.json").read_text())
    prov = tmp_path / "w.pose.json"
    prov.write_text(json.dumps({"video": {"fps": truth["fps"], "width": truth["width"], "height": truth["height"]}}))
    m = tmp_path / "w_m.trc"
    summ = _summary(tmp_path, {"method": "px_per_cm", "px_per_cm": truth["px_per_cm"]})
    info = export_trc(pose, prov, tmp_path / "w_px.trc", m, summary=summ)
    assert info["metres"]["px_per_cm"] == truth["px_per_cm"] == 2.0
    _, d = read_trc(m)
    row = {int(f): k for k, f in enumerate(d["Frame#"])}
    hs = [e for e in truth["events"] if e["event"] == "HS"]
    steps = []
    for a, b in zip(hs, hs[1:]):
        fa, fb = math.ceil(a["frame"]) + 1, math.ceil(b["frame"]) + 1  # both heels planted
        if fb not in row:
            break
        xa = d[("LHeel" if a["foot"] == "left" else "RHeel") + "_X"][row[fa]]
        xb = d[("LHeel" if b["foot"] == "left" else "RHeel") + "_X"][row[fb]]
        steps.append(xb - xa)  # left to right: X grows
        assert d["Nose_Y"][row[fa]] > d[("LHeel" if a["foot"] == "left" else "RHeel") + "_Y"][row[fa]]
    assert len(steps) >= 3
    np.testing.assert_allclose(steps, truth["step_length_cm"] / 100.0, atol=1e-4)
