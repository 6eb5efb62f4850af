"""The shared BlazePose intermediate and the tree-reading pose-parts backend, on synthetic
data with known truth (fast, no model)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gaitprep.backends.blazepose_cache import IntermediateReader, IntermediateWriter, quantise, threshold
from gaitprep.backends.pose_parts import PosePartsBackend, assign_parts, joints_to_landmarks
from gaitprep.errors import GaitprepError
from gaitprep.healthgait.naming import ClipId, pose_path, provenance_path, segmentation_dir, silhouette_dir
from gaitprep.healthgait.palette import PART_LABEL
from gaitprep.runner import JobSpec, run_modality


def test_threshold_of_quantised_mask_is_exact_on_the_1_256_grid():
    rng = np.random.default_rng(0)
    p = rng.random((200, 300), dtype=np.float32)
    p[:5] = 0.5  # exactly at the default threshold
    p[5:10] = np.float32(0.5) + np.float32(1e-7)
    q = quantise(p)
    for t in (0.5, 0.25, 0.75, 1 / 256, 255 / 256):
        assert np.array_equal(threshold(q, t), p > t), t
    # off the grid: only pixels within 1/256 of the threshold may differ
    t = 0.3
    bad = threshold(q, t) != (p > t)
    assert np.all(np.abs(p[bad] - t) <= 1 / 256)


def test_intermediate_roundtrip(tmp_path):
    h, w = 60, 80
    lm = np.random.default_rng(1).random((33, 4), dtype=np.float32) * 50
    soft = np.zeros((h, w), np.float32)
    soft[10:30, 20:50] = 0.9
    soft[12, 22] = 0.5
    iw = IntermediateWriter(tmp_path / "x.npz")
    iw.add(0, None, None)
    iw.add(1, lm, soft)
    iw.add(3, lm, np.zeros((h, w), np.float32))
    iw.close({"clip": "PA000/UGS/NW-WJ_1", "video": {"width": w, "height": h}, "frames_decoded": 3, "frames_skipped": [2]})
    r = IntermediateReader(tmp_path / "x.npz")
    frames = list(r.frames())
    assert [f[0] for f in frames] == [0, 1, 3]
    assert frames[0][1] is None and frames[0][2] is None
    assert np.array_equal(frames[1][1], lm) and np.array_equal(threshold(frames[1][2], 0.5), soft > 0.5)
    assert frames[2][2] is None  # an empty mask is not stored
    assert np.load(tmp_path / "x.npz")["landmarks"].shape == (3, 33, 4)  # a plain .npz too


def test_intermediate_of_another_clip_or_format_is_refused(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GaitprepError, match="bad.npz: not a readable BlazePose intermediate"):
        IntermediateReader(tmp_path / "bad.npz")
    iw = IntermediateWriter(tmp_path / "x.npz")
    iw.close({"clip": "PA001/UGS/NW-WJ_1", "video": {"width": 8, "height": 8}, "frames_decoded": 0, "frames_skipped": [],
              "params": {"model_complexity": 1}})  # fmt: skip
    spec = JobSpec(backend="blazepose-mask", intermediate=str(tmp_path / "x.npz"), progress=False)
    with pytest.raises(GaitprepError, match="intermediate of clip PA001/UGS/NW-WJ_1, not PA000/UGS/NW-WJ_1"):
        run_modality("silhouette", ClipId.from_key("PA000/UGS/NW-WJ_1"), "v.mp4", tmp_path / "t", spec)
    assert not (tmp_path / "t" / "silhouette").exists() or not any((tmp_path / "t" / "silhouette").rglob("*"))


def _stick(cx=100.0, top=20.0) -> dict:
    """A standing stick figure (px), spec joint names, COCO-17 + feet."""
    J = {"nose": (cx + 8, top), "l_eye": (cx + 6, top - 3), "r_eye": (cx + 6, top - 3), "l_ear": (cx, top), "r_ear": (cx, top),
         "l_shoulder": (cx, top + 30), "r_shoulder": (cx, top + 30), "l_elbow": (cx, top + 60), "r_elbow": (cx, top + 60),
         "l_wrist": (cx, top + 85), "r_wrist": (cx, top + 85), "l_hip": (cx, top + 95), "r_hip": (cx, top + 95),
         "l_knee": (cx, top + 140), "r_knee": (cx, top + 140), "l_ankle": (cx, top + 185), "r_ankle": (cx, top + 185),
         "l_heel": (cx - 5, top + 190), "r_heel": (cx - 5, top + 190), "l_big_toe": (cx + 20, top + 192), "r_big_toe": (cx + 20, top + 192)}  # fmt: skip
    return {k: {"x": x, "y": y, "score": 0.9} for k, (x, y) in J.items()}


def test_parts_from_pose_joints_known_truth():
    h, w = 240, 200
    joints = _stick()
    mask = np.zeros((h, w), bool)
    mask[15:215, 85:125] = True
    parts = assign_parts(mask, joints_to_landmarks(joints))
    assert parts[20, 105] == PART_LABEL["head"]
    assert parts[80, 100] == PART_LABEL["torso"]
    assert parts[210, 120] in (PART_LABEL["l_foot"], PART_LABEL["r_foot"])
    assert parts[180, 100] in (PART_LABEL["l_lower_leg"], PART_LABEL["r_lower_leg"])
    assert (parts[~mask] == 0).all() and (parts[mask] > 0).all()
    # COCO-17 only (no heels, toes): no foot segment, the pixels go to the lower leg
    coco = {k: v for k, v in joints.items() if "heel" not in k and "toe" not in k}
    p2 = assign_parts(mask, joints_to_landmarks(coco))
    assert not np.isin(p2, [PART_LABEL["l_foot"], PART_LABEL["r_foot"]]).any()
    assert p2[210, 120] in (PART_LABEL["l_lower_leg"], PART_LABEL["r_lower_leg"])


def _assign_parts_reference(mask, lm):
    """assign_parts as first written (over the whole mask, one temporary per operation): the
    optimised one must give the same labels, bit for bit."""
    from gaitprep.backends.pose_parts import SEGMENTS

    out = np.zeros(mask.shape, np.uint8)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return out
    px, py = xs.astype(np.float32), ys.astype(np.float32)

    def point(ref):
        return lm[list(ref if isinstance(ref, tuple) else (ref,)), :2].mean(axis=0)

    torso = float(np.linalg.norm(point((11, 12)) - point((23, 24)))) or 1.0
    a = np.stack([point(s[1]) for s in SEGMENTS]).astype(np.float32)
    b = np.stack([point(s[2]) for s in SEGMENTS]).astype(np.float32)
    r = np.array([s[3] for s in SEGMENTS], np.float32) * torso
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if not np.isfinite(torso):
        ok[:] = False
    if not ok.any():
        return out
    keep = np.nonzero(ok)[0]
    a, b, r = a[keep], b[keep], r[keep]
    ab = b - a
    denom = np.maximum((ab**2).sum(1), 1e-6)
    best = np.full(len(px), np.inf, np.float32)
    arg = np.zeros(len(px), np.intp)
    for k in range(len(keep)):
        dx, dy = px - a[k, 0], py - a[k, 1]
        t = np.clip((dx * ab[k, 0] + dy * ab[k, 1]) / denom[k], 0.0, 1.0)
        dx -= t * ab[k, 0]
        dy -= t * ab[k, 1]
        cost = np.sqrt(dx * dx + dy * dy) - r[k]
        better = cost < best
        best[better] = cost[better]
        arg[better] = k
    out[ys, xs] = np.array([PART_LABEL[SEGMENTS[k][0]] for k in keep], np.uint8)[arg]
    return out


def test_assign_parts_matches_the_reference_bit_for_bit():
    rng = np.random.default_rng(3)
    h, w = 240, 200
    for trial in range(12):
        joints = _stick(cx=float(rng.uniform(60, 140)), top=float(rng.uniform(5, 40)))
        joints = {k: {**v, "x": v["x"] + float(rng.normal(0, 6)), "y": v["y"] + float(rng.normal(0, 6))} for k, v in joints.items()}
        if trial % 3 == 1:  # joints missing: their segments are left out
            for k in rng.choice(sorted(joints), 4, replace=False):
                joints.pop(k)
        lm = joints_to_landmarks(joints)
        mask = np.zeros((h, w), bool)
        y0, x0 = rng.integers(0, 60), rng.integers(0, 80)
        mask[y0 : y0 + rng.integers(20, 180), x0 : x0 + rng.integers(10, 120)] = True
        mask &= rng.random((h, w)) > 0.2
        for lmv in (lm, lm.astype(np.float64)):
            assert np.array_equal(assign_parts(mask, lmv), _assign_parts_reference(mask, lmv)), trial
    assert not assign_parts(np.zeros((h, w), bool), lm).any()
    assert not assign_parts(np.ones((h, w), bool), np.full((33, 2), np.nan, np.float32)).any()


def test_pose_parts_job_reads_the_tree(tmp_path):
    """`gaitprep run segmentation` with pose-parts: no video, frames = pose frames with a
    silhouette; a missing silhouette folder is an error naming it, nothing written."""
    c = ClipId.from_key("PA000/UGS/NW-WJ_1")
    root = tmp_path / "t"
    spec = JobSpec(backend="pose-parts", progress=False)
    with pytest.raises(GaitprepError, match="reads the clip's pose: .* does not exist"):
        run_modality("segmentation", c, "none.mp4", root, spec)
    h, w = 240, 200
    pose_path(root, c).parent.mkdir(parents=True)
    pose_path(root, c).write_text(json.dumps([{"frame": 0, "joints": _stick()}, {"frame": 1, "joints": None}, {"frame": 2, "joints": _stick(110)}]))
    for m in ("pose", "silhouette"):
        provenance_path(root, c, m).parent.mkdir(parents=True, exist_ok=True)
        provenance_path(root, c, m).write_text(json.dumps({"video": {"width": w, "height": h, "fps": 30.0}, "stats": {"frames_decoded": 3, "frames_skipped": []}}))
    with pytest.raises(GaitprepError, match="silhouette: .*_YOLOV8 does not exist"):
        run_modality("segmentation", c, "none.mp4", root, spec)
    sd = silhouette_dir(root, c)
    sd.mkdir(parents=True)
    m = np.zeros((h, w), np.uint8)
    m[15:215, 85:125] = 255
    cv2.imwrite(str(sd / "000.jpg"), m)
    rec = run_modality("segmentation", c, "none.mp4", root, spec)
    assert sorted(p.name for p in segmentation_dir(root, c).iterdir()) == ["000.png"]
    assert rec["stats"]["frames"] == 3 and rec["stats"]["frames_with_person"] == 1
    assert rec["video"]["width"] == w and rec["source"]["silhouette"] == str(sd)
    with pytest.raises(GaitprepError, match="unknown parameter"):
        run_modality("segmentation", c, "none.mp4", root, JobSpec(backend="pose-parts", params={"mask_threshold": 0.5}))
    assert not segmentation_dir(root, c).exists() and not provenance_path(root, c, "segmentation").exists()


def test_cpu_backend_job_does_not_import_torch(tmp_path):
    """A pose-parts job (and any CPU-only backend on device auto) never imports torch."""
    import subprocess
    import sys

    code = ("import sys; from gaitprep.runner import _resolve_device; "
            "assert _resolve_device('blazepose', 'auto') == 'cpu'; assert 'torch' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)
    assert PosePartsBackend.reads == ("pose", "silhouette")


def test_intermediate_bytes_do_not_depend_on_when_it_was_written(tmp_path, monkeypatch):
    """Same frames, written at two different clock times: the same bytes (a cluster run and a
    local run of a clip must compare equal, tests/test_slurm.py)."""
    import time
    import zipfile

    rng = np.random.default_rng(0)
    lm = rng.uniform(0, 50, (33, 4)).astype(np.float32)
    soft = np.zeros((40, 60), np.float32)
    soft[10:30, 20:40] = rng.uniform(0.2, 1.0, (20, 20))
    out = []
    for i, year in enumerate((2001, 2031)):
        monkeypatch.setattr(zipfile.time, "localtime", lambda *a, y=year: time.struct_time((y, 5, 6, 7, 8, 9, 0, 1, 0)))
        iw = IntermediateWriter(tmp_path / f"{i}.npz")
        iw.add(3, lm, soft)
        iw.add(4, None, None)
        iw.close({"clip": "PA000/UGS/NW-WoJ_1"})
        out.append((tmp_path / f"{i}.npz").read_bytes())
    assert out[0] == out[1]
