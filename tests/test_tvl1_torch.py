"""TV-L1 in PyTorch (gaitprep.flow.tvl1, backend tvl1-torch): building blocks against OpenCV,
parity with cv2.optflow.DualTVL1OpticalFlow on real frames, and the backend's streaming.

The parity test runs at 240x135 (frames downscaled with INTER_AREA) to fit CI on 2 cores;
full-resolution figures come from ``bench/flow_parity.py`` (see docs/flow.md).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import SHARED
from gaitprep.results import Frame
from gaitprep.flow.tvl1 import (
    TVL1Params,
    centered_gradient,
    divergence,
    forward_gradient,
    median_blur,
    pyramid_sizes,
    resize_linear,
    tvl1_flow,
    warp_bicubic,
)

from gaitprep.video import VideoReader  # noqa: E402

VIDEO = SHARED / "data" / "videos" / "gait_normal_01.mp4"


def read_gray(path: Path, start: int, n: int, size=(240, 135)) -> list[np.ndarray]:
    """``n`` grey frames from ``start``, resized to ``size`` (w, h) with INTER_AREA."""
    if not path.is_file():
        pytest.skip(f"test video {path} not found (set GAITPREP_SHARED)")
    out = [
        cv2.resize(cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
        for f in VideoReader(path, start, start + n, prefetch=0)
    ]
    assert len(out) == n, f"{path}: could not read {n} frames from {start}"
    return out


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_defaults_are_opencvs():
    tv = cv2.optflow.DualTVL1OpticalFlow_create()
    p = TVL1Params()
    assert (p.tau, p.lambda_, p.theta, p.epsilon, p.scale_step, p.gamma) == pytest.approx(
        (tv.getTau(), tv.getLambda(), tv.getTheta(), tv.getEpsilon(), tv.getScaleStep(), tv.getGamma())
    )
    assert (p.nscales, p.warps, p.inner_iterations, p.outer_iterations, p.median_filtering) == (
        tv.getScalesNumber(), tv.getWarpingsNumber(), tv.getInnerIterations(), tv.getOuterIterations(),
        tv.getMedianFiltering(),
    )  # fmt: skip
    assert not tv.getUseInitialFlow()


def test_bad_params():
    with pytest.raises(ValueError, match="gamma"):
        TVL1Params(gamma=0.1)
    with pytest.raises(ValueError, match="median"):
        TVL1Params(median_filtering=4)
    with pytest.raises(ValueError, match="same shape"):
        tvl1_flow(np.zeros((1, 20, 20)), np.zeros((1, 20, 21)))


def test_threads_default_one_on_cpu(monkeypatch):
    """``threads`` defaults to 1 (2 threads cost 15x the CPU on shared cores, docs/flow.md);
    0 leaves torch's own setting; the backend applies it on CPU only."""
    from gaitprep.backends import tvl1_torch as mod
    from gaitprep.backends.base import Context
    from gaitprep.flow import tvl1 as engine

    assert mod.TVL1TorchParams().threads == 1
    assert mod.TVL1TorchParams(threads=0).threads == 0
    with pytest.raises(ValueError, match="threads"):
        mod.TVL1TorchParams(threads=-1)
    calls = []
    monkeypatch.setattr(engine, "set_cpu_threads", lambda n=None: calls.append(n) or n)
    mod.TVL1TorchBackend({}, Context(device="cpu"))
    mod.TVL1TorchBackend({"threads": 0}, Context(device="cpu"))
    assert calls == [1]  # the default sets 1 thread; 0 leaves torch alone


def test_resize_matches_opencv(rng):
    img = rng.uniform(0, 255, (37, 53)).astype(np.float32)
    ((h, w), (h2, w2)) = pyramid_sizes(37, 53, 2, 0.8)
    assert (h2, w2) == cv2.resize(img, None, fx=0.8, fy=0.8).shape
    ours = resize_linear(torch.from_numpy(img)[None], (h2, w2), (1 / 0.8, 1 / 0.8))[0].numpy()
    np.testing.assert_allclose(ours, cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR), atol=1e-3)
    up = resize_linear(torch.from_numpy(img)[None], (50, 71))[0].numpy()
    np.testing.assert_allclose(up, cv2.resize(img, (71, 50), interpolation=cv2.INTER_LINEAR), atol=1e-3)


