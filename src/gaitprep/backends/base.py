"""The backend interface: one abstract class per modality, one small module per backend.

A backend is built once per job (model loaded once), then :meth:`Backend.run` streams the
clip's frames through it and yields one result per frame (per frame pair for flow). A
backend batches internally (``batch_size``) and may run on CUDA; it must also run on CPU.

Stages, as in ultralytics' predictor: ``__init__`` (validate params, resolve weights,
load model) -> ``run`` (preprocess -> inference -> postprocess, streamed) -> writing,
which is not the backend's business (:mod:`gaitprep.runner` does it).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator, Optional

from ..errors import InputError
from ..results import FlowResult, Frame, MaskResult, PartsResult, PoseResult
from ..video import VideoInfo


@dataclass
class Context:
    """What every backend gets besides its own params.

    Attributes:
        device: resolved torch device string (``cpu``, ``cuda:0``).
        models_dir: the configured models folder, or None (see :mod:`gaitprep.weights`).
        allow_download: whether libraries may download weights by name.
        video: the clip's :class:`~gaitprep.video.VideoInfo` (size, fps).
        log: a ``logging.Logger`` writing to the job's log.
    """

    device: str = "cpu"
    models_dir: Optional[str] = None
    allow_download: bool = False
    video: Optional[VideoInfo] = None
    log: Any = None
    extra: dict = field(default_factory=dict)


def parse_params(cls, params: Optional[dict], where: str):
    """Build the dataclass ``cls`` from a params dict, rejecting unknown keys by name.

    Raises:
        InputError: on an unknown key (the message lists the valid ones) or a bad value.
    """
    params = dict(params or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - names)
    if unknown:
        raise InputError(f"{where}: unknown parameter(s) {unknown}; valid: {sorted(names)}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: {e}") from e


class Backend(ABC):
    """Base of all backends.

    Subclasses set ``modality`` and ``name``, define a ``Params`` dataclass (every field
    documented), and implement :meth:`run`.
    """

    modality: ClassVar[str]
    name: ClassVar[str]
    #: True when the backend runs a torch model on ``ctx.device`` (it then asks for a GPU)
    uses_gpu: ClassVar[bool] = False

    @dataclass
    class Params:
        pass

    def __init__(self, params: Optional[dict] = None, ctx: Optional[Context] = None):
        self.ctx = ctx or Context()
        self.params = parse_params(self.Params, params, f"{self.modality} backend {self.name!r}")

    @abstractmethod
    def run(self, frames: Iterable[Frame]) -> Iterator:
        """Stream frames (source order) -> results (one per frame; one per pair for flow)."""

    def provenance(self) -> dict:
        """What made the output: backend name, params, model and weights (JSON-serialisable)."""
        return {"backend": self.name, "params": dataclasses.asdict(self.params)}

    def close(self) -> None:
        """Release models and files."""


class PoseBackend(Backend):
    """Yields :class:`~gaitprep.results.PoseResult`, one per input frame."""

    modality = "pose"

    @abstractmethod
    def run(self, frames: Iterable[Frame]) -> Iterator[PoseResult]: ...


class SilhouetteBackend(Backend):
    """Yields :class:`~gaitprep.results.MaskResult`, one per input frame."""

    modality = "silhouette"

    @abstractmethod
    def run(self, frames: Iterable[Frame]) -> Iterator[MaskResult]: ...


class SegmentationBackend(Backend):
    """Yields :class:`~gaitprep.results.PartsResult`, one per input frame."""

    modality = "segmentation"

    @abstractmethod
    def run(self, frames: Iterable[Frame]) -> Iterator[PartsResult]: ...


class FlowBackend(Backend):
    """Yields :class:`~gaitprep.results.FlowResult` for each consecutive pair (N-1 for N frames)."""

    modality = "flow"
    #: the output folder under ``optical_flow/<PID>/<GT>/``: ``TVL1`` or ``GMFLOW``
    method: ClassVar[str]

    @abstractmethod
    def run(self, frames: Iterable[Frame]) -> Iterator[FlowResult]: ...


class BatchedFlowBackend(FlowBackend):
    """A flow backend that solves windows of ``batch_size + 1`` consecutive frames at once
    (``batch_size`` pairs), the last frame of a window starting the next one, so that at
    most ``batch_size + 1`` prepared frames are held. Subclasses set ``self.batch_size`` and
    implement :meth:`_prep` (one BGR frame -> the engine's input) and :meth:`_solve`."""

    batch_size: int = 1

    @abstractmethod
    def _prep(self, image):
        """One ``(H, W, 3)`` uint8 BGR frame -> what :meth:`_solve` stacks."""

    @abstractmethod
    def _solve(self, indices: list[int], items: list, full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        """Flow for the pairs ``(indices[k], indices[k+1])``, at source size ``full_hw``."""

    def run(self, frames: Iterable[Frame]) -> Iterator[FlowResult]:
        idx: list[int] = []
        items: list = []
        full_hw = None
        for f in frames:
            hw = f.image.shape[:2]
            if full_hw is None:
                full_hw = hw
            elif hw != full_hw:
                raise ValueError(f"frame {f.index} is {hw[1]}x{hw[0]}, earlier frames {full_hw[1]}x{full_hw[0]}")
            idx.append(f.index)
            items.append(self._prep(f.image))
            if len(items) == self.batch_size + 1:
                yield from self._solve(idx, items, full_hw)
                idx, items = idx[-1:], items[-1:]  # the last frame starts the next window
        if len(items) >= 2:
            yield from self._solve(idx, items, full_hw)


def upsample_flow(flow, full_hw: tuple[int, int]):
    """Resize a ``(B, 2, h, w)`` torch flow (px) to ``full_hw = (H, W)`` bilinearly and scale
    its vectors, then return it as ``(B, H, W, 2)`` float32 numpy."""
    import numpy as np
    import torch

    h, w = flow.shape[-2:]
    H, W = full_hw
    if (h, w) != (H, W):
        flow = torch.nn.functional.interpolate(flow, size=(H, W), mode="bilinear", align_corners=False)
        flow[:, 0] *= W / w
        flow[:, 1] *= H / h
    return flow.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.float32, copy=False)
