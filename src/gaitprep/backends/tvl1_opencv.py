"""Flow backend ``tvl1-opencv``: OpenCV contrib's ``cv2.optflow.DualTVL1OpticalFlow``.

Zach, Pock & Bischof, "A Duality Based Approach for Realtime TV-L1 Optical Flow" (DAGM
2007), as implemented in opencv_contrib ``optflow`` (Sánchez Pérez et al., IPOL 2013).
Computed on grayscale frames. ``scale < 1`` computes flow on frames downscaled by that
factor (``cv2.INTER_AREA``) and upsamples the field bilinearly to the source size,
multiplying vectors by ``1/scale``: much faster (about ``1/scale^2``), coarser detail.
``roi: true`` solves each pair only on the box around what changes (after ``scale``;
:mod:`gaitprep.flow.roi`), zero flow outside; the provenance gives the solved-area share.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import BackendUnavailableError
from ..results import FlowResult, Frame
from ..flow.roi import RoiStats, solve_pair
from ..flow.tvl1_params import TVL1BackendSettings, gray_at_scale, opencv_dualtvl1
from .base import FlowBackend


#: OpenCV DualTVL1 parameters (defaults are OpenCV's own) plus ``scale``; see
#: :class:`gaitprep.flow.tvl1_params.TVL1Settings` for each parameter's meaning.
TVL1Params = TVL1BackendSettings


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
        self.tvl1 = self._make_solver()
        self.roi_stats = RoiStats() if self.params.roi else None

    def _make_solver(self):
        """The solver of one pair (``_calc`` calls it); OpenCV's, with this cv2's optflow checked."""
        if not hasattr(cv2, "optflow"):
            raise BackendUnavailableError(
                f"cv2 {cv2.__version__} at {cv2.__file__} has no optflow module: another opencv wheel "
                "overwrote opencv-contrib-python; run: pip install --force-reinstall 'opencv-contrib-python<4.14'"
            )
        return opencv_dualtvl1(self.params)

    def _calc(self, g0: np.ndarray, g1: np.ndarray, epsilon: float) -> np.ndarray:
        self.tvl1.setEpsilon(epsilon)
        return self.tvl1.calc(g0, g1, None)

    def _gray(self, img: np.ndarray) -> np.ndarray:
        return gray_at_scale(img, self.params.scale)

    def run(self, frames: Iterable[Frame]) -> Iterator[FlowResult]:
        prev = None
        for f in frames:
            g = self._gray(f.image)
            if prev is not None:
                if self.roi_stats is not None:
                    flow, _ = solve_pair(prev[1], g, self._calc, self.params.epsilon, self.params.roi_settings(),
                                         self.roi_stats)  # fmt: skip
                else:
                    flow = self._calc(prev[1], g, self.params.epsilon)
                if self.params.scale != 1.0:
                    h, w = f.image.shape[:2]
                    flow = resize_flow(flow, w, h)
                yield FlowResult(prev[0], flow)
            prev = (f.index, g)

    def provenance(self) -> dict:
        out = {**super().provenance(), "model": f"OpenCV {cv2.__version__} optflow.DualTVL1OpticalFlow"}
        if self.roi_stats is not None:
            out["roi"] = self.roi_stats.summary()
        return out
