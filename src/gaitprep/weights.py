"""Where model weights are found: one documented search order for every backend.

1. ``name`` is an existing path (absolute, or relative to the working directory): use it.
2. ``<models_dir>/<name>``, where ``models_dir`` is the config's ``models_dir`` or, when
   that is unset, the ``GAITPREP_MODELS`` environment variable.
3. Only when ``allow_download`` is true (config ``allow_download: true``, for users who are
   online): return the bare name and let the library resolve it (e.g. ultralytics
   downloads ``yolov8n-seg.pt`` by name).

Otherwise :class:`~gaitprep.errors.WeightsNotFoundError` is raised at once, naming the
file and the folder to put it in. gaitprep never hangs on a download and never switches to
another model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .errors import WeightsNotFoundError

ENV_VAR = "GAITPREP_MODELS"


def models_dir(configured: Optional[str] = None) -> Optional[Path]:
    """The models folder: the configured one, else ``$GAITPREP_MODELS``, else ``None``."""
    d = configured or os.environ.get(ENV_VAR)
    return Path(d).expanduser() if d else None


def resolve_weights(
    name: str,
    models_dir_cfg: Optional[str] = None,
    allow_download: bool = False,
    what: str = "model weights",
) -> str:
    """Find a weights file by path or name (search order in the module docstring).

    Args:
        name: a path or a file name such as ``yolov8x-seg.pt``.
        models_dir_cfg: the config's ``models_dir`` (may be ``None``).
        allow_download: return ``name`` unresolved for the library to download.
        what: words for the error message, e.g. ``"YOLOv8 segmentation weights"``.

    Returns:
        An existing file path as a string, or ``name`` itself when downloading is allowed.

    Raises:
        WeightsNotFoundError: not found and downloading not allowed.
    """
    if not name:
        raise WeightsNotFoundError(f"no {what} configured")
    p = Path(name).expanduser()
    if p.is_file():
        return str(p)
    d = models_dir(models_dir_cfg)
    if d is not None and (d / p.name).is_file():
        return str(d / p.name)
    if allow_download:
        return name
    where = (
        f"put it in the models folder {d}"
        if d is not None
        else f"put it in a folder and set `models_dir` in the config or the {ENV_VAR} environment variable to it"
    )
    raise WeightsNotFoundError(
        f"{what} {p.name!r} not found (looked at {p}" + (f" and {d / p.name}" if d is not None else "") + "); "
        f"{where}, or set `allow_download: true` if this machine may download it"
    )
