"""Flow backend ``tvl1-torch``: TV-L1 optical flow in PyTorch, batched, on GPU or CPU.

The engine is :mod:`gaitprep.flow.tvl1` (Zach, Pock & Bischof 2007, as implemented by OpenCV's
``DualTVL1OpticalFlow``, whose defaults and numerical choices it reproduces). Frames are
converted to grey with ``cv2.cvtColor(BGR2GRAY)`` as the ``tvl1-opencv`` backend does;
``batch_size`` consecutive pairs are solved at once on ``ctx.device``. ``scale < 1``
computes flow on frames downscaled by that factor (``cv2.INTER_AREA``) and upsamples the
field bilinearly to the source size, multiplying vectors by the size ratio (~``1/scale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..results import FlowResult
from ..flow.tvl1_params import TVL1BackendSettings, gray_at_scale
from .base import BatchedFlowBackend, upsample_flow


@dataclass
class TVL1TorchParams(TVL1BackendSettings):
    """Parameters of ``tvl1-torch``: the TV-L1 ones (OpenCV's defaults, see
    :class:`gaitprep.flow.tvl1_params.TVL1Settings`), ``scale``, and:

    Attributes:
        batch_size: frame pairs solved at once; 0 = auto: 8 on CUDA (GPU memory ~0.1-0.3 GB
            per 960x540 pair), 1 on CPU (where batching does not pay: a batch iterates until
            its slowest pair has converged).
        threads: torch intra-op CPU threads when running on CPU; default 1 (docs/flow.md
            measured 2 threads costing 15x the CPU of 1 on cores shared with other jobs:
            OpenMP threads spin); 0 = leave torch's own setting (all the cores it sees or
            ``OMP_NUM_THREADS``). Ignored on CUDA.
        compile: fuse the primal-dual iteration with ``torch.compile`` (about 2x faster on
            CPU; the first batch pays a one-off compilation of a minute or two).
    """

    batch_size: int = 0
    threads: int = 1
    compile: bool = False

    def __post_init__(self):
        super().__post_init__()
        if int(self.batch_size) < 0:
            raise ValueError(f"batch_size must be >= 0 (0: auto), got {self.batch_size}")
        if int(self.threads) < 0:
            raise ValueError(f"threads must be >= 0 (0: torch's own setting), got {self.threads}")
        self.tvl1()  # validates the engine's own constraints (gamma = 0)

    def tvl1(self):
        """The engine's :class:`~gaitprep.flow.tvl1.TVL1Params`."""
        from ..flow.tvl1 import TVL1Params

        return TVL1Params(**self.tvl1_fields())


class TVL1TorchBackend(BatchedFlowBackend):
    """Flow backend ``tvl1-torch``: yields one :class:`FlowResult` ``(H, W, 2)`` float32 px per
    consecutive pair, holding at most ``batch_size + 1`` frames (as grey images) at a time."""

    name = "tvl1-torch"
    method = "TVL1"
    uses_gpu = True
    Params = TVL1TorchParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        import torch

        from ..flow.tvl1 import set_cpu_threads

        self.torch = torch
        self.device = torch.device(self.ctx.device or "cpu")
        self.tvl1_params = self.params.tvl1()
        self.batch_size = int(self.params.batch_size) or (8 if self.device.type == "cuda" else 1)
        if self.device.type == "cpu" and self.params.threads:
            set_cpu_threads(self.params.threads)

    def _prep(self, img: np.ndarray) -> np.ndarray:
        return gray_at_scale(img, self.params.scale)

    def _solve(self, indices: list[int], grays: list[np.ndarray], full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        """Flow for the pairs ``(grays[k], grays[k+1])``, labelled ``indices[k]``."""
        from ..flow.tvl1 import tvl1_flow

        torch = self.torch
        stack = torch.from_numpy(np.stack(grays)).to(self.device, non_blocking=True).float()
        flow = tvl1_flow(stack[:-1], stack[1:], self.tvl1_params, device=self.device, compile=self.params.compile)
        out = upsample_flow(flow, full_hw)
        for k, i in enumerate(indices[:-1]):
            yield FlowResult(i, out[k])

    def provenance(self) -> dict:
        return {
            **super().provenance(),
            "model": f"gaitprep.flow.tvl1 (PyTorch {self.torch.__version__}, OpenCV DualTVL1 parity)",
            "device": str(self.device),
            "batch_size": self.batch_size,
        }
