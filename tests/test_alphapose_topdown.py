"""The ``alphapose-topdown`` backend on AlphaPose's real code (the vendored checkout,
tests/fixtures/alphapose_real.py): FastPose Halpe-26 built by AlphaPose's own builder from
its config, random weights saved as the checkpoint a user downloads and loaded through the
backend; a random YOLOv8n detector made to find "persons". On CPU, on real frames.

The crop is checked against AlphaPose's own ``SimpleTransform.test_transform`` (importable
here only with its compiled ``roi_align`` stubbed, which test_transform does not use) and
the keypoints against AlphaPose's ``heatmap_to_coord_simple`` on the network's heatmaps of
those crops. Random weights give arbitrary keypoints: this checks gaitprep's use of
AlphaPose's code, not pose quality (that needs the released weights: docs/paper_models.md).
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch

from conftest import shared_video
from fixtures.alphapose_real import DETECTOR, HALPE26_CKPT, alphapose_root, random_models_dir, require_alphapose
from gaitprep.backends import get_backend_class
from gaitprep.backends.base import Context
from gaitprep.errors import BackendUnavailableError, InputError
from gaitprep.healthgait.naming import ClipId, pose_path
from gaitprep.results import HALPE26
from gaitprep.runner import JobSpec, run_modality
from gaitprep.subject import MainSubjectTracker
from gaitprep.video import VideoReader

VIDEO = "gait_normal_01.mp4"
FEET = ("l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel")


@pytest.fixture(scope="module")
def real():
    require_alphapose()
    return alphapose_root(), random_models_dir()


def params(root, **kw):
    return {"alphapose_root": str(root), "checkpoint": HALPE26_CKPT, "detector": DETECTOR, "det_imgsz": 320, **kw}


def backend(root, models, **kw):
    return get_backend_class("pose", "alphapose-topdown")(
        params(root, **kw), Context(device="cpu", models_dir=str(models))
    )


@pytest.fixture
def simple_transform(real, monkeypatch):
    """AlphaPose's SimpleTransform, imported with its compiled RoIAlign stubbed (restored afterwards)."""

    class RoIAlign:  # SimpleTransform.__init__ builds one; test_transform never calls it
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            raise AssertionError("the compiled RoIAlign is not used at test time")

    stub = types.ModuleType("alphapose.utils.roi_align")
    stub.RoIAlign = RoIAlign
    monkeypatch.setitem(sys.modules, "alphapose.utils.roi_align", stub)
    for name in [n for n in sys.modules if n.startswith("alphapose.utils.presets")]:
        monkeypatch.delitem(sys.modules, name)
    from alphapose.utils.presets.simple_transform import SimpleTransform

    return SimpleTransform


