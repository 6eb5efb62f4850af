"""Integration: the whole workflow on the four shared walking videos (../shared/data).

Flow runs at scale 0.25 (TV-L1 on 240x135 frames, field upsampled to 960x540) to keep CI
time sane on 2 cores: full resolution takes ~4-5 s per pair, ~80 min for these 1051 frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gaitprep.healthgait.naming import ClipId, flow_dir, pose_path, provenance_path, segmentation_dir, silhouette_dir
from gaitprep.healthgait.palette import PALETTE_BGR
from gaitprep.samples import load_sheet

from conftest import SAMPLES_TSV, snakemake, write_config

pytestmark = pytest.mark.slow
FRAMES = {"gait_normal_01.mp4": 124, "gait_abnormal_01_slouch_posture.mp4": 140,
          "gait_abnormal_03_concriduction.mp4": 426, "gait_abnormal_06_no_arm_swing.mp4": 361}  # fmt: skip


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared")
    out = d / "tree"
    cfg = write_config(
        d / "config.yaml",
        samples=str(SAMPLES_TSV),
        demo={"enabled": False},
        output_dir=str(out),
        modalities=["pose", "silhouette", "segmentation", "flow"],
        flow={"engines": [{"backend": "tvl1-opencv", "params": {"scale": 0.25}}],
              "coding": {"normalize": "fixed", "max_magnitude": 16.0}},  # fmt: skip
    )
    snakemake("--cores", "2", "--configfile", cfg, cwd=d)
    return d, cfg, out


def _images(folder: Path, ext: str) -> list[Path]:
    return sorted(folder.glob(f"*{ext}"))


def test_tree_names_and_counts(shared_run):
    _, _, out = shared_run
    for s in load_sheet(SAMPLES_TSV):
        c: ClipId = s.clip
        n = FRAMES[s.path.name]
        pose = json.loads(pose_path(out, c).read_text())
        assert [r["frame"] for r in pose] == list(range(n)), c
        with_person = sum(r["joints"] is not None for r in pose)
        print(f"{s.path.name}: pose detection rate {with_person}/{n} = {with_person / n:.1%}")
        assert with_person >= 0.6 * n  # the walker is in view most of the clip
        for modality, folder, ext in (("silhouette", silhouette_dir(out, c), ".jpg"),
                                      ("segmentation", segmentation_dir(out, c), ".png")):  # fmt: skip
            imgs = _images(folder, ext)
            prov = json.loads(provenance_path(out, c, modality).read_text())
            assert len(imgs) == prov["stats"]["frames_with_person"] > 0.5 * n
            assert all(len(p.stem) == 3 and int(p.stem) < n for p in imgs)
            # frames without a person are not written; the modalities agree with pose closely
            assert abs(len(imgs) - with_person) <= 0.1 * n
        flows = _images(flow_dir(out, c, "TVL1"), ".png")
        assert [int(p.stem) for p in flows] == list(range(n - 1))
        assert sorted(p.name for p in out.glob(f"pose/{c.participant}/{c.gait_type}/*")) == [f"{c.stem}_AlphaPose.json"]


def test_images_are_full_frame_and_well_formed(shared_run):
    _, _, out = shared_run
    allowed = {tuple(int(v) for v in c) for c in PALETTE_BGR}
    for s in load_sheet(SAMPLES_TSV):
        c = s.clip
        for p in _images(segmentation_dir(out, c), ".png")[::10]:
            img = cv2.imread(str(p))
            assert img.shape == (540, 960, 3), p
            cols = {tuple(int(v) for v in x) for x in np.unique(img.reshape(-1, 3), axis=0)}
            assert cols <= allowed, (p, cols - allowed)
        for p in _images(silhouette_dir(out, c), ".jpg")[::10]:
            m = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            assert m.shape == (540, 960), p
            off = np.mean((m > 30) & (m < 225))  # JPEG ringing at the edge only
            assert off < 0.005, (p, off)
            assert (m > 127).any()
        for p in _images(flow_dir(out, c, "TVL1"), ".png")[::10]:
            assert cv2.imread(str(p)).shape == (540, 960, 3)


def test_pose_is_plausible(shared_run):
    _, _, out = shared_run
    for s in load_sheet(SAMPLES_TSV):
        pose = json.loads(pose_path(out, s.clip).read_text())
        frames = [r["joints"] for r in pose if r["joints"] is not None]
        for j in frames:
            for name, v in j.items():
                assert 0 <= v["x"] <= 959 and 0 <= v["y"] <= 539, (s.path.name, name, v)
                assert 0 <= v["score"] <= 1
        below = [min(j["l_ankle"]["y"], j["r_ankle"]["y"]) > max(j["l_hip"]["y"], j["r_hip"]["y"]) for j in frames]
        assert np.mean(below) > 0.9, s.path.name


def test_rerun_one_modality_schedules_only_it(shared_run):
    d, cfg, _ = shared_run
    p = snakemake("-n", "silhouette", "--forcerun", "silhouette_clip", "--configfile", cfg, cwd=d)
    jobs = [line.split()[0] for line in p.stdout.splitlines() if line.strip().endswith(("_clip", "_clip 4")) or "_clip " in line]
    stats = p.stdout[p.stdout.index("Job stats"):]
    assert "silhouette_clip        4" in stats.replace("  ", "  ")
    for other in ("pose_clip", "segmentation_clip", "flow_clip", "gait_clip", "synth"):
        assert other not in stats, stats
    # and nothing at all is left to do for the full target
    p = snakemake("-n", "--configfile", cfg, cwd=d)
    assert "Nothing to be done" in p.stdout + p.stderr


def test_missing_video_fails_only_its_clip(shared_run, tmp_path):
    _, _, _ = shared_run
    sheet = tmp_path / "s.tsv"
    rows = SAMPLES_TSV.read_text().splitlines()
    vids = SAMPLES_TSV.parent
    lines = [rows[0]] + [
        "\t".join(r.split("\t")[:4] + [str(vids / r.split("\t")[4])]) for r in rows[1:2]
    ] + ["PA950\tUGS\tNW-WJ\t1\t" + str(tmp_path / "gone.mp4")]
    sheet.write_text("\n".join(lines) + "\n")
    cfg = write_config(tmp_path / "c.yaml", samples=str(sheet), demo={"enabled": False},
                       output_dir=str(tmp_path / "tree"), modalities=["pose"])  # fmt: skip
    strict = snakemake("-n", "--configfile", cfg, cwd=tmp_path, check=False)
    assert strict.returncode != 0 and "gone.mp4 does not exist" in strict.stdout + strict.stderr
    p = snakemake("--cores", "2", "--keep-going", "--configfile", cfg, cwd=tmp_path, check=False)
    assert p.returncode != 0
    log = (tmp_path / "tree/logs/pose_clip/PA950/UGS/NW-WJ_1.log").read_text()
    assert "gone.mp4" in log and "does not exist" in log
    assert (tmp_path / "tree/pose/PA900/UGS/NW-WoJ_2_AlphaPose.json").exists()
    # the good clip: its log holds no MediaPipe start-up noise and ends with the job's summary
    # line, which the console shows too (one line per finished job)
    good = (tmp_path / "tree/logs/pose_clip/PA900/UGS/NW-WoJ_2.log").read_text()
    assert "inference_feedback_manager" not in good and "XNNPACK" not in good, good[-2000:]
    assert good.rstrip().splitlines()[-1].startswith("gaitprep: PA900/UGS/NW-WoJ_2 pose done: 124 frames")
    assert "gaitprep: PA900/UGS/NW-WoJ_2 pose done: 124 frames" in p.stderr
    assert not (tmp_path / "tree/pose/PA950").exists() or not any((tmp_path / "tree/pose/PA950").rglob("*.json"))