def test_stencils(rng):
    u = torch.from_numpy(rng.normal(size=(2, 9, 11)).astype(np.float32))
    px, py = (torch.from_numpy(rng.normal(size=(2, 9, 11)).astype(np.float32)) for _ in range(2))
    # divergence is minus the adjoint of the forward gradient (for duals that are 0 on the
    # last column / row, as TV-L1's are since the forward gradient is 0 there)
    px[:, :, -1] = 0
    py[:, -1, :] = 0
    ux, uy = forward_gradient(u)
    assert float((ux * px + uy * py).sum()) == pytest.approx(-float((u * divergence(px, py)).sum()), rel=1e-4)
    dx, dy = centered_gradient(u)
    assert float(dx[0, 4, 5]) == pytest.approx(0.5 * float(u[0, 4, 6] - u[0, 4, 4]))
    assert float(dy[0, 0, 5]) == pytest.approx(0.5 * float(u[0, 1, 5] - u[0, 0, 5]))
    med = median_blur(u, 5)[0].numpy()
    np.testing.assert_array_equal(med, cv2.medianBlur(u[0].numpy(), 5))


def test_warp_matches_opencv_remap(rng):
    img = rng.uniform(0, 255, (30, 40)).astype(np.float32)
    u1 = rng.normal(0, 3, (30, 40)).astype(np.float32)
    u2 = rng.normal(0, 3, (30, 40)).astype(np.float32)
    ys, xs = np.mgrid[0:30, 0:40].astype(np.float32)
    ref = cv2.remap(img, xs + u1, ys + u2, cv2.INTER_CUBIC)
    ours = warp_bicubic(torch.from_numpy(img)[None, None], torch.from_numpy(u1)[None], torch.from_numpy(u2)[None])
    np.testing.assert_allclose(ours[0, 0].numpy(), ref, atol=0.05)


@pytest.mark.slow
def test_parity_with_opencv_on_real_frames():
    """3 consecutive pairs of gait_normal_01 (frames 60..63, the walker mid-frame) at
    240x135: mean EPE over the frame <= 0.3 px and over moving pixels (OpenCV |flow| > 0.5
    px) <= 0.5 px."""
    g = read_gray(VIDEO, 60, 4)
    tv = cv2.optflow.DualTVL1OpticalFlow_create()
    ref = np.stack([tv.calc(g[k], g[k + 1], None) for k in range(3)])
    ours = tvl1_flow(np.stack(g[:-1]), np.stack(g[1:])).permute(0, 2, 3, 1).numpy()
    epe = np.linalg.norm(ours - ref, axis=-1)
    moving = np.linalg.norm(ref, axis=-1) > 0.5
    assert moving.sum() > 1000  # the walker moves
    assert epe.mean() <= 0.3, epe.mean()
    assert epe[moving].mean() <= 0.5, epe[moving].mean()


@pytest.mark.slow
def test_backend_streams_batches():
    from gaitprep.backends import get_backend_class
    from gaitprep.backends.base import Context

    cap = cv2.VideoCapture(str(VIDEO)) if VIDEO.is_file() else pytest.skip(f"{VIDEO} not found")
    frames = []
    for i in range(64):
        ok, img = cap.read()
        assert ok
        if i >= 58:
            frames.append(Frame(i, cv2.resize(img, (160, 90), interpolation=cv2.INTER_AREA)))
    cap.release()
    cls = get_backend_class("flow", "tvl1-torch")
    assert cls.method == "TVL1" and cls.uses_gpu
    assert cls({}, Context(device="cpu")).batch_size == 1  # auto: no batching on CPU
    fast = dict(warps=2, outer_iterations=3, nscales=3)  # keep CI quick; parity is tested above
    out = list(cls({"batch_size": 2, **fast}, Context(device="cpu")).run(iter(frames)))
    assert [r.index for r in out] == [58, 59, 60, 61, 62]
    assert all(r.flow.shape == (90, 160, 2) and r.flow.dtype == np.float32 for r in out)
    # batching does not change the result: one pair solved alone gives the same flow
    solo = list(cls({"batch_size": 1, **fast}, Context(device="cpu")).run(iter(frames[2:4])))
    np.testing.assert_allclose(solo[0].flow, out[2].flow, atol=1e-3)
    # scale: computed at half size, returned at full size
    half = list(cls({"batch_size": 8, "scale": 0.5, **fast}, Context(device="cpu")).run(iter(frames[:3])))
    assert [r.index for r in half] == [58, 59] and half[0].flow.shape == (90, 160, 2)


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    """The CUDA path gives the CPU path's flow (same tensor code; float rounding differs)."""
    g = read_gray(VIDEO, 60, 3)
    i0, i1 = np.stack(g[:-1]), np.stack(g[1:])
    cpu = tvl1_flow(i0, i1, device="cpu").numpy()
    gpu = tvl1_flow(i0, i1, device="cuda").cpu().numpy()
    assert np.linalg.norm(cpu - gpu, axis=1).mean() <= 0.05
