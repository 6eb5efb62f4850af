"""Flow backend ``gmflow``: GMFlow (Xu et al., "GMFlow: Learning Optical Flow via Global
Matching", CVPR 2022) through ptlflow 0.4.2's model zoo.

The network is built with ``ptlflow.get_model(model)`` *without* a checkpoint name (so
ptlflow never tries to download), then the weights are read from a local file found by
:func:`gaitprep.weights.resolve_weights` and loaded with ``load_state_dict(strict=True)``.
Accepted files: ptlflow's checkpoints (``gmflow-things-5a18a9e8.ckpt``, ``{"state_dict":
...}``), the official GMFlow ones (``gmflow_things-e9887eda.pth``, ``{"model": ...}``) or a
bare state dict; both use the same parameter names.

Input normalisation is the model's own (ptlflow ``preprocess_images``): BGR frames scaled to
0..1, ImageNet mean/std, flipped to RGB, padded (replicate, both sides) to a multiple of
the model's output stride (32), and the flow cropped back to the frame size.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import BackendUnavailableError, InputError, WeightsNotFoundError
from ..results import FlowResult
from ..weights import resolve_weights
from .base import BatchedFlowBackend, upsample_flow

#: ptlflow model names this backend accepts
MODELS = ("gmflow", "gmflow_refine")
#: where ptlflow publishes its checkpoints (named in the missing-weights message)
PTLFLOW_RELEASES = "https://github.com/hmorimitsu/ptlflow/releases/download/weights1/"


@dataclass
class GMFlowParams:
    """Parameters of ``gmflow``.

    Attributes:
        model: ptlflow model name: ``gmflow`` (1/8 resolution global matching) or
            ``gmflow_refine`` (plus a 1/4 resolution local refinement).
        checkpoint: weights file name (looked up in ``models_dir``) or path; must match
            ``model``.
        batch_size: frame pairs per forward pass.
        fp16: run under float16 autocast (CUDA only; ignored on CPU).
        scale: compute flow at this fraction of the source size (1.0 = full resolution);
            the field is upsampled bilinearly and vectors multiplied by the size ratio.
    """

    model: str = "gmflow"
    checkpoint: str = "gmflow-things-5a18a9e8.ckpt"
    batch_size: int = 4
    fp16: bool = False
    scale: float = 1.0

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")


def load_state_dict_file(path: str) -> dict:
    """Read a GMFlow checkpoint and return its state dict (prefixes ``module.``/``model.`` removed).

    Raises:
        InputError: the file cannot be read as a torch checkpoint or holds no state dict.
    """
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling error means a bad file
        raise InputError(f"{path}: cannot read GMFlow checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict):
        raise InputError(f"{path}: GMFlow checkpoint is a {type(ckpt).__name__}, expected a dict")
    sd = ckpt.get("state_dict", ckpt.get("model", ckpt))
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InputError(f"{path}: no state dict found (keys {sorted(ckpt)[:8]})")
    out = {}
    for k, v in sd.items():
        for prefix in ("module.", "model."):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        out[k] = v
    return out


class GMFlowBackend(BatchedFlowBackend):
    """Flow backend ``gmflow``: yields one :class:`FlowResult` ``(H, W, 2)`` float32 px per
    consecutive pair, holding at most ``batch_size + 1`` frames at a time.

    Raises:
        WeightsNotFoundError: the checkpoint is not found (the message names it).
        BackendUnavailableError: ptlflow is not installed.
        InputError: the checkpoint does not fit the model.
    """

    name = "gmflow"
    method = "GMFLOW"
    uses_gpu = True
    Params = GMFlowParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        p = self.params
        self.batch_size = int(p.batch_size)
        try:  # never let ptlflow download: the file must be there, whatever allow_download says
            self.weights = resolve_weights(p.checkpoint, self.ctx.models_dir, False, f"GMFlow checkpoint ({p.model})")
        except WeightsNotFoundError as e:
            msg = str(e).split(", or set `allow_download")[0]
            name = Path(p.checkpoint).name
            if name.endswith(".ckpt"):
                msg += f"; ptlflow's checkpoints are at {PTLFLOW_RELEASES}{name}"
            raise WeightsNotFoundError(msg + " (gaitprep never downloads GMFlow weights; see docs/flow.md)") from None
        import torch

        try:
            import ptlflow
        except ImportError as e:
            raise BackendUnavailableError(f"the gmflow backend needs ptlflow: pip install ptlflow==0.4.2 ({e})") from e
        self.torch = torch
        self.device = torch.device(self.ctx.device or "cpu")
        model = ptlflow.get_model(p.model)  # no ckpt_path: nothing is downloaded
        sd = load_state_dict_file(self.weights)
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise InputError(f"{self.weights}: checkpoint does not fit ptlflow model {p.model!r}: {e}") from e
        self.model = model.eval().to(self.device)
        self.fp16 = bool(p.fp16) and self.device.type == "cuda"
        if p.fp16 and not self.fp16 and self.ctx.log is not None:
            self.ctx.log.warning("gmflow: fp16 asked for on %s; running in float32", self.device)

    def _prep(self, img: np.ndarray) -> np.ndarray:
        if self.params.scale != 1.0:
            h, w = img.shape[:2]
            size = (max(32, round(w * self.params.scale)), max(32, round(h * self.params.scale)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        return img

    def _solve(self, indices: list[int], imgs: list[np.ndarray], full_hw: tuple[int, int]) -> Iterator[FlowResult]:
        torch = self.torch
        x = torch.from_numpy(np.stack(imgs)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)  # (N,3,h,w) BGR
        images = torch.stack((x[:-1], x[1:]), dim=1).contiguous()  # (B, 2, 3, h, w)
        amp = torch.autocast("cuda", dtype=torch.float16) if self.fp16 else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            flow = self.model({"images": images})["flows"][:, 0].float()  # (B, 2, h, w)
        h, w = x.shape[-2:]
        if flow.shape[-2:] != (h, w):
            raise RuntimeError(f"GMFlow returned flow of size {tuple(flow.shape[-2:])} for images {(h, w)}")
        out = upsample_flow(flow, full_hw)
        for k, i in enumerate(indices[:-1]):
            yield FlowResult(i, out[k])

    def provenance(self) -> dict:
        return {
            **super().provenance(),
            "model": f"GMFlow via ptlflow ({self.params.model})",
            "weights": self.weights,
            "device": str(self.device),
            "fp16": self.fp16,
        }

    def close(self) -> None:
        self.model = None
