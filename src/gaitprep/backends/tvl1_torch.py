"""Flow backend ``tvl1-torch``: TV-L1 optical flow in PyTorch, batched, on GPU or CPU.

The engine is :mod:`gaitprep.flow.tvl1` (Zach, Pock & Bischof 2007, as implemented by OpenCV's
``DualTVL1OpticalFlow``, whose defaults and numerical choices it reproduces). Frames are
converted to grey with ``cv2.cvtColor(BGR2GRAY)`` as the ``tvl1-opencv`` backend does;
``batch_size`` consecutive pairs are solved at once on ``ctx.device``. ``scale < 1``
computes flow on frames downscaled by that factor (``cv2.INTER_AREA``) and upsamples the
field bilinearly to the source size, multiplying vectors by the size ratio (~``1/scale``).
``roi: true`` solves only the box around what changes (after ``scale``;
:mod:`gaitprep.flow.roi`), zero flow outside. With ``batch_size > 1`` the pairs of one batch
share one box, the union of their boxes (the full frame if any pair needs it; pairs with no
change get zero flow and are left out of the batch), so that they stack.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from ..flow.roi import STATIC, RoiStats, box_epsilon
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
        self.roi_stats = RoiStats() if self.params.roi else None

    def _prep(self, img: np.ndarray) -> np.ndarray:
        return gray_at_scale(img, self.params.scale)

    def _solve(self, indices: list[int], grays: list[np.ndarray], full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        """Flow for the pairs ``(grays[k], grays[k+1])``, labelled ``indices[k]``."""
        from ..flow.tvl1 import tvl1_flow

        torch = self.torch
        if self.roi_stats is not None:
            yield from self._solve_roi(indices, grays, full_hw)
            return
        stack = torch.from_numpy(np.stack(grays)).to(self.device, non_blocking=True).float()
        flow = tvl1_flow(stack[:-1], stack[1:], self.tvl1_params, device=self.device, compile=self.params.compile)
        out = upsample_flow(flow, full_hw)
        for k, i in enumerate(indices[:-1]):
            yield FlowResult(i, out[k])

    def _solve_roi(self, indices: list[int], grays: list[np.ndarray], full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        """The motion-ROI path: one box per batch, the union of its pairs' boxes."""
        from ..flow.tvl1 import tvl1_flow

        torch = self.torch
        settings = self.params.roi_settings()
        decisions = [settings.decide(grays[k], grays[k + 1]) for k in range(len(grays) - 1)]
        hw = grays[0].shape[:2]
        moving = [k for k, r in enumerate(decisions) if r.box != STATIC]
        if any(r.box is None for r in decisions):
            box = None
        elif moving:
            bs = [decisions[k].box for k in moving]
            box = (min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))
        else:
            box = STATIC
        share = 1.0 if box is None else (box[2] - box[0]) * (box[3] - box[1]) / float(hw[0] * hw[1])
        for r in decisions:  # what was solved for each pair
            if r.box == STATIC or r.box is None:
                self.roi_stats.add(r)
            elif box is None:  # another pair of the batch needs the full frame
                self.roi_stats.add(r._replace(box=None, kind="full", reason="batch", share=1.0))
            else:
                self.roi_stats.add(r._replace(share=share))
        h, w = hw
        field = torch.zeros(len(decisions), 2, h, w, device=self.device)
        if moving:
            x0, y0, x1, y1 = box if box is not None else (0, 0, w, h)
            i0 = np.stack([grays[k][y0:y1, x0:x1] for k in moving])
            i1 = np.stack([grays[k + 1][y0:y1, x0:x1] for k in moving])
            params = replace(self.tvl1_params, epsilon=box_epsilon(self.tvl1_params.epsilon, box, hw))
            f = tvl1_flow(torch.from_numpy(i0).to(self.device).float(), torch.from_numpy(i1).to(self.device).float(),
                          params, device=self.device, compile=self.params.compile)  # fmt: skip
            field[moving, :, y0:y1, x0:x1] = f
        out = upsample_flow(field, full_hw)
        for k, i in enumerate(indices[:-1]):
            yield FlowResult(i, out[k])

    def provenance(self) -> dict:
        return {
            **super().provenance(),
            "model": f"gaitprep.flow.tvl1 (PyTorch {self.torch.__version__}, OpenCV DualTVL1 parity)",
            "device": str(self.device),
            "batch_size": self.batch_size,
            **({"roi": self.roi_stats.summary()} if self.roi_stats is not None else {}),
        }
