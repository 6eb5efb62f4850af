"""Sample-sheet sanity beyond its syntax: frame ranges against the videos, videos used twice,
clip numbers against the walking direction.

:func:`check_samples` runs at parse time (``workflow/rules/common.smk``, also for
``--dry-run``): an ``end_frame`` past the end of its video is an error (or, with the config
switch ``end_frame_past_end: warn``, a warning naming the length); the same video file under
two clips is a warning. :func:`direction_warnings` runs after the jobs (in the run report):
the Health&Gait convention is that clip 1 walks right-to-left across the image and clip 2
left-to-right (``shared/spec/healthgait.md``, "clip"); a clip whose detected walking
direction contradicts its number is a warning (the sheet may have swapped the clips, or the
camera was on the other side).

Warnings are dicts ``{"clip", "job", "message"}`` as in ``run_report.json``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from .errors import InputError, VideoError
from .healthgait import naming

#: the walking direction each clip number has in Health&Gait
CLIP_DIRECTION = {"1": "right-to-left", "2": "left-to-right"}
#: net pelvis travel (fraction of the frame width) below which the pose gives no direction
MIN_TRAVEL = 0.10
SHEET_WARNINGS_FILE = "sheet_warnings.json"


def check_frame_ranges(samples: Iterable, past_end: str = "error") -> tuple[list[str], list[dict]]:
    """``end_frame`` / ``start_frame`` against the frame count the container reports.

    Args:
        samples: :class:`gaitprep.samples.Sample` objects.
        past_end: ``"error"`` or ``"warn"``: what an ``end_frame`` past the video's end is.

    Returns:
        ``(errors, warnings)``: error strings, warning dicts. A ``start_frame`` at or past
        the end is always an error (nothing to process). Videos that cannot be opened are
        left to the jobs (they fail naming the file).
    """
    if past_end not in ("error", "warn"):
        raise InputError(f"config: end_frame_past_end must be 'error' or 'warn', not {past_end!r}")
    from .video import probe

    errors, warnings = [], []
    for s in samples:
        if getattr(s, "problem", None) or (s.end_frame is None and s.start_frame is None):
            continue
        try:
            n = probe(s.path).frame_count
        except VideoError:
            continue
        if s.start_frame is not None and s.start_frame >= n:
            errors.append(f"{s.key}: start_frame {s.start_frame} is past the end of {s.path} ({n} frames, 0..{n - 1})")
            continue
        if s.end_frame is not None and s.end_frame > n:
            msg = (f"{s.key}: end_frame {s.end_frame} is past the end of {s.path}, which has {n} frames "
                   f"(the container's count; end_frame is exclusive, at most {n})")  # fmt: skip
            if past_end == "error":
                errors.append(msg + "; fix the sheet, or set end_frame_past_end: warn to process the clip to the video's end")
            else:
                warnings.append({"clip": s.key, "job": "sheet", "message": msg + f"; the clip is processed to frame {n - 1}"})
    return errors, warnings


def duplicate_videos(samples: Iterable) -> list[dict]:
    """The same video file (resolved path) listed for more than one clip."""
    by_path = defaultdict(list)
    for s in samples:
        try:
            by_path[str(Path(s.path).resolve())].append(s)
        except OSError:
            continue
    out = []
    for path, ss in sorted(by_path.items()):
        if len(ss) < 2:
            continue
        keys = [s.key for s in ss]
        ranges = {(s.start_frame, s.end_frame) for s in ss}
        same = " over the same frames" if len(ranges) == 1 else ""
        pids = sorted({s.clip.participant for s in ss})
        who = f" (participants {', '.join(pids)})" if len(pids) > 1 else ""
        for s in ss:
            out.append({"clip": s.key, "job": "sheet",
                        "message": f"video {path} is used by {len(ss)} clips{same}{who}: {', '.join(keys)}"})  # fmt: skip
    return out


def check_samples(samples: Iterable, past_end: str = "error", quiet: bool = False) -> list[dict]:
    """Parse-time sanity of the samples; returns the warnings (also printed unless ``quiet``).

    Raises:
        InputError: listing every ``end_frame``/``start_frame`` past the end of its video
            (``end_frame`` only with ``past_end="error"``).
    """
    samples = list(samples)
    errors, warnings = check_frame_ranges(samples, past_end)
    if errors:
        raise InputError(f"sample sheet: {len(errors)} frame range problem(s):\n  " + "\n  ".join(errors))
    warnings += duplicate_videos(samples)
    if not quiet:
        for w in warnings:
            print(f"gaitprep: warning: {w['message']}", file=sys.stderr)
    return warnings


def write_sheet_warnings(root: str | Path, warnings: list[dict]) -> Path:
    """Keep the parse-time warnings for the run report: ``<root>/logs/sheet_warnings.json``."""
    from .healthgait.writers import write_json_atomic

    p = Path(root) / "logs" / SHEET_WARNINGS_FILE
    p.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(p, list(warnings))
    return p


def read_sheet_warnings(root: str | Path) -> list[dict]:
    try:
        d = json.loads((Path(root) / "logs" / SHEET_WARNINGS_FILE).read_text())
        return [w for w in d if isinstance(w, dict) and "message" in w]
    except (OSError, ValueError, TypeError):
        return []


# --------------------------------------------------------------------------- walking direction


def _summary_direction(path: Path) -> Optional[tuple[str, str]]:
    """``(direction, evidence)`` from a gait summary's passes (most frames wins), or None."""
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    frames = defaultdict(int)
    for p in s.get("passes") or []:
        if p.get("direction") in CLIP_DIRECTION.values():
            frames[p["direction"]] += int(p.get("end_frame", 0)) - int(p.get("start_frame", 0)) + 1
    if not frames:
        return None
    d = max(frames, key=frames.get)
    if len(frames) > 1 and frames[d] < 2 * min(frames.values()):
        return None  # walks both ways about equally: no single direction
    return d, f"gait summary {path.name}: passes {dict(frames)} frames"


