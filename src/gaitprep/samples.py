"""Inputs: a sample sheet TSV or a folder of videos, validated before any job starts.

Sample sheet: a tab-separated file with a header line. Columns ``participant, gait_type,
walk_class, clip, path`` (``path`` relative to the sheet's folder, absolute, or starting with
``~``) and the optional ``start_frame, end_frame`` (source frame indices, ``end_frame``
exclusive); any other column is an error (a misspelt ``Start_Frame`` would otherwise process
the whole video). Lines whose first character is ``#`` are comments and blank lines are
skipped; a ``#`` anywhere else is part of the value (file names may contain it). Folder
layout: ``<dir>/<PID>/<UGS|FGS>/<walk_class>_<clip>.<mp4|avi|mov|mkv>``.

Every problem is reported at once, each naming the row (or file) and what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from .errors import InputError
from .healthgait.naming import ClipId, validate_clip_fields
from .video import VIDEO_EXTENSIONS

REQUIRED_COLUMNS = ("participant", "gait_type", "walk_class", "clip", "path")
OPTIONAL_COLUMNS = ("start_frame", "end_frame")


@dataclass(frozen=True)
class Sample:
    """One clip to process: its id, video path and optional frame range ``[start, end)``."""

    clip: ClipId
    path: Path
    start_frame: Optional[int] = None
    end_frame: Optional[int] = None
    #: why the video cannot be read (missing, unreadable, bad extension), when the sheet was
    #: loaded with ``strict_files=False``; the clip's jobs then fail with this message
    problem: Optional[str] = None

    @property
    def key(self) -> str:
        return self.clip.key


def _int_or_none(v, what: str, problems: list, where: str) -> Optional[int]:
    if v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() in ("", "NA", "nan"):
        return None
    try:
        i = int(float(v))
        if i < 0 or i != float(v):
            raise ValueError
        return i
    except ValueError:
        problems.append(f"{where}: {what} {v!r} is not a non-negative integer")
        return None


def file_problem(path: Path) -> Optional[str]:
    """Why ``path`` cannot be used as an input video, or None."""
    if not path.exists():
        return f"file {path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        return f"{path}: unsupported extension {path.suffix!r} (expected one of {', '.join(VIDEO_EXTENSIONS)})"
    if not os.access(path, os.R_OK):
        return f"{path}: permission denied (not readable)"
    return None


def read_tsv(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """A TSV's header and rows as ``(columns, [(line number, {column: value}), ...])``.

    Lines starting with ``#`` and blank lines are skipped (the first other line is the
    header); values are stripped; ``#`` inside a value is kept.

    Raises:
        InputError: the file cannot be decoded, has no header, or a row has more fields
            than the header (each such line named).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"sample sheet {path}: not UTF-8 text ({e})") from e
    columns: Optional[list[str]] = None
    rows, bad = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = [f.strip() for f in raw.split("\t")]
        if columns is None:
            columns = fields
            continue
        if len(fields) > len(columns):
            bad.append(f"line {n}: {len(fields)} fields, the header has {len(columns)}")
            continue
        rows.append((n, dict(zip(columns, fields + [""] * (len(columns) - len(fields))))))
    if columns is None:
        raise InputError(f"sample sheet {path}: no header line")
    if bad:
        raise InputError(f"sample sheet {path}: cannot be read as TSV:\n  " + "\n  ".join(bad))
    return columns, rows


