"""Motion ROI for TV-L1 (gaitprep.flow.roi; backend param ``roi`` of tvl1-opencv / tvl1-torch).

Fast CPU tests on small synthetic frames, plus one real pair of a shared video downscaled to
keep CI on 2 cores quick. The figures on the four shared videos come from
``bench/flow.py --roi-matrix`` (docs/flow.md "Motion ROI").
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import REPO, shared_video
from gaitprep.backends.base import Context
from gaitprep.backends.tvl1_opencv import TVL1OpenCVBackend
from gaitprep.backends.tvl1_torch import TVL1TorchBackend
from gaitprep.flow.roi import STATIC, RoiSettings, min_side, motion_roi, roi_decision, solve_pair
from gaitprep.results import Frame

FAST = dict(warps=3, outer_iterations=5)  # the same for ROI and full frame; keeps the tests quick


def texture(h: int, w: int, seed: int, sigma: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.float32), (0, 0), sigma)
    return cv2.normalize(t, None, 20, 235, cv2.NORM_MINMAX)


BG = texture(120, 200, 0)
SQUARE = texture(24, 24, 1, 1.0)


def scene(x: float, y: float = 40.0, bg: np.ndarray = BG) -> np.ndarray:
    """The background with the textured square at (x, y) (sub-pixel by warping), uint8 grey."""
    g = bg.copy()
    m = np.float32([[1, 0, x], [0, 1, y]])
    h, w = g.shape
    sq = cv2.warpAffine(SQUARE, m, (w, h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones_like(SQUARE), m, (w, h), flags=cv2.INTER_LINEAR)
    return np.clip(g * (1 - inside) + sq * inside, 0, 255).astype(np.uint8)


def bgr(g: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def epe(a, b, where=None) -> float:
    e = np.linalg.norm(np.asarray(a, np.float64) - b, axis=-1)
    return float(e[where].mean() if where is not None else e.mean())


@pytest.mark.parametrize("cls", [TVL1OpenCVBackend, TVL1TorchBackend])
def test_moving_square_roi_equals_full_frame(cls):
    frames = [Frame(0, bgr(scene(80))), Frame(1, bgr(scene(82.5, 41)))]
    full = next(iter(cls(FAST, Context()).run(iter(frames)))).flow
    be = cls({**FAST, "roi": True}, Context())
    roi = next(iter(be.run(iter(frames)))).flow
    r = be.roi_stats.last
    assert r.kind == "box"
    x0, y0, x1, y1 = r.box
    # the box holds the square in both frames plus the margin (16 px by default)
    assert x0 <= 80 - 16 and x1 >= 82.5 + 24 + 16 and y0 <= 40 - 16 and y1 >= 41 + 24 + 16
    assert r.share < 0.6
    moving = np.linalg.norm(full, axis=-1) > 0.5
    assert moving.sum() > 300
    # TV-L1 is not invariant to the frame's extent: the full frame less one column of
    # background, far from the square, already moves the flow on the square by 0.12-0.21 px
    # (OpenCV, this scene); the box does about as well
    assert epe(roi, full) <= 0.03
    assert epe(roi, full, moving) <= 0.3
    assert np.all(roi[:y0] == 0) and np.all(roi[:, x1:] == 0)  # zero outside the box
    prov = be.provenance()
    assert prov["params"]["roi"] is True and prov["roi"]["pairs"] == 1
    assert prov["roi"]["solved_share_mean"] == pytest.approx(r.share, abs=1e-4)
    assert prov["roi"]["decisions"] == {"box": 1}
    assert "roi" not in cls(FAST, Context()).provenance()  # off: no ROI figures


def test_static_pair_zero_flow_without_tvl1(monkeypatch):
    g = scene(80)
    noisy = np.clip(g + np.random.default_rng(2).normal(0, 1.0, g.shape), 0, 255).astype(np.uint8)  # sensor noise
    assert motion_roi(g, noisy) == STATIC
    calls = []
    flow, r = solve_pair(g, noisy, lambda a, b, e: calls.append(1), 0.01, RoiSettings())
    assert r.kind == "static" and not calls and flow.shape == g.shape + (2,) and not flow.any()
    # the backends: TV-L1 not called, zero flow; and TV-L1 itself gives ~0 there
    be = TVL1OpenCVBackend({**FAST, "roi": True}, Context())
    monkeypatch.setattr(be, "_calc", lambda *a: calls.append(1))
    out = next(iter(be.run(iter([Frame(0, bgr(g)), Frame(1, bgr(noisy))])))).flow
    assert not calls and not out.any() and be.provenance()["roi"]["decisions"] == {"static": 1}
    full = next(iter(TVL1OpenCVBackend(FAST, Context()).run(iter([Frame(0, bgr(g)), Frame(1, bgr(noisy))])))).flow
    assert np.linalg.norm(full, axis=-1).mean() < 0.05
    import gaitprep.flow.tvl1 as engine

    monkeypatch.setattr(engine, "tvl1_flow", lambda *a, **k: calls.append(1))
    tb = TVL1TorchBackend({**FAST, "roi": True}, Context())
    out = next(iter(tb.run(iter([Frame(0, bgr(g)), Frame(1, bgr(noisy))])))).flow
    assert not calls and not out.any()


def test_camera_shake_and_lighting_give_the_full_frame():
    shifted = cv2.warpAffine(BG, np.float32([[1, 0, 0.2], [0, 1, -0.1]]), BG.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    r = roi_decision(BG.astype(np.uint8), shifted.astype(np.uint8))
    assert r.box is None and r.reason == "shake"
    assert np.hypot(*r.shift) == pytest.approx(np.hypot(0.2, 0.1), abs=0.05)
    r = roi_decision(BG.astype(np.uint8), np.clip(BG + 4, 0, 255).astype(np.uint8))
    assert r.box is None and r.reason == "lighting"
    # many movers: the box would exceed max_share
    assert roi_decision(scene(20, 10), scene(150, 80), max_share=0.3).reason == "share"


def test_box_clipped_at_the_borders():
    H, W = BG.shape
    r = roi_decision(scene(-6, -4), scene(-4, -3))  # the square leaves through the top-left corner
    x0, y0, x1, y1 = r.box
    assert (x0, y0) == (0, 0) and x1 <= W and y1 <= H
    r = roi_decision(scene(W - 20, H - 22), scene(W - 18, H - 21))  # bottom-right
    x0, y0, x1, y1 = r.box
    assert (x1, y1) == (W, H) and x0 >= 0 and y0 >= 0
    assert (x1 - x0) % 16 == 0 or x1 - x0 == W  # sides rounded to 16 px unless clipped


def test_tiny_box_grows_to_the_pyramid_minimum():
    bg = texture(200, 300, 3)
    a, b = bg.copy(), bg.copy()
    b[100:103, 150:153] = 255 - b[100:103, 150:153]  # a 3 x 3 change
    side = min_side(5, 0.8)
    assert side == 39  # 39 -> 31 -> 25 -> 20 -> 16: all 5 levels >= 16 px; 38 -> ... -> 15 loses one
    r = roi_decision(a.astype(np.uint8), b.astype(np.uint8), margin_px=0, margin_frac=0.0)
    x0, y0, x1, y1 = r.box
    assert x1 - x0 >= side and y1 - y0 >= side and x0 <= 150 and x1 >= 153 and y0 <= 100 and y1 >= 103
    from gaitprep.flow.tvl1 import pyramid_sizes

    assert len(pyramid_sizes(y1 - y0, x1 - x0, 5, 0.8)) == 5
    for n, step in ((3, 0.5), (5, 0.8), (4, 0.7), (1, 0.8)):  # the smallest side the engine keeps n levels for
        side = min_side(n, step)
        assert (
            len(pyramid_sizes(side, side, n, step)) == n
            and len(pyramid_sizes(side - 1, side - 1, n, step)) < n
            or side == 16
        )


def test_torch_batch_shares_one_box(monkeypatch):
    g = [scene(60), scene(62), scene(64), scene(64)]  # two moving pairs, then a still one
    frames = [Frame(i, bgr(x)) for i, x in enumerate(g)]
    be = TVL1TorchBackend({**FAST, "roi": True, "batch_size": 3}, Context())
    out = [r.flow for r in be.run(iter(frames))]
    assert len(out) == 3 and not out[2].any()
    d = be.provenance()["roi"]
    assert d["decisions"] == {"box": 2, "static": 1} and d["solved_share_max"] < 0.6
    solo = [r.flow for r in TVL1TorchBackend({**FAST, "roi": True, "batch_size": 1}, Context()).run(iter(frames))]
    # the union box is larger than each pair's own: the same flow up to TV-L1's extent sensitivity
    assert epe(out[0], solo[0]) < 0.03 and epe(out[1], solo[1]) < 0.03


def test_roi_params_in_the_config_schema():
    from gaitprep.config import config_problems, fill_defaults, load_schema

    schema = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    for backend in ("tvl1-opencv", "tvl1-torch"):
        ok = {"flow": {"engines": [{"backend": backend, "params": {"scale": 0.5, "roi": True, "roi_margin_px": 8,
                                                                   "roi_margin_frac": 0.2, "roi_threshold": 6,
                                                                   "roi_max_share": 0.5, "roi_shake_px": 0.05}}]}}  # fmt: skip
        assert config_problems(fill_defaults(ok, schema), schema) == []
        bad = {
            "flow": {
                "engines": [{"backend": backend, "params": {"roi": True, "roi_max_share": 1.5, "roi_margn_px": 3}}]
            }
        }
        msg = " ".join(config_problems(fill_defaults(bad, schema), schema))
        assert "roi_margn_px" in msg
        bad["flow"]["engines"][0]["params"].pop("roi_margn_px")
        msg = " ".join(config_problems(fill_defaults(bad, schema), schema))
        assert "roi_max_share must be in (0, 1]" in msg
    assert TVL1OpenCVBackend.Params().roi is False  # the backend's own default


def test_real_pair_within_the_bound():
    """One pair of a shared video (gait_normal_01 60->61, downscaled to 240x136 for CI): its
    hand-held camera moves the background by ~0.1 px, so the ROI test answers "full frame"
    and the flow is the full frame's (docs/flow.md: on the shared videos nearly every pair)."""
    from gaitprep.video import VideoReader

    fr = [Frame(f.index, cv2.resize(f.image, (240, 136), interpolation=cv2.INTER_AREA))
          for f in VideoReader(shared_video("gait_normal_01.mp4"), 60, 62, prefetch=0)]  # fmt: skip
    full = next(iter(TVL1OpenCVBackend({}, Context()).run(iter(fr)))).flow
    be = TVL1OpenCVBackend({"roi": True}, Context())
    roi = next(iter(be.run(iter(fr)))).flow
    r = be.roi_stats.last
    assert r.kind == "full" and r.reason == "shake" and np.hypot(*r.shift) > 0.03, r
    moving = np.linalg.norm(full, axis=-1) > 0.5
    assert moving.sum() > 200
    assert epe(roi, full) <= 0.02 and epe(roi, full, moving) <= 0.1


def test_flow_job_records_the_roi_in_its_provenance(tmp_path):
    """A flow job (the runner, as a workflow rule runs it) with ``roi: true``: the record
    has the setting and the clip's solved-area share."""
    from gaitprep.healthgait.naming import ClipId
    from gaitprep.runner import JobSpec, run_modality

    video = tmp_path / "square.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (BG.shape[1], BG.shape[0]))
    for k in range(4):
        vw.write(bgr(scene(60 + 3 * k)))
    vw.release()
    spec = JobSpec(backend="tvl1-opencv", params={**FAST, "roi": True}, device="cpu", progress=False)
    rec = run_modality("flow", ClipId("PA001", "UGS", "NW-WJ", "1"), video, tmp_path / "tree", spec)
    assert rec["backend"] == "tvl1-opencv" and rec["params"]["roi"] is True  # the backend's provenance, spread
    roi = rec["roi"]
    assert roi["pairs"] == 3 and sum(roi["decisions"].values()) == 3
    assert 0 <= roi["solved_share_mean"] <= roi["solved_share_max"] <= 1
