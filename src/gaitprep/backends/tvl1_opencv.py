"""Flow backend ``tvl1-opencv``: OpenCV contrib's ``cv2.optflow.DualTVL1OpticalFlow``.

Zach, Pock & Bischof, "A Duality Based Approach for Realtime TV-L1 Optical Flow" (DAGM
2007), as implemented in opencv_contrib ``optflow`` (Sánchez Pérez et al., IPOL 2013).
Computed on grayscale frames. ``scale < 1`` computes flow on frames downscaled by that
factor (``cv2.INTER_AREA``) and upsamples the field bilinearly to the source size,
multiplying vectors by ``1/scale``: much faster (about ``1/scale^2``), coarser detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import BackendUnavailableError
from ..results import FlowResult, Frame
from .base import FlowBackend


@dataclass
class TVL1Params:
    """OpenCV DualTVL1 parameters (defaults are OpenCV's own).

    Attributes:
        tau: time step of the numerical scheme.
        lambda_: data-term weight (smaller = smoother flow).
        theta: coupling between the two variables of the dual scheme.
        nscales: pyramid levels.
        warps: warpings per level.
        epsilon: stopping threshold of the inner iterations.
        inner_iterations, outer_iterations: iteration counts.
        scale_step: pyramid downscale factor between levels.
        gamma: weight of the illumination-variation term (0: off).
        median_filtering: median filter size applied to the flow after each warp.
        scale: compute flow at this fraction of the source size (1.0 = full resolution).
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
    scale: float = 1.0

    def __post_init__(self):
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """Upsample a ``(h, w, 2)`` flow field to ``(height, width, 2)``, scaling vectors (px)."""
    h, w = flow.shape[:2]
    out = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= width / w
    out[..., 1] *= height / h
    return out


class TVL1OpenCVBackend(FlowBackend):
    """Flow backend ``tvl1-opencv`` (CPU)."""

    name = "tvl1-opencv"
    method = "TVL1"
    Params = TVL1Params

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        if not hasattr(cv2, "optflow"):
            raise BackendUnavailableError(
                f"cv2 {cv2.__version__} at {cv2.__file__} has no optflow module: another opencv wheel "
                "overwrote opencv-contrib-python; run: pip install --force-reinstall 'opencv-contrib-python<4.14'"
            )
        p = self.params
        self.tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=p.tau, lambda_=p.lambda_, theta=p.theta, nscales=p.nscales, warps=p.warps, epsilon=p.epsilon,
            innnerIterations=p.inner_iterations, outerIterations=p.outer_iterations, scaleStep=p.scale_step,
            gamma=p.gamma, medianFiltering=p.median_filtering,
        )  # fmt: skip

    def _gray(self, img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if self.params.scale != 1.0:
            h, w = g.shape
            size = (max(8, round(w * self.params.scale)), max(8, round(h * self.params.scale)))
            g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        return g

    def run(self, frames: Iterable[Frame]) -> Iterator[FlowResult]:
        prev = None
        for f in frames:
            g = self._gray(f.image)
            if prev is not None:
                flow = self.tvl1.calc(prev[1], g, None)
                if self.params.scale != 1.0:
                    h, w = f.image.shape[:2]
                    flow = resize_flow(flow, w, h)
                yield FlowResult(prev[0], flow)
            prev = (f.index, g)

    def provenance(self) -> dict:
        return {**super().provenance(), "model": f"OpenCV {cv2.__version__} optflow.DualTVL1OpticalFlow"}
