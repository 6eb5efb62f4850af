"""Flow backend ``tvl1-torch``: TV-L1 optical flow in PyTorch, batched, on GPU or CPU.

The engine is :mod:`gaitprep.tvl1` (Zach, Pock & Bischof 2007, as implemented by OpenCV's
``DualTVL1OpticalFlow``, whose defaults and numerical choices it reproduces). Frames are
converted to grey with ``cv2.cvtColor(BGR2GRAY)`` as the ``tvl1-opencv`` backend does;
``batch_size`` consecutive pairs are solved at once on ``ctx.device``. ``scale < 1``
computes flow on frames downscaled by that factor (``cv2.INTER_AREA``) and upsamples the
field bilinearly to the source size, multiplying vectors by the size ratio (~``1/scale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..results import FlowResult, Frame
from .base import FlowBackend


@dataclass
class TVL1TorchParams:
    """Parameters of ``tvl1-torch``; the TV-L1 ones default to OpenCV's (see
    :class:`gaitprep.tvl1.TVL1Params` for their meaning).

    Attributes:
        tau: time step of the primal-dual scheme (<= 0.25).
        lambda_: data-term weight (smaller = smoother flow).
        theta: coupling between ``u`` and the auxiliary ``v``.
        nscales: pyramid levels.
        warps: warpings per level.
        epsilon: stopping threshold (sum of squared flow updates <= epsilon^2 * H * W).
        inner_iterations, outer_iterations: iteration counts (a median filtering per outer one).
        scale_step: size ratio between pyramid levels.
        gamma: illumination term weight; only 0 is supported.
        median_filtering: median filter size applied to the flow (1 off, 3 or 5).
        batch_size: frame pairs solved at once; 0 = auto: 8 on CUDA (GPU memory ~0.1-0.3 GB
            per 960x540 pair), 1 on CPU (where batching does not pay: a batch iterates until
            its slowest pair has converged).
        scale: compute flow at this fraction of the source size (1.0 = full resolution).
        threads: torch intra-op CPU threads when running on CPU (0 = leave torch's setting;
            on a machine whose cores are shared with other jobs, 1 avoids OpenMP spinning).
        compile: fuse the primal-dual iteration with ``torch.compile`` (about 2x faster on
            CPU; the first batch pays a one-off compilation of a minute or two).
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
    batch_size: int = 0
    scale: float = 1.0
    threads: int = 0
    compile: bool = False

    def __post_init__(self):
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")
        if int(self.batch_size) < 0:
            raise ValueError(f"batch_size must be >= 0 (0: auto), got {self.batch_size}")
        if int(self.threads) < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        self.tvl1()  # validates the TV-L1 parameters

    def tvl1(self):
        """The engine's :class:`~gaitprep.tvl1.TVL1Params`."""
        from ..tvl1 import TVL1Params

        return TVL1Params(
            tau=self.tau, lambda_=self.lambda_, theta=self.theta, nscales=self.nscales, warps=self.warps,
            epsilon=self.epsilon, inner_iterations=self.inner_iterations, outer_iterations=self.outer_iterations,
            scale_step=self.scale_step, gamma=self.gamma, median_filtering=self.median_filtering,
        )  # fmt: skip


class TVL1TorchBackend(FlowBackend):
    """Flow backend ``tvl1-torch``: yields one :class:`FlowResult` ``(H, W, 2)`` float32 px per
    consecutive pair, holding at most ``batch_size + 1`` frames (as grey images) at a time."""

    name = "tvl1-torch"
    method = "TVL1"
    uses_gpu = True
    Params = TVL1TorchParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        import torch

        from ..tvl1 import set_cpu_threads

        self.torch = torch
        self.device = torch.device(self.ctx.device or "cpu")
        self.tvl1_params = self.params.tvl1()
        self.batch_size = int(self.params.batch_size) or (8 if self.device.type == "cuda" else 1)
        if self.device.type == "cpu" and self.params.threads:
            set_cpu_threads(self.params.threads)

    def _gray(self, img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if self.params.scale != 1.0:
            h, w = g.shape
            size = (max(8, round(w * self.params.scale)), max(8, round(h * self.params.scale)))
            g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        return g

    def _solve(self, indices: list[int], grays: list[np.ndarray], full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        """Flow for the pairs ``(grays[k], grays[k+1])``, labelled ``indices[k]``."""
        from ..tvl1 import tvl1_flow

        torch = self.torch
        stack = torch.from_numpy(np.stack(grays)).to(self.device, non_blocking=True).float()
        flow = tvl1_flow(stack[:-1], stack[1:], self.tvl1_params, device=self.device, compile=self.params.compile)
        h, w = flow.shape[-2:]
        H, W = full_hw
        if (h, w) != (H, W):
            flow = torch.nn.functional.interpolate(flow, size=(H, W), mode="bilinear", align_corners=False)
            flow[:, 0] *= W / w
            flow[:, 1] *= H / h
        out = flow.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.float32, copy=False)
        for k, i in enumerate(indices[:-1]):
            yield FlowResult(i, out[k])

    def run(self, frames: Iterable[Frame]) -> Iterator[FlowResult]:
        bs = self.batch_size
        idx: list[int] = []
        grays: list[np.ndarray] = []
        full_hw = None
        for f in frames:
            hw = f.image.shape[:2]
            if full_hw is None:
                full_hw = hw
            elif hw != full_hw:
                raise ValueError(f"frame {f.index} is {hw[1]}x{hw[0]}, earlier frames {full_hw[1]}x{full_hw[0]}")
            idx.append(f.index)
            grays.append(self._gray(f.image))
            if len(grays) == bs + 1:
                yield from self._solve(idx, grays, full_hw)
                idx, grays = idx[-1:], grays[-1:]  # the last frame starts the next batch
        if len(grays) >= 2:
            yield from self._solve(idx, grays, full_hw)

    def provenance(self) -> dict:
        return {
            **super().provenance(),
            "model": f"gaitprep.tvl1 (PyTorch {self.torch.__version__}, OpenCV DualTVL1 parity)",
            "device": str(self.device),
            "batch_size": self.batch_size,
        }
