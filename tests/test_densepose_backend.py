"""The ``densepose`` backend: its install message without detectron2, and its plumbing
(config/weights resolution, batching, per-frame results) against stand-in detectron2 /
DensePose modules (tests/fixtures/fake_detectron2). Real DensePose inference is only
checked on a workstation with detectron2 installed (docs/paper_models.md).
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gaitprep.backends import get_backend_class
from gaitprep.backends.base import Context
from gaitprep.errors import BackendUnavailableError, GaitprepError, InputError, WeightsNotFoundError
from gaitprep.healthgait.palette import PART_LABEL
from gaitprep.results import Frame

FAKE = Path(__file__).parent / "fixtures" / "fake_detectron2"
HAVE_DETECTRON2 = importlib.util.find_spec("detectron2") is not None


def backend_class():
    return get_backend_class("segmentation", "densepose")


@pytest.mark.skipif(HAVE_DETECTRON2, reason="detectron2 is installed here")
def test_without_detectron2_the_error_says_how_to_install():
    with pytest.raises(BackendUnavailableError) as e:
        backend_class()({})
    msg = str(e.value)
    assert isinstance(e.value, ImportError) and isinstance(e.value, GaitprepError)
    for words in ("detectron2", "--no-build-isolation", "subdirectory=projects/DensePose", "docs/paper_models.md"):
        assert words in msg, words


def test_bad_params_are_rejected_before_importing():
    with pytest.raises(InputError, match="unknown parameter"):
        backend_class()({"weight": "x.pkl"})
    with pytest.raises(InputError, match="batch_size"):
        backend_class()({"batch_size": 0})


@pytest.fixture
def fake_d2(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKE))
    yield
    for name in list(sys.modules):
        if name.split(".")[0] in ("detectron2", "densepose"):
            del sys.modules[name]


@pytest.fixture
def dp_dir(tmp_path):
    d = tmp_path / "DensePose"
    (d / "configs").mkdir(parents=True)
    (d / "configs" / "densepose_rcnn_R_50_FPN_s1x.yaml").write_text(
        "MODEL:\n  DENSEPOSE_ON: true\nINPUT:\n  MIN_SIZE_TEST: 96\n  MAX_SIZE_TEST: 400\n"
    )
    return d


@pytest.fixture
def models(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "model_final_162be9.pkl").write_bytes(b"fake")
    return d


RECTS = {0: (10, 20, 40, 50), 1: (12, 22, 42, 52), 3: (14, 24, 44, 54), 4: (15, 26, 45, 56)}  # y0, x0, y1, x1


def frames(n=5):
    for k in range(n):
        img = np.zeros((60, 80, 3), np.uint8)
        if k in RECTS:
            y0, x0, y1, x1 = RECTS[k]
            img[y0:y1, x0:x1] = 255
        yield Frame(k, img)


def test_runs_batches_and_pastes_the_subject(fake_d2, dp_dir, models, monkeypatch):
    monkeypatch.setenv("GAITPREP_DENSEPOSE_DIR", str(dp_dir))
    from detectron2 import checkpoint, modeling

    modeling.CALLS.clear()
    b = backend_class()({"batch_size": 2}, Context(device="cpu", models_dir=str(models)))
    assert checkpoint.LOADED[-1] == str(models / "model_final_162be9.pkl")
    assert b.cfg.MODEL.DEVICE == "cpu" and b.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.8
    results = []
    for r in b.run(frames()):
        assert not torch.is_inference_mode_enabled()  # the caller never runs in inference mode
        results.append(r)
    # one forward per batch; images resized as DefaultPredictor does (shortest edge 96)
    assert [len(c) for c in modeling.CALLS] == [2, 2, 1]
    assert modeling.CALLS[0][0] == ((3, 96, 128), 60, 80)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert results[2].parts is None
    for r in results:
        if r.parts is None:
            continue
        assert r.parts.shape == (60, 80) and r.parts.dtype == np.uint8
        assert set(np.unique(r.parts)) == {0, PART_LABEL["r_foot"]}
        ys, xs = np.nonzero(r.parts)
        # the fake model's box comes from a bilinear-resized image: within 1 px of the truth
        assert np.abs(np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]) - RECTS[r.index]).max() <= 1
        assert (r.parts > 0)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()
    prov = b.provenance()
    assert prov["config"] == str(dp_dir / "configs" / "densepose_rcnn_R_50_FPN_s1x.yaml")
    assert prov["weights"] == str(models / "model_final_162be9.pkl") and prov["backend"] == "densepose"


def test_config_and_weights_errors(fake_d2, dp_dir, models, tmp_path, monkeypatch):
    monkeypatch.delenv("GAITPREP_DENSEPOSE_DIR", raising=False)
    monkeypatch.delenv("GAITPREP_MODELS", raising=False)
    cls = backend_class()
    ctx = Context(device="cpu", models_dir=str(models))
    with pytest.raises(InputError, match="densepose_dir"):
        cls({}, ctx)
    with pytest.raises(InputError, match="not found"):
        cls({"densepose_dir": str(tmp_path)}, ctx)
    with pytest.raises(InputError, match="unknown model"):
        cls({"model": "densepose_rcnn_R_50_FPN_s2x", "densepose_dir": str(dp_dir)}, ctx)
    with pytest.raises(WeightsNotFoundError, match="model_final_162be9.pkl"):
        cls({"densepose_dir": str(dp_dir)}, Context(device="cpu"))
    b = cls({"densepose_dir": str(dp_dir)}, Context(device="cpu", allow_download=True))
    assert b.weights_path.startswith("https://dl.fbaipublicfiles.com/densepose/densepose_rcnn_R_50_FPN_s1x/")
    cse = tmp_path / "cse.yaml"
    cse.write_text(
        "MODEL:\n  DENSEPOSE_ON: true\n  ROI_DENSEPOSE_HEAD:\n    PREDICTOR_NAME: DensePoseEmbeddingPredictor\n"
    )
    with pytest.raises(InputError, match="weights"):
        cls({"model": str(cse)}, ctx)
    with pytest.raises(InputError, match="not a DensePose chart"):
        cls({"model": str(cse), "weights": "model_final_162be9.pkl"}, ctx)
    with pytest.raises(InputError, match="does not exist"):
        cls({"model": str(tmp_path / "nope.yaml")}, ctx)
