"""Flow backend ``tvl1-fused``: OpenCV's DualTVL1 with its iteration fused and compiled (CPU).

The engine is :class:`gaitprep.flow.tvl1_fused.FusedTVL1`: OpenCV's own resize, remap and
median filter, and the primal-dual iteration of opencv_contrib ``tvl1flow.cpp`` as one
Numba loop in OpenCV's float32 order of operations. Its flow equals ``tvl1-opencv``'s bit
for bit on the frames measured (tests/test_tvl1_fused.py, docs/flow.md) at ~0.2x of its CPU
time, on one thread. Everything around the solve (grey conversion, ``scale``, the motion
ROI, upsampling) is :class:`~gaitprep.backends.tvl1_opencv.TVL1OpenCVBackend`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..flow.tvl1_params import TVL1BackendSettings
from .tvl1_opencv import TVL1OpenCVBackend


@dataclass
class TVL1FusedParams(TVL1BackendSettings):
    """The parameters of ``tvl1-opencv`` (OpenCV's defaults, ``scale``, ``roi*``), with
    ``gamma`` fixed at 0 (the illumination term is OpenCV's alone)."""

    def __post_init__(self):
        super().__post_init__()
        from ..flow.tvl1_fused import check_settings

        check_settings(self)


class TVL1FusedBackend(TVL1OpenCVBackend):
    """Flow backend ``tvl1-fused`` (CPU, one thread): yields one :class:`FlowResult`
    ``(H, W, 2)`` float32 px per consecutive pair, as ``tvl1-opencv`` does."""

    name = "tvl1-fused"
    method = "TVL1"
    Params = TVL1FusedParams

    def _make_solver(self):
        from ..flow.tvl1_fused import FusedTVL1

        return FusedTVL1(self.params)  # needs no cv2.optflow

    def _calc(self, g0: np.ndarray, g1: np.ndarray, epsilon: float) -> np.ndarray:
        return self.tvl1.calc(g0, g1, epsilon)

    def provenance(self) -> dict:
        import cv2
        import numba

        out = {
            **super().provenance(),
            "model": f"gaitprep.flow.tvl1_fused (Numba {numba.__version__}, OpenCV {cv2.__version__} "
            "resize/remap/medianBlur; OpenCV DualTVL1's iteration)",
            "iterations": self.tvl1.iterations,
        }
        return out
