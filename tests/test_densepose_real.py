"""The ``densepose`` backend on the real detectron2 DensePose (``densepose_rcnn_R_50_FPN_s1x``
built from the vendored config, random weights: tests/fixtures/densepose_real.py), loaded
through the backend's own code from a models folder, as a user's run loads the released
``model_final_162be9.pkl``; on CPU, on real frames of the shared videos.

The part maps are checked pixel for pixel against DensePose's own
``DensePoseResultExtractor`` (``densepose/vis/extractor.py``) labels, pasted at DensePose's
int box (``make_int_box``) and mapped with the spec's table, for every instance the model
gives, and the backend's frame output against the instance an independent
:class:`~gaitprep.subject.MainSubjectTracker` picks from the same boxes. Random weights
give arbitrary part maps, so this checks gaitprep's handling of DensePose's outputs, not
the quality of the model (that needs the released weights: docs/paper_models.md).

Needs detectron2 + DensePose: skipped without them, failed without them under ``CI=true``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from conftest import shared_video
from fixtures.densepose_real import FAST_OPTS, WEIGHTS, densepose_dir, random_models_dir, require_detectron2
from gaitprep.backends import get_backend_class
from gaitprep.backends.base import Context
from gaitprep.backends.densepose_utils import chart_labels, fine_to_parts, int_box_xywh, paste_labels
from gaitprep.errors import InputError
from gaitprep.healthgait.palette import DENSEPOSE_I_TO_PART
from gaitprep.subject import MainSubjectTracker
from gaitprep.video import VideoReader

#: (video, first frame, number of frames): two clips, 3 frames each, batch_size 2 -> calls of 2 and 1
CLIPS = [("gait_normal_01.mp4", 30, 3), ("gait_abnormal_03_concriduction.mp4", 100, 3)]


@pytest.fixture(scope="module")
def real():
    require_detectron2()
    return densepose_dir(), random_models_dir()


def backend(dp_dir, models, **params):
    params = {"densepose_dir": str(dp_dir), "opts": list(FAST_OPTS), **params}
    return get_backend_class("segmentation", "densepose")(params, Context(device="cpu", models_dir=str(models)))


def frames(video, start, n):
    return list(VideoReader(shared_video(video), start=start, end=start + n, prefetch=0))


def record_forward(b):
    """Wrap the backend's model: keep each call's batch size and outputs (the real ones)."""
    calls = []
    model = b.model

    def forward(inputs):
        out = model(inputs)
        calls.append((len(inputs), out))
        return out

    b.model = forward
    return calls


def paste_reference(labels, box_xywh, hw):
    """Independent paste: ``labels[r, c]`` at frame ``(y + r, x + c)`` where inside the frame."""
    x, y = int(box_xywh[0]), int(box_xywh[1])
    out = np.zeros(hw, np.uint8)
    rows, cols = np.arange(labels.shape[0]) + y, np.arange(labels.shape[1]) + x
    vr, vc = (rows >= 0) & (rows < hw[0]), (cols >= 0) & (cols < hw[1])
    out[np.ix_(rows[vr], cols[vc])] = labels[np.ix_(vr, vc)]
    return out


@pytest.mark.slow
def test_real_model_part_maps_match_densepose_extractor(real):
    from densepose.converters.base import make_int_box
    from densepose.vis.extractor import DensePoseResultExtractor

    dp_dir, models = real
    b = backend(dp_dir, models, batch_size=2)
    # loaded through the backend: the file in models_dir, every tensor of it, on the CPU
    assert b.weights_path == str(models / WEIGHTS) and b.cfg.MODEL.DEVICE == "cpu"
    assert b.cfg.TEST.DETECTIONS_PER_IMAGE == 3 and b.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.8
    with open(models / WEIGHTS, "rb") as f:
        saved = pickle.load(f)["model"]
    state = b.model.state_dict()
    assert set(saved) <= set(state)
    assert all(np.array_equal(state[k].numpy(), v) for k, v in saved.items())
    assert {p.device.type for p in b.model.parameters()} == {"cpu"}

    extractor = DensePoseResultExtractor()
    n_frames = n_inst = n_px = n_diff = n_chosen_px = 0
    for video, start, n in CLIPS:
        clip = frames(video, start, n)
        calls = record_forward(b)
        results = []
        for r in b.run(clip):
            assert not torch.is_inference_mode_enabled()  # the caller never runs in inference mode
            results.append(r)
        assert [c[0] for c in calls] == [2, 1]  # one forward pass per batch
        assert [r.index for r in results] == [f.index for f in clip]
        outputs = [o for _, outs in calls for o in outs]
        tracker = MainSubjectTracker(min_iou=b.params.min_iou, min_score=b.params.min_score)
        for f, r, out in zip(clip, results, outputs):
            hw = f.image.shape[:2]
            inst = out["instances"].to("cpu")
            assert len(inst) == 3 and inst.pred_boxes.tensor.dtype == torch.float32
            data, boxes_xywh = extractor(inst)
            boxes_xyxy = inst.pred_boxes.tensor.numpy()
            ref_full = []
            for i in range(len(inst)):
                ref_box = make_int_box(boxes_xywh[i])
                ref = paste_reference(DENSEPOSE_I_TO_PART[data[i].labels.numpy()], ref_box, hw)
                box = int_box_xywh(boxes_xyxy[i])
                ours = chart_labels(inst.pred_densepose.fine_segm[i], inst.pred_densepose.coarse_segm[i], box)
                mine = paste_labels(fine_to_parts(ours.numpy()), box, hw)
                assert box == tuple(ref_box)
                assert np.array_equal(ours.numpy(), data[i].labels.numpy())  # box-local I labels
                n_px += ref.size
                n_diff += int((mine != ref).sum())
                ref_full.append(ref)
            chosen = tracker.select(boxes_xyxy, inst.scores.numpy())
            assert chosen is not None and r.parts is not None
            assert r.parts.shape == hw and r.parts.dtype == np.uint8
            assert np.array_equal(r.parts, ref_full[chosen])
            assert len(np.unique(r.parts)) > 3  # random heads still give several parts
            n_frames += 1
            n_inst += len(inst)
            n_chosen_px += r.parts.size
    print(
        f"\nDensePose extractor comparison: {n_frames} frames, {n_inst} instances, {n_px} pixels compared "
        f"per instance ({n_chosen_px} in the chosen instances' frame maps), {n_diff} differ"
    )
    assert n_diff == 0
    prov = b.provenance()
    assert prov["weights"] == str(models / WEIGHTS) and prov["detectron2_version"]


@pytest.mark.slow
def test_real_model_nobody_above_min_score_gives_none(real):
    dp_dir, models = real
    b = backend(dp_dir, models, min_score=1.0, batch_size=2)  # random-weight scores are ~0.9997
    results = list(b.run(frames("gait_normal_01.mp4", 0, 2)))
    assert [r.index for r in results] == [0, 1] and all(r.parts is None for r in results)


def test_opts_errors_name_the_key(real, tmp_path):
    dp_dir, _ = real
    (tmp_path / WEIGHTS).write_bytes(b"never loaded: the opts are checked first")
    cases = [
        (["MODEL.NO_SUCH_KEY", 1], "MODEL.NO_SUCH_KEY"),
        (["INPUT.MIN_SIZE_TEST", "big"], "INPUT.MIN_SIZE_TEST 'big'"),
        (["TEST.DETECTIONS_PER_IMAGE", 2.5], "TEST.DETECTIONS_PER_IMAGE '2.5'"),
        (["MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.5], "use min_score"),
        (["MODEL.DEVICE", "cuda"], "MODEL.DEVICE"),
    ]
    for opts, words in cases:
        with pytest.raises(InputError) as e:
            backend(dp_dir, tmp_path, opts=opts)
        assert words in str(e.value), (opts, str(e.value))
        assert "densepose: `opts`" in str(e.value)


def test_config_errors_with_the_real_library(real, tmp_path, monkeypatch):
    dp_dir, _ = real
    monkeypatch.delenv("GAITPREP_DENSEPOSE_DIR", raising=False)
    (tmp_path / WEIGHTS).write_bytes(b"never loaded")
    cls = get_backend_class("segmentation", "densepose")
    ctx = Context(device="cpu", models_dir=str(tmp_path))
    with pytest.raises(InputError, match="densepose_dir"):
        cls({}, ctx)
    with pytest.raises(InputError, match="not found"):
        cls({"densepose_dir": str(tmp_path)}, ctx)
    # a CSE (embedding) config of DensePose's own: no part labels
    cse = dp_dir / "configs" / "cse" / "densepose_rcnn_R_50_FPN_s1x.yaml"
    with pytest.raises(InputError, match="not a DensePose chart"):
        cls({"model": str(cse), "weights": WEIGHTS}, ctx)
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"_BASE_: {dp_dir / 'configs' / 'densepose_rcnn_R_50_FPN_s1x.yaml'}\nMODEL:\n  NO_SUCH_KEY: 1\n")
    with pytest.raises(InputError, match=r"bad\.yaml cannot be read.*NO_SUCH_KEY"):
        cls({"model": str(bad), "weights": WEIGHTS}, ctx)


def test_real_modules_are_back_after_the_blocked_import(real):
    # the import-failure tests (tests/test_densepose_backend.py) block and restore these modules;
    # the fake modules tests once used (with a CALLS attribute) must never be seen here
    import detectron2.modeling

    assert hasattr(detectron2.modeling, "build_model") and not hasattr(detectron2.modeling, "CALLS")
