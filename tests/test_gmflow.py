"""GMFlow backend offline: a GMFlow with random weights is saved as a checkpoint in a tmp
models folder and loaded through the backend, as a user's run would load real weights."""

from __future__ import annotations

import numpy as np
import pytest

from gaitprep.backends.base import Context
from gaitprep.errors import InputError, WeightsNotFoundError
from gaitprep.results import Frame


def test_missing_checkpoint_names_it(tmp_path):
    from gaitprep.backends.gmflow import GMFlowBackend

    with pytest.raises(WeightsNotFoundError, match="gmflow-things-5a18a9e8.ckpt"):
        GMFlowBackend({}, Context(models_dir=str(tmp_path)))


@pytest.mark.slow
def test_random_weights_through_backend(tmp_path):
    torch = pytest.importorskip("torch")
    ptlflow = pytest.importorskip("ptlflow")
    from gaitprep.backends import get_backend_class

    torch.manual_seed(0)
    sd = ptlflow.get_model("gmflow").state_dict()
    torch.save({"state_dict": sd}, tmp_path / "random-ptlflow.ckpt")  # ptlflow layout
    torch.save({"model": sd}, tmp_path / "random-official.pth")  # official GMFlow layout
    torch.save({"model": {"nope": torch.zeros(1)}}, tmp_path / "bad.pth")

    cls = get_backend_class("flow", "gmflow")
    assert cls.method == "GMFLOW" and cls.uses_gpu
    rng = np.random.default_rng(0)
    # 6 frames of 72x100: not a multiple of the stride (32), so padding and cropping are used
    frames = [Frame(10 + i, rng.integers(0, 256, (72, 100, 3), dtype=np.uint8)) for i in range(6)]
    ctx = Context(device="cpu", models_dir=str(tmp_path))
    for ckpt in ("random-ptlflow.ckpt", "random-official.pth"):
        be = cls({"checkpoint": ckpt, "batch_size": 2}, ctx)
        out = list(be.run(iter(frames)))
        assert [r.index for r in out] == [10, 11, 12, 13, 14]
        assert all(r.flow.shape == (72, 100, 2) and r.flow.dtype == np.float32 for r in out)
        assert all(np.isfinite(r.flow).all() for r in out)
        assert be.provenance()["weights"].endswith(ckpt)
    with pytest.raises(InputError, match="bad.pth"):
        cls({"checkpoint": "bad.pth"}, ctx)


@pytest.mark.slow
def test_cuda_fp16_if_available(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    ptlflow = pytest.importorskip("ptlflow")
    from gaitprep.backends.gmflow import GMFlowBackend

    torch.save({"state_dict": ptlflow.get_model("gmflow").state_dict()}, tmp_path / "r.ckpt")
    frames = [Frame(i, np.full((64, 96, 3), 10 * i, np.uint8)) for i in range(3)]
    be = GMFlowBackend({"checkpoint": "r.ckpt", "fp16": True}, Context(device="cuda:0", models_dir=str(tmp_path)))
    out = list(be.run(iter(frames)))
    assert be.fp16 and len(out) == 2 and out[0].flow.shape == (64, 96, 2) and out[0].flow.dtype == np.float32
