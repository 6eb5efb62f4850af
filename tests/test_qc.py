"""QC pictures, run summary and event overrides (gaitprep.reporting.qc, workflow/rules/qc.smk).

Fast tests build a tiny synthetic tree; the slow ones run the workflow on a frame range of
the shared video gait_normal_01.mp4 and check the report, the pictures and the overrides.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from gaitprep.reporting import qc
from gaitprep.errors import InputError
from gaitprep.healthgait.naming import ClipId, provenance_path
from gaitprep.healthgait.palette import PALETTE_BGR, PART_LABEL
from gaitprep.results import COCO17

from conftest import REPO, shared_video, snakemake, write_config

CLIP = ClipId.from_key("PA900/UGS/NW-WoJ_2")


# ----------------------------------------------------------------------------- synthetic


def _stick_person(cx: float, w: int, h: int) -> dict:
    """Joints of a standing stick figure centred at x=cx (px), feet at 0.9 h, head at 0.2 h."""
    ys = {"nose": 0.2, "l_eye": 0.19, "r_eye": 0.19, "l_ear": 0.2, "r_ear": 0.2, "l_shoulder": 0.32,
          "r_shoulder": 0.32, "l_elbow": 0.47, "r_elbow": 0.47, "l_wrist": 0.58, "r_wrist": 0.58, "l_hip": 0.58,
          "r_hip": 0.58, "l_knee": 0.74, "r_knee": 0.74, "l_ankle": 0.9, "r_ankle": 0.9}  # fmt: skip
    return {n: {"x": cx + (-6 if n.startswith("l_") else 6 if n.startswith("r_") else 0), "y": ys[n] * h, "score": 0.9}
            for n in COCO17}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory):
    """A 320x180, 12-frame clip: video, pose JSON, silhouettes, part PNGs and flow PNGs."""
    d = tmp_path_factory.mktemp("tiny")
    w, h, n = 320, 180, 12
    video = d / "clip.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    pose, sil, seg, flo = [], d / "sil", d / "seg", d / "TVL1" / "NW-WoJ_2"
    for p in (sil, seg, flo):
        p.mkdir(parents=True)
    for i in range(n):
        img = np.full((h, w, 3), 90, np.uint8)
        cx = 60 + 15 * i
        cv2.rectangle(img, (cx - 12, int(0.15 * h)), (cx + 12, int(0.92 * h)), (200, 180, 160), -1)
        vw.write(img)
        pose.append({"frame": i, "joints": _stick_person(cx, w, h) if i >= 1 else None})
        if i >= 1:
            m = np.zeros((h, w), np.uint8)
            m[int(0.15 * h) : int(0.92 * h), cx - 12 : cx + 12] = 255
            cv2.imwrite(str(sil / f"{i:03d}.jpg"), m)
            parts = np.zeros((h, w, 3), np.uint8)
            parts[int(0.15 * h) : int(0.92 * h), cx - 12 : cx + 12] = PALETTE_BGR[PART_LABEL["torso"]]
            cv2.imwrite(str(seg / f"{i:03d}.png"), parts)
        if i < n - 1:
            f = np.zeros((h, w, 3), np.uint8)
            f[int(0.15 * h) : int(0.92 * h), cx - 12 : cx + 12] = (0, 0, 255)  # BGR red: rightward motion
            cv2.imwrite(str(flo / f"{i:03d}.png"), f)
    vw.release()
    (d / "pose.json").write_text(json.dumps(pose))
    prov = d / "NW-WoJ_2.pose.json"
    prov.write_text(json.dumps({"backend": "blazepose"}))
    return {"dir": d, "video": video, "pose": d / "pose.json", "sil": sil, "seg": seg, "flow": flo, "prov": prov}


def test_montage_layout_colours_and_crop(tiny_tree, tmp_path):
    t = tiny_tree
    out = tmp_path / "m.png"
    shown = qc.make_montage(out, t["video"], pose=t["pose"], silhouette=t["sil"], segmentation=t["seg"],
                            flow=[t["flow"]], provenance=[t["prov"]], n_frames=4, tile_height=200, title="x")  # fmt: skip
    assert len(shown) == 4 and shown == sorted(shown) and shown[0] >= 1  # frames with a person only
    img = cv2.imread(str(out))
    assert img is not None
    # 4 columns of 150 px tiles + margins, 4 rows of 200 px + title and legend
    assert 4 * 150 <= img.shape[1] <= 4 * 150 + 120 and 4 * 200 <= img.shape[0] <= 4 * 200 + 200
    b, g, r = (img[..., k].astype(int) for k in range(3))
    red = (r > 200) & (g < 60) & (b < 60)  # torso (255,0,0 RGB) and rightward flow must stay red
    blue = (b > 200) & (g < 60) & (r < 60)
    assert red.sum() > 5000, "segmentation/flow colours lost (BGR shown as RGB?)"
    assert blue.sum() < red.sum() / 20
    # the crop is around the person: the 24-px wide body covers a good part of each tile
    assert red.sum() / (img.shape[0] * img.shape[1]) > 0.04


def test_montage_missing_folder_is_a_clear_error(tiny_tree, tmp_path):
    with pytest.raises(InputError, match="not found"):
        qc.make_montage(tmp_path / "m.png", tiny_tree["video"], pose=tiny_tree["pose"], silhouette=tmp_path / "nope")


def test_crop_box_and_pick_frames():
    assert qc.pick_frames(list(range(100)), 4) == [12, 37, 62, 87]
    assert qc.pick_frames([3, 5], 4) == [3, 5]
    x0, y0, x1, y1 = qc.crop_box((400, 100, 460, 400), 960, 540)
    assert abs((x1 - x0) / (y1 - y0) - qc.TILE_ASPECT) < 0.01
    assert x0 <= 400 and x1 >= 460 and y0 <= 100 and y1 >= 400 and y0 >= 0 and y1 <= 540
    # a person taller than the frame: the crop is the full height, not more
    assert qc.crop_box((400, 0, 460, 540), 960, 540)[3] - qc.crop_box((400, 0, 460, 540), 960, 540)[1] == 540


def test_summary_rows_and_failure_reasons(tmp_path):
    root = tmp_path / "tree"
    p = provenance_path(root, CLIP, "pose")
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({"backend": "blazepose", "stats": {"frames": 100, "frames_with_person": 80},
                             "timing": {"wall_s": 12.5}}))  # fmt: skip
    log = qc.job_log_path(root, CLIP, "flow", "TVL1")
    log.parent.mkdir(parents=True)
    log.write_text("progress 10%\nTraceback (most recent call last):\n  File x\ngaitprep: error: weights missing: put gmflow.pth in models/\n")
    df = qc.run_summary(root, [CLIP.key], qc.parse_jobs("pose,silhouette,flow:TVL1"))
    r = df.iloc[0]
    assert r["frames"] == 100 and r["frames_with_person"] == 80 and r["detection_rate"] == 0.8
    assert r["wall_s_pose"] == 12.5 and r["failed"] == 2
    assert "flow_TVL1: weights missing: put gmflow.pth in models/" in r["failures"]
    assert "silhouette: not run" in r["failures"]
    qc.write_summary(df, tmp_path / "s.csv", tmp_path / "s.html")
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 1
    assert "detection rate 80.0%" in (tmp_path / "s.html").read_text()
    assert qc.discover_clips(root) == [CLIP.key]


def test_override_rows(tmp_path):
    t = tmp_path / "o.tsv"
    t.write_text("# comment\nclip\tfoot\tevent\tframe\taction\nPA1000/UGS/NW-WJ_1\tleft\tHS\t10\tadd\n"
                 f"{CLIP.key}\tright\tTO\t55\tremove\n{CLIP.key}\tleft\tHS\t70\tadd\n")  # fmt: skip
    assert qc.clip_override_rows(t, CLIP.key) == f"{CLIP.key}\tright\tTO\t55\tremove\n{CLIP.key}\tleft\tHS\t70\tadd\n"
    assert qc.clip_override_rows(t, "PA002/UGS/NW-WJ_1") == ""
    assert qc.clip_override_rows(None, CLIP.key) == ""
    # the shipped file is a header only
    assert qc.clip_override_rows(REPO / "config" / "event_overrides.tsv", CLIP.key) == ""
    t.write_text("clip\tfoot\n")
    with pytest.raises(InputError, match="header"):
        qc.clip_override_rows(t, CLIP.key)


# ----------------------------------------------------------------------------- workflow

VIDEO = "gait_normal_01.mp4"


def _sheet(path: Path, clips: list[tuple[str, int, int]]) -> Path:
    lines = ["participant\tgait_type\twalk_class\tclip\tpath\tstart_frame\tend_frame"]
    for key, start, end in clips:
        c = ClipId.from_key(key)
        lines.append(f"{c.participant}\t{c.gait_type}\t{c.walk_class}\t{c.clip}\t{shared_video(VIDEO)}\t{start}\t{end}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_report_pictures_on_shared_clip(tmp_path):
    """All image modalities on 10 frames of gait_normal_01 -> montage, summary, report."""
    out = tmp_path / "tree"
    cfg = write_config(
        tmp_path / "config.yaml", samples=str(_sheet(tmp_path / "s.tsv", [(CLIP.key, 56, 66)])),
        demo={"enabled": False}, output_dir=str(out), modalities=["pose", "silhouette", "segmentation", "flow", "qc"],
        flow={"engines": [{"backend": "tvl1-opencv", "params": {"scale": 0.25}}],
              "coding": {"normalize": "fixed", "max_magnitude": 16.0}},
    )  # fmt: skip
    snakemake("--cores", "2", "--configfile", cfg, cwd=tmp_path)
    m = cv2.imread(str(out / "qc/montage/PA900/UGS/NW-WoJ_2.png"))
    assert m is not None and m.shape[1] >= 4 * 225 and m.shape[0] >= 4 * 300  # 4 rows x 4 columns of 225x300
    assert m.std() > 30  # not blank
    s = pd.read_csv(out / "qc/run_summary.csv")
    assert list(s["clip"]) == [CLIP.key] and s.loc[0, "frames"] == 10 and s.loc[0, "failed"] == 0
    assert s.loc[0, "detection_rate"] >= 0.9 and s.loc[0, "wall_s_flow_TVL1"] > 0
    snakemake("--configfile", cfg, "--report", tmp_path / "report.zip", cwd=tmp_path)
    z = zipfile.ZipFile(tmp_path / "report.zip")
    names = z.namelist()
    assert any(n.endswith("/NW-WoJ_2.png") for n in names), names  # the montage
    assert any(n.endswith("run_summary.csv") for n in names) and any(n.endswith("run_summary.html") for n in names)
    page = z.read(next(n for n in names if n.endswith("report.html"))).decode()
    assert "modalities montage" in page and "One clip, four evenly spaced frames" in page  # label and caption


def _gait_summary(out: Path, key: str) -> dict:
    c = ClipId.from_key(key)
    return json.loads((out / "gait_steps" / c.participant / c.gait_type / f"{c.stem}.summary.json").read_text())


@pytest.mark.slow
def test_overrides_rerun_only_the_named_clip_and_change_events(tmp_path):
    """Two clips (the same walk); an override for one reruns only its gait job and aggregation."""
    if not (REPO / "src/gaitprep/gait/cli.py").exists():
        pytest.skip("gait rules not merged")
    out = tmp_path / "tree"
    other = "PA901/UGS/NW-WoJ_2"
    ov = tmp_path / "overrides.tsv"
    ov.write_text((REPO / "config" / "event_overrides.tsv").read_text())
    cfg = write_config(
        tmp_path / "config.yaml", samples=str(_sheet(tmp_path / "s.tsv", [(CLIP.key, 28, 124), (other, 28, 124)])),
        demo={"enabled": False}, output_dir=str(out), modalities=["pose", "gait", "qc"],
        gait={"method": "zeni", "calibration": {"default": {"method": "height", "height_cm": 170}},
              "event_overrides": str(ov)},
    )  # fmt: skip
    snakemake("--cores", "2", "--configfile", cfg, cwd=tmp_path)
    before = _gait_summary(out, CLIP.key)
    hs = [e for e in before["events"] if e["event"] == "HS" and e.get("pass") is not None]
    assert len(hs) >= 3, before
    target = hs[len(hs) // 2]  # an inner heel strike
    with ov.open("a") as f:
        f.write(f"{CLIP.key}\t{target['foot']}\tHS\t{round(target['frame'])}\tremove\n")
    dry = snakemake("--configfile", cfg, "-n", cwd=tmp_path).stdout
    jobs = []  # (rule, wildcards line) of every scheduled job
    for block in re.split(r"\n(?=\[.*\]\n)", dry):
        r, w = re.search(r"rule (\w+):", block), re.search(r"wildcards: (.*)", block)
        if r:
            jobs.append((r.group(1), w.group(1) if w else ""))
    scheduled = re.findall(r"^(\w+)\s+(\d+)$", dry.split("Job stats:")[1].split("total")[0], flags=re.M)
    counts = dict((k, int(v)) for k, v in scheduled)
    assert counts.get("split_event_overrides") == 1 and counts.get("gait_clip") == 1, dry
    assert "pose_clip" not in counts, dry
    assert all("PA901" not in w for r, w in jobs if r in ("split_event_overrides", "gait_clip")), jobs
    snakemake("--cores", "2", "--configfile", cfg, cwd=tmp_path)
    after = _gait_summary(out, CLIP.key)
    assert after["n_edited_events"] == 1
    frames_after = [e["frame"] for e in after["events"] if e["event"] == "HS" and e["foot"] == target["foot"]]
    assert all(abs(f - target["frame"]) > 3 for f in frames_after)
    assert after["n_steps"] < before["n_steps"]  # one heel strike fewer: a step lost
    assert _gait_summary(out, other)["n_steps"] == before["n_steps"]  # the other clip is untouched
