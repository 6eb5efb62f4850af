"""``gait_parameters_estimation.csv``: one row per participant from the clips' summaries.

Columns are exactly :data:`gaitprep.healthgait.naming.ESTIMATION_COLUMNS`: ``ID`` then, for UGS and
FGS, ``Step`` (cm), ``Stride`` (cm), ``Cadence`` (steps/min), ``MonoSP`` (s, single
support), ``BiSP`` (s, one double-support period), ``Speed`` (m/s). Each value is the
mean over that participant's clips of that gait type of the clip means, NaN clip values
skipped; 3 decimals; an empty cell where a participant has no clip (or no finite value)
of that gait type. A clip mean refused by the quality record (docs/gait_quality.md) is
null in the summary's ``means`` and so skipped like a NaN; its reason is in the summary's
``quality.refused``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import InputError
from ..healthgait.naming import ESTIMATION_COLUMNS, ClipId
from ..healthgait.writers import atomic_path

#: CSV parameter name -> summary ``means`` key
CSV_FROM_SUMMARY = {
    "Step": "step_length_cm",
    "Stride": "stride_length_cm",
    "Cadence": "cadence_steps_per_min",
    "MonoSP": "single_support_s",
    "BiSP": "double_support_s",
    "Speed": "speed_m_per_s",
}


def load_summary(path: str | Path) -> dict:
    """Read one clip summary JSON. Raises InputError (naming the file) when unreadable or without ``clip``/``means``."""
    p = Path(path)
    try:
        s = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{p}: cannot read gait summary ({e})") from e
    if not isinstance(s, dict) or "clip" not in s or "means" not in s:
        raise InputError(f"{p}: not a gait summary (needs 'clip' and 'means')")
    return s


def estimation_table(summaries: Iterable[dict]) -> pd.DataFrame:
    """The participant table (see module docstring) from clip summaries."""
    acc: dict = defaultdict(lambda: defaultdict(list))
    pids = set()
    for s in summaries:
        c = ClipId.from_key(s["clip"])
        pids.add(c.participant)
        for name, key in CSV_FROM_SUMMARY.items():
            v = s["means"].get(key)
            if v is not None and np.isfinite(float(v)):
                acc[c.participant][f"{name}_{c.gait_type}"].append(float(v))
    rows = []
    for pid in sorted(pids):
        row = {"ID": pid}
        for col in ESTIMATION_COLUMNS[1:]:
            vals = acc[pid].get(col, [])
            row[col] = round(float(np.mean(vals)), 3) if vals else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=ESTIMATION_COLUMNS)


def write_estimation_csv(summary_paths: Iterable[str | Path], out: str | Path) -> pd.DataFrame:
    """Read the summaries, build the table and write it atomically (empty cells for NaN)."""
    df = estimation_table(load_summary(p) for p in summary_paths)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False, float_format="%.3f", na_rep="")
    return df
