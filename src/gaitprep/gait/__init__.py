"""Gait events and spatio-temporal parameters from pose (docs/gait.md).

* :func:`~gaitprep.gait.clip.analyze_clip` - one clip: pose -> events -> per-step table
  and summary (:func:`~gaitprep.gait.clip.write_outputs` writes parquet, JSON, QC PNG);
* :mod:`~gaitprep.gait.preprocess` - masking, glitches, left/right swaps, gaps, 6 Hz
  zero-phase low-pass, walking direction and passes;
* :mod:`~gaitprep.gait.events` - Zeni et al. (2008) heel strike / toe-off with foot-speed
  refinement, and the Health&Gait ankle-distance peaks;
* :mod:`~gaitprep.gait.params` - step/stride/stance/swing/support times, lengths, cadence,
  speed;
* :mod:`~gaitprep.gait.calibration` - px -> cm (px_per_cm, sensor-bar homography, height);
* :mod:`~gaitprep.gait.overrides` - manual event edits;
* :mod:`~gaitprep.gait.aggregate` - ``gait_parameters_estimation.csv``;
* :mod:`~gaitprep.gait.cli` - ``gaitprep gait-clip`` and ``gaitprep gait-aggregate``.
"""

import importlib

#: public name -> submodule; imported on first use so that ``gaitprep`` starts fast
_LAZY = {
    "analyze_clip": "clip", "write_outputs": "clip", "load_pose": "io", "series_from_records": "io",
    "apply_overrides": "overrides", "read_overrides": "overrides",
}  # fmt: skip
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
