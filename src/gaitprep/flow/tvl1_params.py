"""TV-L1 parameters shared by the OpenCV and the PyTorch engines (no torch import here).

Zach, Pock & Bischof, "A Duality Based Approach for Realtime TV-L1 Optical Flow" (DAGM 2007);
Sánchez Pérez, Meinhardt-Llopis & Facciolo, "TV-L1 Optical Flow Estimation" (IPOL 2013).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np


@dataclass
class TVL1Settings:
    """TV-L1 parameters; the defaults are OpenCV's (``cv2.optflow.DualTVL1OpticalFlow_create()``
    getters, opencv-contrib 4.13: tau 0.25, lambda 0.15, theta 0.3, nscales 5, warps 5,
    epsilon 0.01, innerIterations 30, outerIterations 10, scaleStep 0.8, gamma 0,
    medianFiltering 5, useInitialFlow false).

    Attributes:
        tau: time step of the primal-dual scheme (stable for tau <= 0.25).
        lambda_: weight of the data (attachment) term; smaller gives smoother flow.
        theta: coupling weight between ``u`` and the auxiliary ``v``; small keeps them close.
        nscales: number of pyramid levels (fewer if a side would drop under 16 px).
        warps: warpings of ``I1`` per level (re-linearisations of the data term).
        epsilon: stopping threshold: iterate while sum |du|^2 > epsilon^2 * H * W.
        inner_iterations: primal-dual iterations between median filterings.
        outer_iterations: median filterings (outer loops) per warp.
        scale_step: size ratio between consecutive pyramid levels (0 < s < 1).
        gamma: weight of the illumination-change term (OpenCV only; the PyTorch engine
            requires 0).
        median_filtering: size of the median filter applied to ``u`` at each outer
            iteration: 1 (off), 3 or 5.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self):
        if not 0 < self.tau <= 0.25:
            raise ValueError(f"tau must be in (0, 0.25], got {self.tau}")
        if self.lambda_ <= 0 or self.theta <= 0:
            raise ValueError(f"lambda and theta must be > 0, got {self.lambda_}, {self.theta}")
        if self.nscales < 1 or self.warps < 1 or self.inner_iterations < 1 or self.outer_iterations < 1:
            raise ValueError("nscales, warps, inner_iterations and outer_iterations must be >= 1")
        if not 0 < self.scale_step < 1:
            raise ValueError(f"scale_step must be in (0, 1), got {self.scale_step}")
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma}")
        if self.median_filtering not in (0, 1, 3, 5):
            raise ValueError(f"median_filtering must be 1 (off), 3 or 5, got {self.median_filtering}")

    def tvl1_fields(self) -> dict:
        """The TV-L1 parameters alone (without a subclass's extra fields)."""
        return {f.name: getattr(self, f.name) for f in fields(TVL1Settings)}


@dataclass
class TVL1BackendSettings(TVL1Settings):
    """TV-L1 parameters plus ``scale`` and the motion ROI (``roi*``, :mod:`gaitprep.flow.roi`).

    Attributes:
        scale: compute flow at this fraction of the source size (1.0 = full resolution),
            then upsample the field and its vectors to the source size.
        roi: solve TV-L1 only on a box around the pixels that change between the two frames
            (after ``scale``), zero flow outside; the full frame when the camera moves, the
            light changes or the box would exceed ``roi_max_share``; zero flow without
            solving when nothing changes (docs/flow.md "Motion ROI").
        roi_margin_px: margin around the changed pixels' box on each side, px at the
            computed size (covers the flow halo TV regularisation spreads around a mover).
        roi_margin_frac: plus this fraction of the box's width (x) / height (y).
        roi_threshold: the least grey-level difference counted as change (floor of the
            threshold taken from the difference image's own noise level).
        roi_max_share: box area above this share of the frame -> the full frame is solved.
        roi_shake_px: an estimated global shift between the frames (camera motion) above
            this, px at the computed size -> the full frame is solved (the moving background
            has flow everywhere).
    """

    scale: float = 1.0
    roi: bool = False
    roi_margin_px: int = 16
    roi_margin_frac: float = 0.1
    roi_threshold: float = 4.0
    roi_max_share: float = 0.6
    roi_shake_px: float = 0.03

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")
        if not isinstance(self.roi, bool):
            raise ValueError(f"roi must be true or false, got {self.roi!r}")
        if self.roi_margin_px < 0 or self.roi_margin_frac < 0:
            raise ValueError(f"roi_margin_px and roi_margin_frac must be >= 0, got {self.roi_margin_px}, {self.roi_margin_frac}")
        if self.roi_threshold <= 0:
            raise ValueError(f"roi_threshold must be > 0 grey levels, got {self.roi_threshold}")
        if not 0.0 < self.roi_max_share <= 1.0:
            raise ValueError(f"roi_max_share must be in (0, 1], got {self.roi_max_share}")
        if self.roi_shake_px < 0:
            raise ValueError(f"roi_shake_px must be >= 0, got {self.roi_shake_px}")

    def roi_settings(self):
        """The :class:`gaitprep.flow.roi.RoiSettings` of these params (their pyramid included)."""
        from .roi import RoiSettings

        return RoiSettings(margin_px=self.roi_margin_px, margin_frac=self.roi_margin_frac, threshold=self.roi_threshold,
                           max_share=self.roi_max_share, shake_px=self.roi_shake_px, nscales=self.nscales,
                           scale_step=self.scale_step)  # fmt: skip


def opencv_dualtvl1(s: TVL1Settings):
    """OpenCV's solver with these parameters: ``cv2.optflow.DualTVL1OpticalFlow`` (contrib).

    Raises:
        AttributeError: this ``cv2`` has no ``optflow`` (another opencv wheel overwrote
            opencv-contrib-python's; the ``tvl1-opencv`` backend turns this into a clear error).
    """
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=s.tau, lambda_=s.lambda_, theta=s.theta, nscales=s.nscales, warps=s.warps, epsilon=s.epsilon,
        innnerIterations=s.inner_iterations, outerIterations=s.outer_iterations, scaleStep=s.scale_step,
        gamma=s.gamma, medianFiltering=s.median_filtering,
    )  # fmt: skip


def gray_at_scale(img: np.ndarray, scale: float) -> np.ndarray:
    """A BGR ``(H, W, 3)`` uint8 frame -> the TV-L1 input: grey ``(h, w)`` uint8, downscaled by
    ``scale`` with ``cv2.INTER_AREA`` when ``scale < 1`` (each side at least 8 px)."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if scale != 1.0:
        h, w = g.shape
        g = cv2.resize(g, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    return g
