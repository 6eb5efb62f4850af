"""The input tables that the tree carries: ``participants_measures.csv`` and
``gait_parameters.csv``, given by the user and written into the tree's root.

``participants_measures.csv`` is written in the spec's columns
(:data:`gaitprep.healthgait.naming.MEASURES_COLUMNS`, in the spec's order, comma
separated): a column the input lacks is written empty, so a file with only ``ID`` and
``Height`` (all that the height calibration needs) still gives a tree whose table has
every column of the contract, with the unknown measures left empty rather than made up.
Input columns the spec does not list follow the spec's, unchanged (the validator warns
about them). ``gait_parameters.csv`` (the reference values) is copied byte for byte.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from ..errors import InputError
from . import naming

#: the tables of the tree's root that come from the user's files (config keys of the same name)
INPUT_TABLES = ("participants_measures", "gait_parameters")


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV file from its header line: comma, semicolon or tab, whichever
    it has most of (comma when none)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=counts.get) if max(counts.values()) else ","


def read_rows(path: Path) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    """``(delimiter, header, rows)`` of a CSV file: the delimiter from :func:`sniff_delimiter`,
    the header's names stripped, and every non-blank row after it as ``(line number, fields)``
    (1-based, as an editor shows it). A UTF-8 byte-order mark is dropped. The file must exist
    and have a non-blank first line (the callers check and word their own errors)."""
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    delim = sniff_delimiter(lines[0])
    rows = list(csv.reader(lines, delimiter=delim))
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if r and "".join(r).strip()]
    return delim, [h.strip() for h in rows[0]], body


def width_problem(row: list[str], header: list[str], delim: str) -> str:
    """"" when ``row`` has as many fields as ``header``, else what is wrong (with the decimal
    comma hint for a comma-separated file with one field too many)."""
    if len(row) == len(header):
        return ""
    hint = " (a decimal comma in a comma-separated file? write 172.5)" if delim == "," and len(row) > len(header) else ""
    return f"{len(row)} fields where the header has {len(header)}{hint}"


def write_measures_table(src: str | Path, dst: str | Path) -> list[str]:
    """Write the user's ``participants_measures`` CSV ``src`` to ``dst`` in the spec's columns.

    Columns are matched by :func:`gaitprep.healthgait.naming.column_key` (``height`` and
    ``Height`` are one column); values are copied as text, unchanged (stripped of surrounding
    spaces). The delimiter of ``src`` (comma, semicolon or tab) is read from its header;
    ``dst`` is comma separated, UTF-8, written atomically.

    Returns:
        The spec columns that ``src`` lacks (written empty).

    Raises:
        InputError: ``src`` is missing, empty, has no ``ID`` column, names one column
            twice, or has a row with more or fewer fields than its header (the message
            names the file and the line).
    """
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise InputError(f"participants_measures: {src} not found")
    if not src.read_text(encoding="utf-8-sig", errors="replace").strip():
        raise InputError(f"participants_measures: {src} is empty (expected a header line with ID, Height, ...)")
    delim, header, rows = read_rows(src)
    keys = [naming.column_key(h) for h in header]
    twice = sorted({h for h, k in zip(header, keys) if keys.count(k) > 1})
    if twice:
        raise InputError(f"participants_measures: {src} names a column twice: {', '.join(twice)}")
    spec_keys = [naming.column_key(c) for c in naming.MEASURES_COLUMNS]
    if spec_keys[0] not in keys:
        raise InputError(f"participants_measures: {src} has no ID column (has {header})")
    index = [keys.index(k) if k in keys else None for k in spec_keys]
    extra = [i for i, k in enumerate(keys) if k not in spec_keys]
    missing = [c for c, i in zip(naming.MEASURES_COLUMNS, index) if i is None]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(naming.MEASURES_COLUMNS + [header[i] for i in extra])
    for n, r in rows:
        if bad := width_problem(r, header, delim):
            raise InputError(f"participants_measures: {src} line {n}: {bad}")
        cells = [r[i].strip() if i is not None else "" for i in index] + [r[i].strip() for i in extra]
        w.writerow(cells)
    from .writers import atomic_path  # (cv2, numpy: not needed by sniff_delimiter's users)

    with atomic_path(dst) as tmp:
        tmp.write_text(out.getvalue(), encoding="utf-8")
    return missing


def write_input_table(name: str, src: str | Path, dst: str | Path) -> list[str]:
    """The tree's ``<name>.csv`` from the user's file (``name`` one of :data:`INPUT_TABLES`):
    :func:`write_measures_table` for ``participants_measures``, a byte copy (atomic) for
    ``gait_parameters``. Returns the spec columns written empty (none for a copy).

    Raises:
        InputError: an unknown ``name``, a missing ``src``, or what
            :func:`write_measures_table` raises.
    """
    if name == "participants_measures":
        return write_measures_table(src, dst)
    if name != "gait_parameters":
        raise InputError(f"unknown input table {name!r} (one of {', '.join(INPUT_TABLES)})")
    if not Path(src).is_file():
        raise InputError(f"gait_parameters: {src} not found")
    from .writers import atomic_path

    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return []
