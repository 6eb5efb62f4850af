"""The paper's backends through the runner on a real clip: AlphaPose's subprocess path with a
stand-in ``demo_inference.py`` (tests/fixtures/fake_alphapose), DensePose with the real
detectron2 model and random weights (tests/fixtures/densepose_real.py): output paths,
per-frame records, failures leaving nothing.
"""

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_video
from fixtures.densepose_real import FAST_OPTS, block_import, densepose_dir, random_models_dir, require_detectron2
from gaitprep.backends.alphapose import AlphaPoseRunError
from gaitprep.errors import BackendUnavailableError
from gaitprep.healthgait.naming import ClipId, pose_path, provenance_path, segmentation_dir
from gaitprep.healthgait.palette import ALLOWED_RGB
from gaitprep.runner import JobSpec, run_modality

FIXTURES = Path(__file__).parent / "fixtures"
CLIP = ClipId("PA900", "UGS", "NW-WoJ", "2")
VIDEO = "gait_normal_01.mp4"


@pytest.fixture
def alphapose_spec(tmp_path):
    ck = tmp_path / "fast_res50_256x192.pth"
    ck.write_bytes(b"fake")
    params = {"alphapose_root": str(FIXTURES / "fake_alphapose"), "checkpoint": str(ck), "python": sys.executable}
    return JobSpec(backend="alphapose", params=params, device="cpu", progress=False, prefetch=0)


def test_alphapose_pose_json_for_a_frame_range(tmp_path, alphapose_spec):
    root = tmp_path / "out"
    rec = run_modality("pose", CLIP, shared_video(VIDEO), root, alphapose_spec, start=10, end=40)
    out = pose_path(root, CLIP)
    assert out.name == "NW-WoJ_2_AlphaPose.json"
    data = json.loads(out.read_text())
    assert [d["frame"] for d in data] == list(range(10, 40))
    for d in data:
        if d["frame"] % 7 == 3:
            assert d["joints"] is None
        else:
            assert d["joints"]["l_ankle"] == {"x": 5 + 2 * d["frame"] + 1, "y": 21.0, "score": 0.65}
    assert rec["backend"] == "alphapose" and rec["keypoints_per_person"] == 17
    assert rec["stats"]["frames"] == 30 and rec["stats"]["frames_with_person"] == 30 - 5  # 10, 17, 24, 31, 38
    assert json.loads(provenance_path(root, CLIP, "pose").read_text())["checkpoint"].endswith("fast_res50_256x192.pth")


def test_alphapose_failure_leaves_no_output(tmp_path, alphapose_spec, monkeypatch):
    monkeypatch.setenv("FAKE_ALPHAPOSE_MODE", "exit1")
    root = tmp_path / "out"
    with pytest.raises(AlphaPoseRunError, match="exited with status 1"):
        run_modality("pose", CLIP, shared_video(VIDEO), root, alphapose_spec, start=0, end=5)
    assert not pose_path(root, CLIP).exists()


def test_densepose_without_detectron2_fails_the_job_with_the_install_hint(tmp_path, monkeypatch):
    block_import(monkeypatch, "detectron2")  # as if not installed (the real modules are put back afterwards)
    root = tmp_path / "out"
    with pytest.raises(BackendUnavailableError, match="no-build-isolation"):
        run_modality("segmentation", CLIP, shared_video(VIDEO), root, JobSpec(backend="densepose", device="cpu"))
    assert not segmentation_dir(root, CLIP).exists()


@pytest.mark.slow
def test_densepose_pngs_with_the_real_model(tmp_path):
    require_detectron2()
    spec = JobSpec(
        backend="densepose",
        params={"densepose_dir": str(densepose_dir()), "batch_size": 2, "opts": list(FAST_OPTS)},
        device="cpu",
        models_dir=str(random_models_dir()),
        progress=False,
    )
    root = tmp_path / "out"
    rec = run_modality("segmentation", CLIP, shared_video(VIDEO), root, spec, start=3, end=6)
    out = segmentation_dir(root, CLIP)
    assert out.name == "NW-WoJ_2_DensePose"
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"{i:03d}.png" for i in range(3, 6)]
    img = cv2.imread(str(out / files[0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (540, 960, 3)
    colours = {tuple(int(v) for v in c[::-1]) for c in np.unique(img.reshape(-1, 3), axis=0)}
    assert colours <= ALLOWED_RGB and len(colours) > 3  # palette colours only; random heads give several parts
    assert rec["config"].endswith("densepose_rcnn_R_50_FPN_s1x.yaml") and rec["stats"]["frames"] == 3
    assert rec["weights"].endswith("model_final_162be9.pkl")