def load_sheet(
    sheet: str | Path, check_files: bool = True, generated: Iterable[str] = (), strict_files: bool = True
) -> list[Sample]:
    """Read and validate a sample sheet.

    Args:
        sheet: the TSV file.
        check_files: also check that each video exists and is readable.
        generated: paths (resolved, as strings) that a rule will create (the demo clip):
            exempt from the existence check.
        strict_files: a missing or unreadable video is an error (default); when False it is
            recorded in :attr:`Sample.problem` instead, so that only that clip fails (but
            listed with the others when the sheet has other problems too).

    Raises:
        InputError: listing every problem: missing columns, unknown gait type, walk class
            inconsistent with gait type, bad participant ID, bad clip, duplicate clip,
            bad frame range, missing or unreadable file; an unknown column (naming the
            known ones).
    """
    sheet = Path(sheet).expanduser()
    if not sheet.is_file():
        raise InputError(f"sample sheet {sheet} does not exist")
    columns, rows = read_tsv(sheet)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or dup:
        what = []
        if missing:
            what.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            what.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}")
        if dup:
            what.append(f"repeated column(s) {', '.join(dup)}")
        raise InputError(
            f"sample sheet {sheet}: {'; '.join(what)} (required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)}; found: {', '.join(columns)})"
        )
    generated = {str(Path(g).resolve()) for g in generated}
    problems: list[str] = []
    file_probs: set[str] = set()  # missing/unreadable videos: per-clip when strict_files=False
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        vals = {c: str(row[c]).strip() for c in REQUIRED_COLUMNS}
        where = f"{sheet} line {line}"
        fp = validate_clip_fields(vals["participant"], vals["gait_type"], vals["walk_class"], vals["clip"])
        problems += [f"{where}: {p}" for p in fp]
        start = _int_or_none(row.get("start_frame"), "start_frame", problems, where)
        end = _int_or_none(row.get("end_frame"), "end_frame", problems, where)
        if start is not None and end is not None and end <= start:
            problems.append(f"{where}: end_frame {end} must be greater than start_frame {start}")
        if not vals["path"]:
            problems.append(f"{where}: empty path")
            continue
        path = Path(vals["path"]).expanduser()
        if not path.is_absolute():
            path = sheet.parent / path
        fprob = None
        if check_files and str(path.resolve()) not in generated:
            fprob = file_problem(path)
            if fprob:
                fprob = f"{where}: {fprob}"
                problems.append(fprob)
                file_probs.add(fprob)
        if fp:
            continue
        clip = ClipId(vals["participant"], vals["gait_type"], vals["walk_class"], vals["clip"])
        if clip.key in seen:
            problems.append(f"{where}: duplicate clip {clip.key} (also on line {seen[clip.key]})")
            continue
        seen[clip.key] = line
        samples.append(Sample(clip, path, start, end, problem=fprob))
    if problems and (strict_files or len(problems) > len(file_probs)):  # all listed at once
        raise InputError(f"sample sheet {sheet} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if not samples:
        raise InputError(f"sample sheet {sheet} lists no clips")
    return samples


def discover(folder: str | Path) -> list[Sample]:
    """Find videos laid out as ``<dir>/<PID>/<UGS|FGS>/<walk_class>_<clip>.<ext>``.

    Raises:
        InputError: the folder is missing, holds no videos, or a video's path does not
            follow the layout (each named with what is wrong).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"videos folder {folder} does not exist")
    problems, samples, seen = [], [], {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        rel = p.relative_to(folder)
        if len(rel.parts) != 3 or "_" not in p.stem:
            problems.append(f"{p}: expected <dir>/<PID>/<UGS|FGS>/<walk_class>_<clip>{p.suffix}")
            continue
        pid, gt = rel.parts[0], rel.parts[1]
        wc, _, clip = p.stem.rpartition("_")
        fp = validate_clip_fields(pid, gt, wc, clip)
        if fp:
            problems += [f"{p}: {x}" for x in fp]
            continue
        fprob = file_problem(p)
        if fprob:
            problems.append(fprob)
            continue
        c = ClipId(pid, gt, wc, clip)
        if c.key in seen:
            problems.append(f"{p}: duplicate clip {c.key} (also {seen[c.key]})")
            continue
        seen[c.key] = p
        samples.append(Sample(c, p))
    if problems:
        raise InputError(f"videos folder {folder} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if not samples:
        raise InputError(f"videos folder {folder} holds no videos ({', '.join(VIDEO_EXTENSIONS)})")
    return samples
