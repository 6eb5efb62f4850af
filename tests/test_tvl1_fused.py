"""tvl1-fused (gaitprep.flow.tvl1_fused): OpenCV's DualTVL1 with a fused, compiled iteration.

Its claim is equality with ``cv2.optflow.DualTVL1OpticalFlow`` to the bit, so these tests
compare with ``np.array_equal``: on real frames of the shared videos (at the default's half
size and solver parameters, at full resolution with OpenCV's defaults, and with every
TV-L1 parameter moved off its default), on synthetic images, at sizes where the pyramid
stops early, and through the backend as a flow job runs it (``scale``, motion ROI).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared_video
from gaitprep.backends import FLOW_METHOD, get_backend_class
from gaitprep.backends.base import Context
from gaitprep.errors import InputError
from gaitprep.flow.tvl1_fused import FusedTVL1
from gaitprep.flow.tvl1_params import TVL1Settings, gray_at_scale, opencv_dualtvl1 as opencv
from gaitprep.results import Frame
from gaitprep.video import VideoReader


def frames(name: str, start: int, n: int) -> list[np.ndarray]:
    out = [f.image for f in VideoReader(shared_video(name), start, start + n, prefetch=0)]
    assert len(out) == n
    return out


@pytest.mark.parametrize(
    "video,start,scale,params",
    [
        ("gait_normal_01.mp4", 50, 0.5, {"nscales": 3, "warps": 2}),  # the default config's solve
        ("gait_abnormal_03_concriduction.mp4", 300, 0.5, {"nscales": 3, "warps": 2}),
        ("gait_abnormal_01_slouch_posture.mp4", 110, 0.25, {}),  # OpenCV's own 5 levels, 5 warps
        ("gait_abnormal_06_no_arm_swing.mp4", 60, 0.25,
         {"scale_step": 0.7, "median_filtering": 3, "epsilon": 0.02, "tau": 0.2, "lambda_": 0.3, "theta": 0.5,
          "inner_iterations": 10, "outer_iterations": 3, "nscales": 4, "warps": 3}),
        ("gait_normal_01.mp4", 80, 0.5, {"median_filtering": 1, "scale_step": 0.5, "nscales": 4, "warps": 2}),
    ],
)  # fmt: skip
def test_bit_identical_to_opencv_on_real_frames(video, start, scale, params):
    s = TVL1Settings(**params)
    imgs = frames(video, start, 3)
    eng, ref = FusedTVL1(s), opencv(s)
    for a, b in zip(imgs, imgs[1:]):
        g0, g1 = gray_at_scale(a, scale), gray_at_scale(b, scale)
        got, want = eng.calc(g0, g1), ref.calc(g0, g1, None)
        assert got.dtype == np.float32 and got.shape == want.shape == (*g0.shape, 2)
        assert np.array_equal(got, want), f"max |diff| {np.abs(got - want).max()} px"
        assert np.abs(want).max() > 0.5  # a real motion was solved
    assert eng.iterations > 0


@pytest.mark.slow
def test_bit_identical_at_full_resolution():
    """The Health&Gait config's solve: 960x540, OpenCV's defaults (5 levels, 5 warps)."""
    s = TVL1Settings()
    a, b = frames("gait_normal_01.mp4", 60, 2)
    g0, g1 = gray_at_scale(a, 1.0), gray_at_scale(b, 1.0)
    assert np.array_equal(FusedTVL1(s).calc(g0, g1), opencv(s).calc(g0, g1, None))


@pytest.mark.parametrize("shape", [(3, 3), (17, 23), (15, 40), (64, 48)])
def test_bit_identical_on_synthetic_images_and_small_sizes(shape):
    """A textured square moving by a sub-pixel step; sizes where the pyramid stops early
    (a side under 16 px after one step) or never starts."""
    rng = np.random.default_rng(sum(shape))
    h, w = shape
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (h + 8, w + 8)).astype(np.float32), (0, 0), 1.5)
    i0 = np.clip(tex[4 : 4 + h, 4 : 4 + w], 0, 255).astype(np.uint8)
    m = np.float32([[1, 0, 0.6], [0, 1, -0.3]])
    i1 = cv2.warpAffine(tex, m, (w + 8, h + 8))[4 : 4 + h, 4 : 4 + w].clip(0, 255).astype(np.uint8)
    s = TVL1Settings()
    assert np.array_equal(FusedTVL1(s).calc(i0, i1), opencv(s).calc(i0, i1, None))


def test_rejects_what_it_does_not_compute():
    with pytest.raises(ValueError, match="gamma"):
        FusedTVL1(TVL1Settings(gamma=0.1))
    with pytest.raises(InputError, match="gamma"):
        get_backend_class("flow", "tvl1-fused")({"gamma": 0.1}, Context(device="cpu"))
    eng = FusedTVL1()
    with pytest.raises(ValueError, match="one shape"):
        eng.calc(np.zeros((10, 10), np.uint8), np.zeros((10, 11), np.uint8))
    with pytest.raises(ValueError, match="3 x 3"):
        eng.calc(np.zeros((2, 10), np.uint8), np.zeros((2, 10), np.uint8))


def test_backend_gives_tvl1_opencvs_results():
    """The backend as the flow job runs it: the same FlowResults as tvl1-opencv, with
    ``scale`` and with the motion ROI, in the same TVL1 folder."""
    imgs = frames("gait_normal_01.mp4", 58, 4)
    small = [Frame(58 + k, cv2.resize(im, (240, 136), interpolation=cv2.INTER_AREA)) for k, im in enumerate(imgs)]
    fused, ocv = get_backend_class("flow", "tvl1-fused"), get_backend_class("flow", "tvl1-opencv")
    assert FLOW_METHOD["tvl1-fused"] == FLOW_METHOD["tvl1-opencv"] == "TVL1" and not fused.uses_gpu
    for params in ({"scale": 0.5, "nscales": 3, "warps": 2}, {"roi": True, "nscales": 3, "warps": 2}):
        a = fused(params, Context(device="cpu"))
        b = ocv(params, Context(device="cpu"))
        got, want = list(a.run(iter(small))), list(b.run(iter(small)))
        assert [r.index for r in got] == [r.index for r in want] == [58, 59, 60]
        for g, w in zip(got, want):
            assert g.flow.shape == (136, 240, 2) and np.array_equal(g.flow, w.flow)
        prov = a.provenance()
        assert prov["backend"] == "tvl1-fused" and "Numba" in prov["model"] and prov["iterations"] > 0
        assert ("roi" in prov) == params.get("roi", False)
