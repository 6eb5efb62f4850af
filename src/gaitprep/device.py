"""Device selection: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``."""

from __future__ import annotations

import re

from .errors import InputError


def resolve_device(device: str = "auto") -> str:
    """Turn the config's ``device`` into a torch device string.

    ``auto`` gives ``cuda:0`` when torch sees a GPU, else ``cpu``. An explicit ``cuda``
    without a visible GPU is an error, not a silent fallback to CPU.

    Raises:
        InputError: on an unknown value or a CUDA device that is not there.
    """
    device = str(device or "auto").strip()
    if device == "cpu":
        return "cpu"
    if device == "auto":
        try:
            import torch

            return "cuda:0" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    m = re.fullmatch(r"cuda(?::(\d+))?", device)
    if not m:
        raise InputError(f"unknown device {device!r} (expected auto, cpu, cuda or cuda:N)")
    import torch

    n = int(m.group(1) or 0)
    if not torch.cuda.is_available() or n >= torch.cuda.device_count():
        raise InputError(f"device {device!r} was asked for but torch sees {torch.cuda.device_count()} CUDA device(s)")
    return f"cuda:{n}"


def is_cuda(device: str) -> bool:
    """True for a ``cuda``/``cuda:N``/``auto``-on-a-GPU-machine device string."""
    return str(device).startswith("cuda")