def pose_direction(pose: list, width: Optional[float] = None) -> Optional[tuple[str, str]]:
    """Walking direction from a pose JSON list: the pelvis (mid-hip) x of the first and last
    fifth of the frames with both hips; None when it travels less than :data:`MIN_TRAVEL`
    of the frame width (or 100 px when the width is unknown)."""
    xs = []
    for e in pose:
        j = e.get("joints") or {}
        if "l_hip" in j and "r_hip" in j:
            xs.append((j["l_hip"]["x"] + j["r_hip"]["x"]) / 2)
    if len(xs) < 10:
        return None
    k = max(2, len(xs) // 5)
    a, b = float(np.median(xs[:k])), float(np.median(xs[-k:]))
    if abs(b - a) < (MIN_TRAVEL * width if width else 100.0):
        return None
    return ("left-to-right" if b > a else "right-to-left"), f"pelvis x {a:.0f} -> {b:.0f} px in the pose JSON"


def direction_warnings(root: str | Path, clips: Iterable[str], widths: Optional[dict] = None) -> list[dict]:
    """Clips whose detected walking direction contradicts their number (see module doc).

    Args:
        root: the tree.
        clips: clip keys ``PA000/UGS/NW-WJ_1``.
        widths: clip key -> frame width px (for the pose fallback's travel threshold).
    """
    root = Path(root)
    out = []
    for key in clips:
        try:
            c = naming.ClipId.from_key(key)
        except ValueError:
            continue
        want = CLIP_DIRECTION.get(c.clip)
        got = _summary_direction(naming.gait_summary_path(root, c))
        if got is None:
            try:
                got = pose_direction(json.loads(naming.pose_path(root, c).read_text()), (widths or {}).get(key))
            except (OSError, ValueError, TypeError, KeyError):
                got = None
        if got and want and got[0] != want:
            out.append({"clip": key, "job": "sheet", "message": (
                f"clip {c.clip} should walk {want} (Health&Gait: clip 1 right-to-left, clip 2 left-to-right), but the "
                f"walker moves {got[0]} ({got[1]}): clip numbers swapped in the sheet, or the camera on the other side?")})  # fmt: skip
    return out