@pytest.mark.slow
def test_halpe26_on_real_frames_matches_alphapose_code(real, simple_transform):
    from alphapose.utils.transforms import heatmap_to_coord_simple

    root, models = real
    b = backend(root, models, batch_size=2)
    assert b.num_joints == 26 and b.input_hw == (256, 192) and b.heatmap_hw == (64, 48)
    saved = torch.load(models / HALPE26_CKPT, weights_only=True)
    state = b.model.state_dict()
    assert set(saved) == set(state) and all(torch.equal(state[k], v) for k, v in saved.items())

    # AlphaPose's own transform, built as its DetectionLoader builds it for inference
    cfg = b.cfg
    st = simple_transform(
        types.SimpleNamespace(joint_pairs=[]), scale_factor=0, add_dpg=False, input_size=cfg.DATA_PRESET.IMAGE_SIZE,
        output_size=cfg.DATA_PRESET.HEATMAP_SIZE, rot=0, sigma=cfg.DATA_PRESET.SIGMA, train=False,
    )  # fmt: skip
    frames = list(VideoReader(shared_video(VIDEO), start=40, end=43, prefetch=0))
    rgb = np.ascontiguousarray(frames[0].image[:, :, ::-1])
    for box in ([300.5, 80.25, 420.75, 500.0], [-20.0, 10.0, 100.0, 300.0], [900.0, 400.0, 1000.0, 560.0]):
        ours, ours_box = b.crop(rgb, box)
        ref, ref_box = st.test_transform(rgb, box)
        assert torch.equal(ours, ref) and np.allclose(ours_box, ref_box, rtol=0, atol=0), box

    calls = []
    predict = b.detector.predict

    def recording_predict(images):
        out = predict(images)
        calls.append(out)
        return out

    b.detector.predict = recording_predict
    results = list(b.run(frames))
    assert [r.index for r in results] == [40, 41, 42]
    assert [len(c) for c in calls] == [2, 1]  # one detector call (and one SPPE pass) per batch

    # the reference: the tracker's box per frame, AlphaPose's crop, the network, AlphaPose's decoding
    tracker = MainSubjectTracker(min_iou=b.params.min_iou, min_score=b.params.det_conf)
    dets = [r for c in calls for r in c]
    n_kp = 0
    batches = [[0, 1], [2]]
    for idx in batches:
        crops, boxes, chosen = [], [], []
        for i in idx:
            xyxy = dets[i].boxes.xyxy.float().numpy()
            assert len(xyxy) > 0  # the random detector was made to find persons
            k = tracker.select(xyxy, dets[i].boxes.conf.float().numpy())
            chosen.append(xyxy[k])
            t, cb = st.test_transform(np.ascontiguousarray(frames[i].image[:, :, ::-1]), xyxy[k])
            crops.append(t)
            boxes.append(cb)
        with torch.inference_mode():
            hm = b.model(torch.stack(crops))
        for j, i in enumerate(idx):
            coords, scores = heatmap_to_coord_simple(hm[j], boxes[j])
            joints = results[i].joints
            assert list(joints) == list(HALPE26) and all(f in joints for f in FEET)
            got = np.array([[joints[n].x, joints[n].y] for n in HALPE26])
            ref = np.asarray(coords, float)
            h, w = frames[i].image.shape[:2]
            inside = (ref[:, 0] >= 0) & (ref[:, 0] <= w - 1) & (ref[:, 1] >= 0) & (ref[:, 1] <= h - 1)
            # identical in the frame; a keypoint AlphaPose decodes outside it (its crop may extend
            # past the image) is clipped to the border with score 0, as BlazePose's are
            assert np.array_equal(got[inside], ref[inside])
            assert np.array_equal(got[~inside], np.clip(ref[~inside], 0, [w - 1, h - 1]))
            ref_scores = np.where(inside, np.clip(scores[:, 0], 0, 1), 0.0)
            assert np.allclose([joints[n].score for n in HALPE26], ref_scores)
            n_out = getattr(test_halpe26_on_real_frames_matches_alphapose_code, "n_out", 0) + int((~inside).sum())
            test_halpe26_on_real_frames_matches_alphapose_code.n_out = n_out
            assert np.allclose(results[i].box, chosen[j])
            n_kp += len(HALPE26)
    print(
        f"\nalphapose-topdown vs AlphaPose's test_transform + heatmap_to_coord_simple: 3 frames, {n_kp} keypoints "
        f"identical ({getattr(test_halpe26_on_real_frames_matches_alphapose_code, 'n_out', 0)} of them decoded outside "
        "the frame: clipped, score 0)"
    )
    prov = b.provenance()
    assert (
        prov["keypoints_per_person"] == 26 and prov["sppe"] == "FastPose" and prov["checkpoint"].endswith(HALPE26_CKPT)
    )


@pytest.mark.slow
def test_pose_json_carries_heels_and_toes(real, tmp_path):
    root, models = real
    spec = JobSpec(backend="alphapose-topdown", params=params(root, batch_size=4), device="cpu",
                   models_dir=str(models), progress=False)  # fmt: skip
    clip = ClipId("PA900", "UGS", "NW-WoJ", "2")
    out_root = tmp_path / "out"
    rec = run_modality("pose", clip, shared_video(VIDEO), out_root, spec, start=10, end=15)
    data = json.loads(pose_path(out_root, clip).read_text())
    assert [d["frame"] for d in data] == list(range(10, 15))
    for d in data:
        assert d["joints"] is not None and set(FEET) <= set(d["joints"]) and len(d["joints"]) == 26
        for f in FEET:
            j = d["joints"][f]
            assert np.isfinite([j["x"], j["y"]]).all() and 0.0 <= j["score"] <= 1.0
    assert rec["backend"] == "alphapose-topdown" and rec["keypoints_per_person"] == 26


def test_errors_name_what_is_wrong(real, tmp_path):
    root, models = real
    cls = get_backend_class("pose", "alphapose-topdown")
    ctx = Context(device="cpu", models_dir=str(models))
    with pytest.raises(InputError, match="not an AlphaPose checkout"):
        cls(params(tmp_path), ctx)
    with pytest.raises(InputError, match="config .* not found"):
        cls(params(root, cfg="configs/nope.yaml"), ctx)
    # the Halpe-26 checkpoint does not fit the COCO-17 network (17 heatmaps)
    with pytest.raises(InputError, match="not a checkpoint of the network"):
        cls(params(root, cfg="configs/coco/resnet/256x192_res50_lr1e-3_1x.yaml"), ctx)
    with pytest.raises(InputError, match="batch_size"):
        cls(params(root, batch_size=0), ctx)


def test_missing_easydict_gives_the_install_hint(real, monkeypatch):
    root, models = real
    for name in [n for n in sys.modules if n == "alphapose" or n.startswith("alphapose.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "easydict", None)
    with pytest.raises(BackendUnavailableError, match="pip install easydict"):
        backend(root, models)
