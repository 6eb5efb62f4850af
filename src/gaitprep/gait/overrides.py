"""Manual event overrides: a TSV read before parameters are computed.

Columns: ``clip`` (key ``PA000/UGS/NW-WJ_1``), ``foot`` (``left``/``right``), ``event``
(``HS``/``TO``), ``frame`` (source frame index), ``action`` (``add``/``remove``).
``remove`` deletes the detected event of that foot and kind nearest to ``frame`` (within
:data:`REMOVE_TOLERANCE_S` s, 3 frames at 30 fps); ``add`` inserts one at ``frame``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from ..errors import InputError

OVERRIDE_COLUMNS = ("clip", "foot", "event", "frame", "action")
REMOVE_TOLERANCE_S = 0.1


def read_overrides(path: str | Path) -> pd.DataFrame:
    """Read and validate an overrides TSV.

    Raises:
        InputError: missing file or columns, or a bad foot/event/action/frame value
            (the message names the file and row).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: overrides TSV not found")
    df = pd.read_csv(p, sep="\t", dtype=str, comment="#")
    missing = [c for c in OVERRIDE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{p}: overrides TSV lacks column(s) {missing} (needs {list(OVERRIDE_COLUMNS)})")
    for i, r in df.iterrows():
        where = f"{p} row {i + 2}"
        if r["foot"] not in ("left", "right"):
            raise InputError(f"{where}: foot must be left or right, not {r['foot']!r}")
        if r["event"] not in ("HS", "TO"):
            raise InputError(f"{where}: event must be HS or TO, not {r['event']!r}")
        if r["action"] not in ("add", "remove"):
            raise InputError(f"{where}: action must be add or remove, not {r['action']!r}")
        try:
            float(r["frame"])
        except (TypeError, ValueError):
            raise InputError(f"{where}: frame must be a number, not {r['frame']!r}") from None
    df["frame"] = df["frame"].astype(float)
    return df


def apply_overrides(
    events: list[dict],
    overrides_df: Optional[pd.DataFrame],
    clip_key: str,
    fps: Optional[float] = None,
    pass_of: Optional[Callable[[float], Optional[int]]] = None,
    time_of: Optional[Callable[[float], float]] = None,
) -> tuple[list[dict], list[float], list[str]]:
    """Apply the overrides of one clip to its events.

    Args:
        events: event dicts (:mod:`gaitprep.gait.events`).
        overrides_df: the TSV as read by :func:`read_overrides` (rows of other clips are ignored).
        clip_key: ``PA000/UGS/NW-WJ_1``.
        fps: frames per second, for the added events' ``time`` and the removal tolerance
            (:data:`REMOVE_TOLERANCE_S`; 3 frames when None).
        pass_of: maps a frame to its pass index (added events outside every pass are
            kept with ``pass=None`` and so ignored by the parameters).
        time_of: maps a (fractional) frame to its real time in s, for the added events'
            ``t`` (when None, ``t`` is left out and ``frame / fps`` is used).

    Returns:
        ``(events, edited_frames, notes)``: the new sorted list (added events carry
        ``edited=True``), the frames of all applied edits, and one note per edit that
        could not be applied.
    """
    evs = [dict(e) for e in events]
    edited: list[float] = []
    notes: list[str] = []
    if overrides_df is None or overrides_df.empty:
        return evs, edited, notes
    rows = overrides_df[overrides_df["clip"].astype(str) == clip_key]
    for _, r in rows.iterrows():
        foot, kind, frame = r["foot"], r["event"], float(r["frame"])
        if r["action"] == "remove":
            cands = [e for e in evs if e["foot"] == foot and e["event"] == kind]
            if not cands:
                notes.append(f"override remove {foot} {kind} at {frame:g}: no such event")
                continue
            best = min(cands, key=lambda e: abs(e["frame"] - frame))
            if abs(best["frame"] - frame) > (REMOVE_TOLERANCE_S * fps if fps else 3.0):
                notes.append(f"override remove {foot} {kind} at {frame:g}: nearest event is at {best['frame']:.1f}, not removed")
                continue
            evs.remove(best)
            edited.append(frame)
        else:
            ev = {"foot": foot, "event": kind, "frame": frame, "time": frame / fps if fps else None,
                  "pass": pass_of(frame) if pass_of else None, "edited": True}  # fmt: skip
            if time_of is not None:
                ev["t"] = float(time_of(frame))
            evs.append(ev)
            edited.append(frame)
    return sorted(evs, key=lambda e: e["frame"]), edited, notes
