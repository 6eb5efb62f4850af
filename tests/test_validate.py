"""gaitprep validate: a valid tree passes; each kind of defect gives its message and exit 1."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from gaitprep.healthgait import naming, validate
from gaitprep.healthgait.palette import PALETTE_BGR
from gaitprep.results import COCO17

W, H, N = 64, 48, 6  # tiny frames, 6-frame clips
CLIPS = [naming.ClipId("PA000", "UGS", "NW-WJ", "1"), naming.ClipId("PA001", "FGS", "FW-WoJ", "2")]


def _pose(n=N, start=0, w=W, h=H):
    recs = []
    for i in range(start, start + n):
        joints = {k: {"x": 10.0 + j + i, "y": 5.0 + j, "score": 0.9} for j, k in enumerate(COCO17)}
        recs.append({"frame": i, "joints": joints if i != start else None})
    return recs


def make_tree(root: Path, clips=CLIPS, n=N, size=(W, H)) -> Path:
    """A small valid tree: pose, silhouettes, segmentation, TVL1 and GMFLOW flow, CSVs."""
    w, h = size
    for c in clips:
        p = naming.pose_path(root, c)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(_pose(n, w=w, h=h)))
        sil, seg = naming.silhouette_dir(root, c), naming.segmentation_dir(root, c)
        sil.mkdir(parents=True)
        seg.mkdir(parents=True)
        for i in range(1, n):  # frame 0 has no person
            m = np.zeros((h, w), np.uint8)
            m[10:40, 20 + i : 30 + i] = 255
            cv2.imwrite(str(sil / f"{i:03d}.jpg"), m)
            lab = np.zeros((h, w), np.uint8)
            lab[10:20, 20:30], lab[20:40, 20:30] = 1, 13
            cv2.imwrite(str(seg / f"{i:03d}.png"), PALETTE_BGR[lab])
        for m in naming.FLOW_METHODS:
            d = naming.flow_dir(root, c, m)
            d.mkdir(parents=True)
            for i in range(n - 1):
                img = np.zeros((h, w, 3), np.uint8)
                img[5:15, 5:15] = (0, 0, 200)
                cv2.imwrite(str(d / f"{i:03d}.png"), img)
    ids = sorted({c.participant for c in clips})
    with open(root / naming.ESTIMATION_CSV, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(naming.ESTIMATION_COLUMNS)
        for pid in ids:
            wr.writerow([pid] + ["1.5"] * (len(naming.ESTIMATION_COLUMNS) - 1))
    with open(root / "participants_measures.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(validate.MEASURES_COLUMNS)
        for pid in ids:
            wr.writerow([pid, 1, 30, 2, 170, 70, 24.2, 80, 95, 38, 20.1, 55])
    # gaitprep side outputs are ignored / lightly checked
    (root / "logs").mkdir()
    (root / "logs" / "x.log").write_text("hello")
    # a provenance record for every output, as gaitprep writes them
    for c in clips:
        for m, method, backend in (("pose", None, "blazepose"), ("silhouette", None, "yolov8-seg"), ("segmentation", None, "densepose"),
                                   *(("flow", fm, fm.lower()) for fm in naming.FLOW_METHODS)):  # fmt: skip
            stats = {"frames": n - 1, "pairs": n - 1} if m == "flow" else {"frames": n, "frames_with_person": n - 1}
            prov = naming.provenance_path(root, c, m, method)
            prov.parent.mkdir(parents=True, exist_ok=True)
            prov.write_text(json.dumps({"clip": c.key, "modality": m, "method": method, "backend": backend, "stats": {**stats, "frames_skipped": []}}))
    (root / "run_report.json").write_text("{}")
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "hg")


C0 = CLIPS[0]


def _messages(report, level="error"):
    return [f"{i.clip} | {i.path} | {i.message}" for i in report.issues if i.level == level]


def _one(report, *needles, level="error"):
    hits = [m for m in _messages(report, level) if all(n in m for n in needles)]
    assert hits, f"no {level} containing {needles}; got:\n" + "\n".join(_messages(report, level))
    assert not report.ok() or level == "warning"
    return hits[0]


def test_valid_tree_passes(tree, capsys):
    rep = validate.validate_tree(tree)
    assert rep.issues == [], rep.format()
    assert rep.clips == 2 and rep.files == 2 * (1 + 2 * (N - 1) + 2 * (N - 1))
    assert validate.main([str(tree)]) == 0
    out = capsys.readouterr().out
    assert "Summary:" in out and "2 clips" in out and "0 errors" in out and "OK" in out


def test_parallel_and_sampled_runs_agree(tree):
    shutil.copy(naming.silhouette_dir(tree, C0) / "001.jpg", naming.silhouette_dir(tree, C0) / "000.jpg")
    a = validate.validate_tree(tree)
    b = validate.validate_tree(tree, jobs=2)
    assert sorted(a.issues, key=str) == sorted(b.issues, key=str)
    assert validate.validate_tree(tree, sample_every=100).files == a.files


def test_bad_participant_id(tree):
    src = tree / "pose" / "PA000"
    src.rename(tree / "pose" / "P0")
    rep = validate.validate_tree(tree)
    assert "bad participant ID 'P0'" in _one(rep, "P0/UGS/NW-WJ_1", "pose/P0/UGS/NW-WJ_1_AlphaPose.json")


def test_walk_class_inconsistent_with_gait_type(tree):
    d = naming.silhouette_dir(tree, C0)
    d.rename(d.with_name("FW-WJ_1_YOLOV8"))
    rep = validate.validate_tree(tree)
    _one(rep, "PA000/UGS/FW-WJ_1", "walk class 'FW-WJ' is inconsistent with gait type 'UGS'")


def test_bad_clip_number(tree):
    p = naming.pose_path(tree, C0)
    p.rename(p.with_name("NW-WJ_3_AlphaPose.json"))
    _one(validate.validate_tree(tree), "bad clip '3' (expected 1 or 2)")


def test_unknown_gait_type(tree):
    (tree / "pose" / "PA000" / "UGS").rename(tree / "pose" / "PA000" / "XGS")
    _one(validate.validate_tree(tree), "unknown gait type 'XGS'")


def test_missing_suffixes(tree):
    d = naming.silhouette_dir(tree, C0)
    d.rename(d.with_name("NW-WJ_1"))
    s = naming.segmentation_dir(tree, C0)
    s.rename(s.with_name("NW-WJ_1_YOLOV8"))
    p = naming.pose_path(tree, C0)
    p.rename(p.with_name("NW-WJ_1.json"))
    rep = validate.validate_tree(tree)
    _one(rep, "silhouette folder must be named NW-WJ_1_YOLOV8 (found suffix 'none')")
    _one(rep, "segmentation folder must be named NW-WJ_1_DensePose (found suffix '_YOLOV8')")
    _one(rep, "pose file must be named NW-WJ_1_AlphaPose.json")


def test_flow_folder_with_suffix_and_bad_method(tree):
    d = naming.flow_dir(tree, C0, "TVL1")
    d.rename(d.with_name("NW-WJ_1_TVL1"))
    g = naming.flow_dir(tree, CLIPS[1], "GMFLOW")
    g.parent.rename(g.parent.with_name("gmflow"))
    rep = validate.validate_tree(tree)
    _one(rep, "flow folder must be named NW-WJ_1 with no suffix (found '_TVL1')")
    _one(rep, "optical_flow/PA001/FGS/gmflow", "unknown flow method folder 'gmflow'")


def test_frame_numbering(tree):
    d = naming.silhouette_dir(tree, C0)
    (d / "001.jpg").rename(d / "01.jpg")
    (d / "002.jpg").rename(d / "frame2.jpg")
    (d / "003.jpg").rename(d / "003.jpeg")
    rep = validate.validate_tree(tree)
    _one(rep, "inconsistent zero-padding of frame numbers: widths [2, 3]")
    _one(rep, "zero-padded to at least 3 digits (found 2)")
    _one(rep, "frame2.jpg", "file name is not a frame number")
    _one(rep, "003.jpeg", "wrong extension '.jpeg'")


def test_needless_wide_padding_is_a_warning(tree):
    d = naming.segmentation_dir(tree, C0)
    for f in sorted(d.iterdir()):
        f.rename(d / f"0{f.name}")
    rep = validate.validate_tree(tree)
    _one(rep, "padded to 4 digits but the clip's largest frame index 5 needs 3", level="warning")
    assert rep.ok()


def test_image_size_mismatch_within_clip_and_across_modalities(tree):
    d = naming.silhouette_dir(tree, C0)
    cv2.imwrite(str(d / "002.jpg"), np.zeros((H + 2, W, 3), np.uint8))
    s = naming.segmentation_dir(CLIPS[1] and tree, CLIPS[1])
    for f in s.iterdir():
        cv2.imwrite(str(f), np.zeros((H * 2, W * 2, 3), np.uint8))
    rep = validate.validate_tree(tree)
    _one(rep, "PA000/UGS/NW-WJ_1", "image sizes differ within the clip: 64x48 (4 frames), 64x50 (1 frames)")
    _one(rep, "PA001/FGS/FW-WoJ_2", "image sizes differ across modalities", "segmentation 128x96", "silhouette 64x48")


def test_silhouette_not_binary(tree):
    d = naming.silhouette_dir(tree, C0)
    rng = np.random.default_rng(0)
    for i in (2, 3):
        cv2.imwrite(str(d / f"{i:03d}.jpg"), rng.integers(0, 256, (H, W), dtype=np.uint8))
    rep = validate.validate_tree(tree)
    msg = _one(rep, "silhouette not binary in 2 of 5 frames (first 002.jpg:", "(need >= 99 % and >= 75 %)")
    assert "9.8 % of all pixels within 10 of 0 or 255" in msg


def test_silhouette_grey_photo_is_not_binary(tree):
    d = naming.silhouette_dir(tree, C0)
    grad = np.tile(np.linspace(0, 255, W, dtype=np.uint8), (H, 1))
    cv2.imwrite(str(d / "004.jpg"), grad)
    _one(validate.validate_tree(tree), "004.jpg", "silhouette not binary", "% of pixels away from the mask edge")


def test_silhouette_jpeg_noise_is_tolerated(tree):
    d = naming.silhouette_dir(tree, C0)
    m = np.zeros((H, W), np.uint8)
    cv2.circle(m, (W // 2, H // 2), 15, 255, -1)
    cv2.imwrite(str(d / "002.jpg"), m, [cv2.IMWRITE_JPEG_QUALITY, 60])
    img = cv2.imread(str(d / "002.jpg"), cv2.IMREAD_GRAYSCALE)
    assert ((img > 0) & (img < 255)).any()  # there is compression noise
    assert validate.validate_tree(tree).ok()


def test_empty_silhouette_is_a_warning(tree):
    cv2.imwrite(str(naming.silhouette_dir(tree, C0) / "003.jpg"), np.zeros((H, W), np.uint8))
    rep = validate.validate_tree(tree)
    _one(rep, "003.jpg", "empty silhouette (no person pixels)", level="warning")


def test_segmentation_palette(tree):
    d = naming.segmentation_dir(tree, C0)
    img = cv2.imread(str(d / "004.png"))
    img[0:2, 0:3] = (10, 20, 30)  # BGR -> RGB (30,20,10)
    cv2.imwrite(str(d / "004.png"), img)
    msg = _one(validate.validate_tree(tree), "004.png", "colours outside the segmentation palette")
    assert "6 px in 1 colour(s) not in palette.ALLOWED_RGB: (30,20,10)" in msg


def test_segmentation_grey_png(tree):
    d = naming.segmentation_dir(tree, C0)
    cv2.imwrite(str(d / "001.png"), np.zeros((H, W), np.uint8))
    _one(validate.validate_tree(tree), "001.png", "segmentation not RGB: 1 channel(s)")


def test_jpeg_content_with_png_name(tree):
    d = naming.segmentation_dir(tree, C0)
    shutil.copy(naming.silhouette_dir(tree, C0) / "001.jpg", d / "001.png")
    _one(validate.validate_tree(tree), "001.png", "not a PNG file: file content is JPEG")


def test_truncated_image(tree):
    f = naming.silhouette_dir(tree, C0) / "002.jpg"
    f.write_bytes(f.read_bytes()[:20])
    _one(validate.validate_tree(tree), "002.jpg", "unreadable image")


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.__setitem__(2, {"frame": 2}), "at 2: 'joints' is a required property"),
        (lambda d: d[2].__setitem__("frame", "2"), "at 2/frame: '2' is not of type 'integer'"),
        (lambda d: d[3]["joints"].__setitem__("left_ankle", {"x": 1, "y": 1, "score": 0.5}), "unknown joint name(s) ['left_ankle']"),
        (lambda d: d[3]["joints"]["l_ankle"].pop("score"), "at 3/joints"),
        (lambda d: d[3]["joints"]["l_ankle"].__setitem__("score", 1.5), "at 3/joints"),
        (lambda d: d.__setitem__(slice(None), {"frames": []}), "at (top level): {'frames': []} is not of type 'array'"),
    ],
)
def test_pose_schema(tree, mutate, needle):
    p = naming.pose_path(tree, C0)
    data = json.loads(p.read_text())
    if needle.startswith("at (top level)"):
        data = {"frames": []}
    else:
        mutate(data)
    p.write_text(json.dumps(data))
    _one(validate.validate_tree(tree), "NW-WJ_1_AlphaPose.json", "pose JSON does not match the schema", needle)


def test_pose_truncated_json(tree):
    p = naming.pose_path(tree, C0)
    p.write_text(p.read_text()[:100])
    _one(validate.validate_tree(tree), "not valid JSON (line 1", "truncated or half-written file?")


def test_pose_frames_not_increasing(tree):
    p = naming.pose_path(tree, C0)
    data = json.loads(p.read_text())
    data[3]["frame"] = 2
    p.write_text(json.dumps(data))
    _one(validate.validate_tree(tree), "frame numbers are not strictly increasing (1 times; first: 2 then 2)")


def test_pose_coordinates_outside_frame(tree):
    p = naming.pose_path(tree, C0)
    data = json.loads(p.read_text())
    data[2]["joints"]["r_ankle"]["x"] = W + 40.0
    data[3]["joints"]["l_ankle"]["y"] = H + 1.5  # slightly: warning
    p.write_text(json.dumps(data))
    rep = validate.validate_tree(tree)
    _one(rep, "1 joint(s) far outside the 64x48 frame (first: frame 2 r_ankle x=104.0")
    _one(rep, "1 joint(s) slightly outside the 64x48 frame (first: frame 3 l_ankle", level="warning")


def test_pose_only_tree_uses_frame_size(tmp_path):
    root = tmp_path / "hg"
    p = naming.pose_path(root, C0)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(_pose()))
    assert validate.validate_tree(root).ok()
    rep = validate.validate_tree(root, frame_size=(20, 20))
    _one(rep, "outside the 20x20 frame")
    assert validate.main([str(root), "--frame-size", "20x20"]) == 1


def test_flow_count_and_contiguity(tree):
    d = naming.flow_dir(tree, C0, "TVL1")
    (d / "004.png").unlink()
    g = naming.flow_dir(tree, C0, "GMFLOW")
    (g / "002.png").unlink()
    rep = validate.validate_tree(tree)
    _one(rep, "TVL1/NW-WJ_1", "4 flow images but the pose JSON has 6 frames (expected N-1 = 5)")
    _one(rep, "GMFLOW/NW-WJ_1", "not a contiguous range 0..4: missing 2")


def test_flow_too_many(tree):
    d = naming.flow_dir(tree, C0, "TVL1")
    shutil.copy(d / "000.png", d / "005.png")
    _one(validate.validate_tree(tree), "6 flow images but the pose JSON has 6 frames (expected N-1 = 5)")


def test_image_frames_outside_pose_range(tree):
    d = naming.silhouette_dir(tree, C0)
    shutil.copy(d / "001.jpg", d / "017.jpg")
    _one(validate.validate_tree(tree), "1 silhouette frame(s) not in the pose JSON's frames (first: 17)")


def test_estimation_csv_columns(tree):
    p = tree / naming.ESTIMATION_CSV
    rows = list(csv.reader(open(p)))
    rows[0][3] = "Cadence"
    rows[0].append("Extra")
    rows[1].append("0")
    rows[2].append("0")
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    msg = _one(validate.validate_tree(tree), "gait_parameters_estimation.csv", "columns must be exactly ID,Step_UGS")
    assert "missing ['Cadence_UGS']" in msg and "unexpected ['Cadence', 'Extra']" in msg


def test_estimation_csv_order_and_values(tree):
    p = tree / naming.ESTIMATION_CSV
    rows = list(csv.reader(open(p)))
    rows[0][1], rows[0][2] = rows[0][2], rows[0][1]
    rows[2][4] = "fast"
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    rep = validate.validate_tree(tree)
    _one(rep, "columns in the wrong order")
    _one(rep, "line 3: non-numeric value(s) ['fast']")


def test_participants_measures(tree):
    p = tree / "participants_measures.csv"
    rows = list(csv.reader(open(p)))
    rows[0] = [c for c in rows[0] if c != "BMI"]
    rows[1] = rows[1][:6] + rows[1][7:]
    rows[2] = rows[2][:6] + rows[2][7:]
    rows.append(list(rows[1]))  # duplicate PA000
    rows.append(["P12"] + rows[1][1:])
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    rep = validate.validate_tree(tree)
    _one(rep, "participants_measures.csv", "missing column(s) ['BMI']")
    _one(rep, "participants_measures.csv", "duplicate participant ID(s): PA000")
    _one(rep, "participants_measures.csv", "1 bad participant ID(s)", "'P12'")


def test_participants_measures_column_spelling_is_tolerant(tree):
    p = tree / "participants_measures.csv"
    rows = list(csv.reader(open(p)))
    rows[0] = [c.replace(" ", "_").lower() if c != "ID" else c for c in rows[0]]
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    assert validate.validate_tree(tree).ok()


def test_leftover_temporaries(tree):
    d = naming.silhouette_dir(tree, C0)
    shutil.copytree(d, d.with_name(d.name + ".tmp-12345"))
    p = naming.pose_path(tree, C0)
    p.with_name(p.name + ".tmp-999").write_text("[{")
    rep = validate.validate_tree(tree)
    _one(rep, "NW-WJ_1_YOLOV8.tmp-12345", "leftover temporary from an interrupted job")
    _one(rep, "NW-WJ_1_AlphaPose.json.tmp-999", "--rerun-incomplete")


def test_side_outputs_checked_lightly(tree):
    (tree / "run_report.json").write_text("{")
    (tree / "qc").mkdir()
    (tree / "qc" / "anything.png").write_bytes(b"not checked")
    (tree / "notes.txt").write_text("x")
    rep = validate.validate_tree(tree)
    _one(rep, "run_report.json", "not valid JSON")
    _one(rep, "notes.txt", "not part of the Health&Gait layout", level="warning")
    assert len(rep.errors) == 1


def test_missing_modality_is_a_warning(tree):
    shutil.rmtree(naming.segmentation_dir(tree, C0))
    rep = validate.validate_tree(tree)
    assert rep.ok()
    _one(rep, "PA000/UGS/NW-WJ_1", "missing modalities other clips have: segmentation", level="warning")


def test_stray_file_in_layout(tree):
    (tree / "pose" / "PA000" / "readme.json").write_text("[]")
    (tree / "silhouette" / "PA000" / "UGS" / "NW-WJ_1_YOLOV8.zip").write_text("")
    rep = validate.validate_tree(tree)
    _one(rep, "pose/PA000/readme.json", "unexpected file where the layout has gait type folders")
    _one(rep, "NW-WJ_1_YOLOV8.zip", "unexpected entry")


def test_thousand_frame_clip_uses_four_digits(tmp_path):
    root = tmp_path / "hg"
    p = naming.pose_path(root, C0)
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps([{"frame": i, "joints": None} for i in range(1002)]))
    d = naming.flow_dir(root, C0, "TVL1")
    d.mkdir(parents=True)
    img = np.zeros((4, 4, 3), np.uint8)
    ok = cv2.imencode(".png", img)[1].tobytes()
    for i in range(1001):
        (d / f"{i:04d}.png").write_bytes(ok)
    rep = validate.validate_tree(root, sample_every=50)
    assert rep.ok(), rep.format()
    (d / "0999.png").rename(d / "999.png")
    _one(validate.validate_tree(root, sample_every=50), "inconsistent zero-padding")


def test_report_text_and_exit_status(tree, capsys, tmp_path):
    cv2.imwrite(str(naming.silhouette_dir(tree, C0) / "003.jpg"), np.zeros((H, W), np.uint8))
    d = naming.flow_dir(tree, CLIPS[1], "TVL1")
    (d / "001.png").unlink()
    assert validate.main([str(tree), "--json", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PA000/UGS/NW-WJ_1"
    assert out[1].startswith("  WARNING silhouette/PA000/UGS/NW-WJ_1_YOLOV8/003.jpg: empty silhouette")
    assert "PA001/FGS/FW-WoJ_2" in out
    assert out[-1].startswith(f"Summary: {tree}: 2 clips") and out[-1].endswith("INVALID")
    assert "2 clips with issues" in out[-1]
    js = json.loads((tmp_path / "r.json").read_text())
    assert js["errors"] >= 1 and js["warnings"] == 1
    # warnings alone: exit 0, or 1 with --strict
    shutil.copy(d.parent.parent / "GMFLOW" / "FW-WoJ_2" / "001.png", d / "001.png")
    assert validate.main([str(tree)]) == 0
    assert validate.main([str(tree), "--strict"]) == 1
    assert validate.main([str(tree / "nope")]) == 2


def test_register_adds_subcommand(tree):
    import argparse

    p = argparse.ArgumentParser(prog="gaitprep")
    sub = p.add_subparsers(dest="cmd")
    validate.register(sub)
    args = p.parse_args(["validate", str(tree), "-j", "2"])
    assert args.func(args) == 0


def test_flow_gap_explained_by_provenance(tree):
    """gaitprep writes no flow across undecodable frames and records them in provenance."""
    for i in (2, 3):
        (naming.flow_dir(tree, C0, "TVL1") / f"{i:03d}.png").unlink()
    rep = validate.validate_tree(tree)
    _one(rep, "TVL1/NW-WJ_1", "not a contiguous range 0..4: missing 2-3")  # without provenance: an error
    prov = naming.provenance_path(tree, C0, "flow", "TVL1")
    prov.write_text(json.dumps({"clip": C0.key, "stats": {"frames_skipped": [3]}}))
    rep = validate.validate_tree(tree)
    assert not [e for e in rep.errors if "TVL1" in e.path], rep.format()
    _one(rep, "TVL1/NW-WJ_1", "no flow for frames 2-3: source frames 3 could not be decoded", level="warning")


def test_flow_not_rgb(tree):
    f = naming.flow_dir(tree, C0, "GMFLOW") / "001.png"
    cv2.imwrite(str(f), np.zeros((H, W), np.uint16))
    _one(validate.validate_tree(tree), "001.png", "flow image not 8-bit RGB: image mode I;16")


# --------------------------------------------------------------------------- completeness (issue 16)


def test_deleted_silhouette_and_segmentation_frames(tree):
    """Pose and provenance say a person is in frame 3: deleting its JPG / PNG is an error."""
    (naming.silhouette_dir(tree, C0) / "003.jpg").unlink()
    (naming.segmentation_dir(tree, C0) / "003.png").unlink()
    r = validate.validate_tree(tree)
    _one(r, "1 of the 5 silhouette images the job wrote are missing", "frames_with_person = 5, folder has 4", "no image: 3", "deleted?")
    _one(r, "1 of the 5 segmentation images the job wrote are missing", "no image: 3")


def test_person_frame_without_image_and_without_provenance_is_a_warning(tree):
    """A published tree (no provenance/): a pose person frame without a silhouette is a warning."""
    shutil.rmtree(tree / "provenance")
    (naming.silhouette_dir(tree, C0) / "003.jpg").unlink()
    r = validate.validate_tree(tree)
    assert r.ok()
    _one(r, "1 frame(s) where the pose JSON has a person have no silhouette image (first: 3", "no provenance record explains it", level="warning")


def test_fewer_images_explained_by_provenance(tree):
    """The silhouette backend found nobody in frame 3 (its record says 4 written): no issue."""
    (naming.silhouette_dir(tree, C0) / "003.jpg").unlink()
    p = naming.provenance_path(tree, C0, "silhouette")
    rec = json.loads(p.read_text())
    rec["stats"]["frames_with_person"] = 4
    p.write_text(json.dumps(rec))
    r = validate.validate_tree(tree)
    assert r.ok() and not [i for i in r.issues if "silhouette" in i.message], r.format()


def test_missing_provenance_record(tree):
    naming.provenance_path(tree, C0, "segmentation").unlink()
    r = validate.validate_tree(tree)
    _one(r, C0.key, "provenance/PA000/UGS/NW-WJ_1.segmentation.json", "missing provenance record for the clip's segmentation output")


def test_truncated_json_anywhere(tree):
    s = naming.gait_summary_path(tree, C0)
    s.parent.mkdir(parents=True)
    s.write_text('{"clip": "PA000/UGS/NW-WJ_1", "means": {"step_length_cm": 6')
    p = naming.provenance_path(tree, C0, "pose")
    p.write_text(p.read_text()[:20])
    r = validate.validate_tree(tree)
    _one(r, "gait_steps/PA000/UGS/NW-WJ_1.summary.json", "gait summary is not valid JSON", "truncated or half-written file?")
    _one(r, "provenance/PA000/UGS/NW-WJ_1.pose.json", "provenance record is not valid JSON")


def _summaries(root, values):
    for c, means in values.items():
        s = naming.gait_summary_path(root, c)
        s.parent.mkdir(parents=True, exist_ok=True)
        s.write_text(json.dumps({"clip": c.key, "means": means, "warnings": []}))


MEANS = {"step_length_cm": 60.0, "stride_length_cm": 120.0, "cadence_steps_per_min": 110.0,
         "single_support_s": 0.4, "double_support_s": 0.1, "speed_m_per_s": 1.1}  # fmt: skip


def _estimation(root, rows):
    with open(root / naming.ESTIMATION_CSV, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(naming.ESTIMATION_COLUMNS)
        for r in rows:
            wr.writerow(r)


def test_aggregate_consistent_with_summaries(tree):
    _summaries(tree, {C0: MEANS, CLIPS[1]: MEANS})
    ugs = ["60.000", "120.000", "110.000", "0.400", "0.100", "1.100"]
    _estimation(tree, [["PA000", *ugs, *[""] * 6], ["PA001", *[""] * 6, *ugs]])
    r = validate.validate_tree(tree)
    assert r.ok(), r.format()


def test_stale_aggregate(tree):
    """The CSV from an earlier run: values, a participant without summaries, one without a row."""
    _summaries(tree, {C0: MEANS, CLIPS[1]: MEANS})
    ugs = ["60.000", "120.000", "110.000", "0.400", "0.100", "1.100"]
    _estimation(tree, [["PA000", "58.000", *ugs[1:], *[""] * 6], ["PA009", *ugs, *[""] * 6]])
    r = validate.validate_tree(tree)
    _one(r, naming.ESTIMATION_CSV, "1 value(s) disagree with the per-clip summaries", "PA000 Step_UGS = 58, summaries give 60.000", "stale table")
    _one(r, "participant PA009 has a row but no gait summary")
    _one(r, "participant PA001 has gait summaries but no row")


def test_foreign_files_in_layout(tree):
    """``.snakemake_timestamp`` markers and other hidden or stray files are reported."""
    (naming.silhouette_dir(tree, C0) / ".snakemake_timestamp").touch()
    (naming.flow_dir(tree, C0, "TVL1") / ".DS_Store").touch()
    (naming.segmentation_dir(tree, C0) / "notes.txt").write_text("x")
    r = validate.validate_tree(tree)
    lvl = validate.FOREIGN_FILE_LEVEL
    _one(r, "NW-WJ_1_YOLOV8/.snakemake_timestamp", "foreign file in the Health&Gait layout (Snakemake's directory() completion marker)", level=lvl)
    _one(r, "TVL1/NW-WJ_1/.DS_Store", "foreign file in the Health&Gait layout (a hidden file)", level=lvl)
    _one(r, "NW-WJ_1_DensePose/notes.txt", "wrong extension '.txt'")


def test_lock_of_a_running_workflow_is_reported(tree):
    from gaitprep import lock

    lock.acquire(tree)
    try:
        r = validate.validate_tree(tree)
        _one(r, ".gaitprep.lock", "a gaitprep run holds this tree", "the tree may be incomplete", level="warning")
    finally:
        assert lock.release(tree)
