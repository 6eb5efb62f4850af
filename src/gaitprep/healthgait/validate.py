"""``gaitprep validate <root>``: check an existing Health&Gait tree and report every problem.

Works on the published dataset's layout (``../shared/spec/healthgait.md``) and on gaitprep's
own output. What is checked, per clip ``PID/GT/WC_clip``:

* **names** (:func:`gaitprep.healthgait.naming.validate_clip_fields`): ``PA`` + >= 3 digits, gait type
  ``UGS``/``FGS``, walk class consistent with the gait type (``NW-*`` is UGS, ``FW-*`` FGS),
  clip ``1``/``2``; files only at the places the layout has them.
* **suffixes**: ``_AlphaPose.json``, ``_YOLOV8/``, ``_DensePose/``; flow folders
  ``TVL1``/``GMFLOW`` and ``<WC>_<clip>`` with *no* suffix.
* **frame numbering**: file stems are decimal frame indices, zero-padded to one width per
  folder, 3 digits (more only when the clip has frame indices >= 1000); right extension.
* **image sizes**: one size per folder and the same size across the clip's modalities.
* **silhouettes** are binary: JPEG noise is tolerated near edges, so a frame passes when at
  least :data:`BINARY_MIN_FRACTION` (99 %) of its pixels are within
  :data:`BINARY_TOLERANCE` (10) grey levels of 0 or 255 (all channels).
* **segmentation** PNGs (lossless) use only :data:`gaitprep.healthgait.palette.ALLOWED_RGB`, exactly.
* **pose JSON** against ``schemas/pose.schema.json`` (jsonschema): a list of
  ``{"frame": int, "joints": null | {name: {x, y, score}}}`` with COCO-17/Halpe-26 names;
  frames strictly increasing; joints inside the frame size when it is known (from the
  clip's images or ``--frame-size``).
* **flow**: indices a contiguous range; ``N - 1`` images where the pose JSON gives ``N``
  frames, starting at the pose's first frame.
* leftover temporaries (``*.tmp-<pid>``) from killed jobs are errors: the tree is not complete.

Tree level: ``gait_parameters_estimation.csv`` header must equal
:data:`gaitprep.healthgait.naming.ESTIMATION_COLUMNS`; ``participants_measures.csv`` must have the spec's
columns; IDs valid and unique. gaitprep's side outputs (``logs/``, ``provenance/``, ``qc/``,
``gait_steps/``, ``gait_overrides/``, ``run_report.json``) are checked lightly (JSON parses).

Issues are ``error`` (the tree breaks the contract; exit status 1) or ``warning`` (odd but
allowed; exit status 0 unless ``--strict``). Repeated per-frame problems in one folder are
reported once with a count and the first offending file.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional

import cv2
import numpy as np

from . import naming
from .palette import ALLOWED_RGB
from ..results import HALPE26
from .writers import TMP_TAG
from ..lock import LOCK_NAME, holder_text, lock_is_stale, read_lock

#: grey levels from 0 / 255 within which a silhouette pixel counts as binary (JPEG noise)
BINARY_TOLERANCE = 10
#: fraction of a silhouette's pixels away from the mask edge that must be binary
BINARY_MIN_FRACTION = 0.99
#: px around the black/white boundary where JPEG ringing is allowed (one 8x8 JPEG block)
BINARY_EDGE_PX = 8
#: fraction of *all* pixels that must be binary (rejects noise, where everything is "edge")
BINARY_MIN_FRACTION_ALL = 0.75
#: joints further outside the frame than this fraction of its size are errors (less: warnings)
COORD_ERROR_MARGIN = 0.05
#: px outside the frame that are still "inside" (sub-pixel rounding)
COORD_SLACK_PX = 1.0

#: participants_measures.csv columns, as the spec lists them (compared ignoring case, spaces/underscores)
MEASURES_COLUMNS = naming.MEASURES_COLUMNS
#: gaitprep's own side outputs in the root: checked lightly
SIDE_DIRS = ("logs", "provenance", "qc", "gait_steps", "gait_overrides", "exports", "intermediate", "benchmarks", ".snakemake")
SIDE_FILES = ("run_report.json",)
KNOWN_CSVS = ("participants_measures.csv", "gait_parameters.csv", naming.ESTIMATION_CSV)
#: image modalities: (tree folder, expected folder suffix, extension)
IMAGE_MODALITIES = {
    "silhouette": (naming.MODALITY_DIRS["silhouette"], naming.SUFFIX["silhouette"], ".jpg"),
    "segmentation": (naming.MODALITY_DIRS["segmentation"], naming.SUFFIX["segmentation"], ".png"),
}
KNOWN_SUFFIXES = ("_AlphaPose", "_YOLOV8", "_DensePose", "_TVL1", "_GMFLOW")
STEM_RE = re.compile(r"^(?P<wc>[^_]+)_(?P<clip>[^_]+)(?P<suffix>_.*)?$")
TREE = "(tree)"


@dataclass(frozen=True)
class Issue:
    """One problem: ``level`` is ``"error"`` or ``"warning"``; ``clip`` the clip key
    (``PA000/UGS/NW-WJ_1``) or ``"(tree)"``; ``path`` relative to the root."""

    level: str
    clip: str
    path: str
    message: str


@dataclass
class ClipFiles:
    """The files of one clip found in the tree (any may be missing)."""

    key: str
    pose: Optional[Path] = None
    images: dict = field(default_factory=dict)  # label ("silhouette", "segmentation", "flow/TVL1") -> folder
    #: source frames gaitprep could not decode (from its provenance records): no flow spans them
    skipped: set = field(default_factory=set)
    #: label -> provenance record (dict), or None where the record is missing; only filled
    #: for gaitprep's trees (those with a ``provenance/`` folder)
    provenance: dict = field(default_factory=dict)
    #: path of the provenance record of each label (relative names in messages)
    provenance_paths: dict = field(default_factory=dict)


@dataclass
class Report:
    """What :func:`validate_tree` found."""

    root: str
    issues: list[Issue] = field(default_factory=list)
    clips: int = 0
    files: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    def ok(self, strict: bool = False) -> bool:
        """True when there is no error (and, with ``strict``, no warning)."""
        return not self.errors and not (strict and self.warnings)

    def to_dict(self) -> dict:
        return {
            "root": self.root,
            "clips": self.clips,
            "files": self.files,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "issues": [asdict(i) for i in self.issues],
        }

    def format(self, show_warnings: bool = True) -> str:
        """The readable report: issues grouped per clip (tree-level first), then a summary line."""
        groups: dict[str, list[Issue]] = defaultdict(list)
        for i in self.issues:
            if show_warnings or i.level == "error":
                groups[i.clip].append(i)
        lines = []
        for clip in sorted(groups, key=lambda c: (c != TREE, c)):
            lines.append(clip)
            for i in sorted(groups[clip], key=lambda i: (i.level != "error", i.path)):
                where = f"{i.path}: " if i.path else ""
                lines.append(f"  {i.level.upper():<8}{where}{i.message}")
        bad_clips = len({i.clip for i in self.issues if i.clip != TREE})
        verdict = "OK" if self.ok() else "INVALID"
        lines.append(
            f"Summary: {self.root}: {self.clips} clips, {self.files} files checked; "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings"
            f" ({bad_clips} clips with issues) -- {verdict}"
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- discovery


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.issues: list[Issue] = []

    def rel(self, p: Path) -> str:
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    def add(self, level: str, clip: str, path: Path | str, message: str) -> None:
        path = self.rel(path) if isinstance(path, Path) else path
        self.issues.append(Issue(level, clip, path, message))

    def error(self, clip, path, message):
        self.add("error", clip, path, message)

    def warn(self, clip, path, message):
        self.add("warning", clip, path, message)


#: level of a foreign (hidden or stray) file inside the Health&Gait folders: an error (the
#: published tree has none; gaitprep's runs declare provenance records, not the folders, as
#: Snakemake outputs, so no ``.snakemake_timestamp`` marker is left there)
FOREIGN_FILE_LEVEL = "error"


def _entries(d: Path, c: _Collector, clip: str = TREE, hidden: str = "report") -> list[Path]:
    """Sorted children of ``d``; leftover temporaries reported.

    ``hidden``: ``"report"`` (inside the Health&Gait folders: a hidden file is foreign to the
    layout, and code that lists a folder and reads every entry breaks on it) or ``"ignore"``.
    """
    out = []
    for p in sorted(d.iterdir()):
        if p.name.startswith("."):
            if hidden == "report":
                what = ("Snakemake's directory() completion marker" if p.name == ".snakemake_timestamp"
                        else "a hidden file")  # fmt: skip
                c.add(FOREIGN_FILE_LEVEL, clip, p, f"foreign file in the Health&Gait layout ({what}); the published tree has none, and code that reads every entry of the folder breaks on it")
            continue
        if TMP_TAG in p.name:
            c.error(
                clip, p,
                "leftover temporary from an interrupted job: the output is incomplete "
                "(delete it, or rerun the pipeline with --rerun-incomplete)",
            )  # fmt: skip
            continue
        out.append(p)
    return out


def _parse_stem(name: str) -> Optional[tuple[str, str, str]]:
    m = STEM_RE.match(name)
    return (m["wc"], m["clip"], m["suffix"] or "") if m else None


def _clip_key(pid: str, gt: str, wc: str, clip: str) -> str:
    return f"{pid}/{gt}/{wc}_{clip}"


def _check_names(c: _Collector, key: str, path: Path, pid: str, gt: str, wc: str, clip: str, seen: set) -> None:
    for problem in naming.validate_clip_fields(pid, gt, wc, clip):
        if (key, problem) not in seen:  # once per clip, not once per modality
            seen.add((key, problem))
            c.error(key, path, problem)


def _dirs(p: Path, c: _Collector, what: str) -> list[Path]:
    """Sub-folders of ``p``; stray files at this level are errors."""
    out = []
    for e in _entries(p, c):
        if e.is_dir():
            out.append(e)
        else:
            c.error(TREE, e, f"unexpected file where the layout has {what} folders")
    return out


def discover(root: Path, c: _Collector) -> dict[str, ClipFiles]:
    """Walk the four modality folders; return the clips found, reporting layout problems."""
    clips: dict[str, ClipFiles] = {}
    seen: set = set()

    def get(key):
        return clips.setdefault(key, ClipFiles(key))

    pose_root = root / naming.MODALITY_DIRS["pose"]
    if pose_root.is_dir():
        for pdir in _dirs(pose_root, c, "participant"):
            for gdir in _dirs(pdir, c, "gait type"):
                for f in _entries(gdir, c):
                    parsed = _parse_stem(f.name[: -len(".json")]) if f.name.endswith(".json") else None
                    if f.is_dir() or parsed is None:
                        c.error(TREE, f, "unexpected entry: pose files are <WALKCLASS>_<clip>_AlphaPose.json")
                        continue
                    wc, clip, suffix = parsed
                    key = _clip_key(pdir.name, gdir.name, wc, clip)
                    _check_names(c, key, f, pdir.name, gdir.name, wc, clip, seen)
                    if suffix != "_AlphaPose":
                        c.error(key, f, f"pose file must be named {wc}_{clip}_AlphaPose.json (suffix _AlphaPose is part of the contract, found {suffix or 'none'!r})")
                    get(key).pose = f

    for label, (folder, want, _ext) in IMAGE_MODALITIES.items():
        mroot = root / folder
        if not mroot.is_dir():
            continue
        for pdir in _dirs(mroot, c, "participant"):
            for gdir in _dirs(pdir, c, "gait type"):
                for d in _entries(gdir, c):
                    parsed = _parse_stem(d.name)
                    if not d.is_dir() or parsed is None:
                        c.error(TREE, d, f"unexpected entry: {label} frames live in folders <WALKCLASS>_<clip>{want}/")
                        continue
                    wc, clip, suffix = parsed
                    key = _clip_key(pdir.name, gdir.name, wc, clip)
                    _check_names(c, key, d, pdir.name, gdir.name, wc, clip, seen)
                    if suffix != want:
                        c.error(key, d, f"{label} folder must be named {wc}_{clip}{want} (found suffix {suffix or 'none'!r})")
                    get(key).images[label] = d

    froot = root / naming.MODALITY_DIRS["flow"]
    if froot.is_dir():
        for pdir in _dirs(froot, c, "participant"):
            for gdir in _dirs(pdir, c, "gait type"):
                for mdir in _dirs(gdir, c, "flow method (TVL1, GMFLOW)"):
                    if mdir.name not in naming.FLOW_METHODS:
                        c.error(TREE, mdir, f"unknown flow method folder {mdir.name!r} (expected {' or '.join(naming.FLOW_METHODS)}, exactly)")
                        continue
                    for d in _entries(mdir, c):
                        parsed = _parse_stem(d.name)
                        if not d.is_dir() or parsed is None:
                            c.error(TREE, d, "unexpected entry: flow frames live in folders <WALKCLASS>_<clip>/")
                            continue
                        wc, clip, suffix = parsed
                        key = _clip_key(pdir.name, gdir.name, wc, clip)
                        _check_names(c, key, d, pdir.name, gdir.name, wc, clip, seen)
                        if suffix:
                            c.error(key, d, f"flow folder must be named {wc}_{clip} with no suffix (found {suffix!r}); the method is the parent folder")
                        get(key).images[f"flow/{mdir.name}"] = d
    gaitprep_tree = (root / "provenance").is_dir()
    for key, cf in clips.items():
        pid, gt, stem = key.split("/")
        for p in (root / "provenance" / pid / gt).glob(f"{stem}.*.json"):
            try:
                cf.skipped |= set((json.loads(p.read_text()).get("stats") or {}).get("frames_skipped") or [])
            except (OSError, ValueError, AttributeError):
                pass  # reported by check_side_outputs
        if not gaitprep_tree:
            continue
        cid = naming.ClipId.from_key(key) if not naming.validate_clip_fields(*_key_fields(key)) else None
        if cid is None:
            continue
        for label in ((["pose"] if cf.pose else []) + sorted(cf.images)):
            modality, _, method = label.partition("/")
            pp = naming.provenance_path(root, cid, modality, method or None)
            cf.provenance_paths[label] = pp
            try:
                rec = json.loads(pp.read_text())
                cf.provenance[label] = rec if isinstance(rec, dict) else {}
            except FileNotFoundError:
                cf.provenance[label] = None
            except (OSError, ValueError):
                cf.provenance[label] = {}  # unreadable: reported by check_side_outputs
    return clips


def _key_fields(key: str) -> tuple[str, str, str, str]:
    pid, gt, stem = key.split("/")
    wc, _, clip = stem.rpartition("_")
    return pid, gt, wc, clip


# --------------------------------------------------------------------------- per clip


@lru_cache(maxsize=1)
def _pose_validator():
    import jsonschema

    schema = json.loads(resources.files("gaitprep").joinpath("healthgait/schemas/pose.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=1)
def _allowed_codes() -> np.ndarray:
    lut = np.zeros(1 << 24, bool)
    for r, g, b in ALLOWED_RGB:
        lut[(r << 16) | (g << 8) | b] = True
    return lut


def binary_fractions(px: np.ndarray) -> tuple[float, float]:
    """How binary a decoded silhouette is.

    Args:
        px: ``(H, W, C)`` uint8, C = 1 or 3.

    Returns:
        ``(away, all)``: the fraction of pixels farther than :data:`BINARY_EDGE_PX` from the
        black/white boundary (threshold 128) that are within :data:`BINARY_TOLERANCE` of 0
        or 255 in every channel, and the same fraction over all pixels. JPEG rings only
        near edges, so a lossy but binary mask has ``away`` ~ 1; noise or a photo does not.
    """
    binary = (px <= BINARY_TOLERANCE).all(-1) | (px >= 255 - BINARY_TOLERANCE).all(-1)
    frac_all = float(binary.mean())
    if frac_all >= BINARY_MIN_FRACTION:  # then at least as many away from the edge
        return 1.0 if frac_all == 1.0 else _away_fraction(px, binary), frac_all
    return _away_fraction(px, binary), frac_all


def _away_fraction(px: np.ndarray, binary: np.ndarray) -> float:
    fg = (px.mean(-1) >= 128).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    boundary = cv2.dilate(fg, k) != cv2.erode(fg, k)
    near = cv2.dilate(boundary.astype(np.uint8), np.ones((2 * BINARY_EDGE_PX + 1,) * 2, np.uint8)) > 0
    away = ~near
    return float(binary[away].mean()) if away.any() else 1.0


#: channel value -> 0, 1, 2 for 0, 128, 255 (the only levels in the palette), 255 otherwise
_LEVEL = np.full(256, 255, np.uint8)
_LEVEL[0], _LEVEL[128], _LEVEL[255] = 0, 1, 2


@lru_cache(maxsize=1)
def _allowed_base3() -> np.ndarray:
    ok = np.zeros(27, bool)
    for r, g, b in ALLOWED_RGB:
        ok[_LEVEL[b] + 3 * _LEVEL[g] + 9 * _LEVEL[r]] = True
    return ok


def _palette_bad(bgr: np.ndarray) -> bool:
    """True when a ``(H, W, 3)`` uint8 BGR image has a colour outside the palette (fast path)."""
    lv = cv2.LUT(bgr, _LEVEL)
    if (lv == 255).any():
        return True
    code = lv[..., 0] + 3 * lv[..., 1] + 9 * lv[..., 2]
    return not bool(_allowed_base3()[code].all())


def _image_size(p: Path) -> tuple[Optional[tuple[int, int]], Optional[str], Optional[str]]:
    """``((width, height), format, mode)`` from the file header, or ``(None, reason, None)``."""
    from PIL import Image

    try:
        with Image.open(p) as im:
            return im.size, im.format, im.mode
    except Exception as e:  # noqa: BLE001 - any decoder complaint is a broken file
        return None, f"cannot read image ({type(e).__name__}: {e})", None


class _Summary:
    """Collect one kind of per-frame problem in a folder; report it once with a count."""

    def __init__(self):
        self.hits: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)

    def add(self, level: str, kind: str, fname: str, detail: str) -> None:
        self.hits[(level, kind)].append((fname, detail))

    def flush(self, c: _Collector, key: str, folder: Path, total: int) -> None:
        for (level, kind), hits in self.hits.items():
            first, detail = hits[0]
            if len(hits) == 1:
                c.add(level, key, folder / first, f"{kind}: {detail}")
            else:
                c.add(level, key, folder, f"{kind} in {len(hits)} of {total} frames (first {first}: {detail})")


def _flow_gaps(skipped: set) -> set:
    """Flow indices that cannot exist when ``skipped`` source frames were undecodable."""
    return {j for i in skipped for j in (i - 1, i)}


def _check_image_folder(c, key, label, folder: Path, sample_every: int, skipped: set = frozenset()) -> dict:
    """Check one frame folder; return ``{"indices": [...], "size": (w, h) | None, "width": int}``."""
    ext = ".jpg" if label == "silhouette" else ".png"
    fmt = "JPEG" if ext == ".jpg" else "PNG"
    files = _entries(folder, c, key)
    frames: dict[int, Path] = {}
    widths = set()
    for f in files:
        if f.is_dir():
            c.error(key, f, "unexpected folder inside a frame folder")
            continue
        if f.suffix != ext:
            c.error(key, f, f"wrong extension {f.suffix!r}: {label} frames are NNN{ext}")
            continue
        if not f.stem.isdigit():
            c.error(key, f, f"file name is not a frame number (expected NNN{ext}, zero-padded source frame index)")
            continue
        frames[int(f.stem)] = f
        widths.add(len(f.stem))
    info = {"indices": sorted(frames), "size": None, "width": None}
    c_files = len(frames)
    if not frames:
        c.warn(key, folder, f"{label} folder has no frames")
        return info
    if len(widths) > 1:
        c.error(key, folder, f"inconsistent zero-padding of frame numbers: widths {sorted(widths)} in one folder")
    width = max(widths)
    info["width"] = width
    if min(widths) < 3:
        c.error(key, folder, f"frame numbers must be zero-padded to at least 3 digits (found {min(widths)})")
    sizes: dict[tuple[int, int], int] = defaultdict(int)
    summ = _Summary()
    idx_sorted = sorted(frames)
    for n, i in enumerate(idx_sorted):
        f = frames[i]
        size, detail, mode = _image_size(f)
        if size is None:
            summ.add("error", "unreadable image", f.name, detail)
            continue
        if detail != fmt:
            summ.add("error", f"not a {fmt} file", f.name, f"file content is {detail}")
        sizes[size] += 1
        if label.startswith("flow"):  # the header says enough: 8-bit RGB
            if mode not in ("RGB", "RGBA"):
                summ.add("error", "flow image not 8-bit RGB", f.name, f"image mode {mode}")
            continue
        if sample_every > 1 and n % sample_every:
            continue
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None:
            summ.add("error", "unreadable image", f.name, "OpenCV cannot decode it")
            continue
        if img.dtype != np.uint8:
            summ.add("error", "not 8-bit", f.name, f"dtype {img.dtype}")
            continue
        if label == "silhouette":
            px = img.reshape(img.shape[0], img.shape[1], -1)[..., :3]
            frac, frac_all = binary_fractions(px)
            if frac < BINARY_MIN_FRACTION or frac_all < BINARY_MIN_FRACTION_ALL:
                summ.add(
                    "error", "silhouette not binary", f.name,
                    f"{100 * frac:.1f} % of pixels away from the mask edge and {100 * frac_all:.1f} % of all pixels "
                    f"within {BINARY_TOLERANCE} of 0 or 255 (need >= {100 * BINARY_MIN_FRACTION:.0f} % "
                    f"and >= {100 * BINARY_MIN_FRACTION_ALL:.0f} %)",
                )  # fmt: skip
            elif not (px >= 128).any():
                summ.add("warning", "empty silhouette (no person pixels)", f.name, "only frames with a person should be written")
        elif label == "segmentation":
            if img.ndim != 3 or img.shape[2] not in (3, 4):
                summ.add("error", "segmentation not RGB", f.name, f"{img.shape[2] if img.ndim == 3 else 1} channel(s)")
                continue
            if img.shape[2] == 4 and (img[..., 3] != 255).any():
                summ.add("warning", "segmentation has a transparent alpha channel", f.name, "alpha ignored")
            bgr = np.ascontiguousarray(img[..., :3])
            if not _palette_bad(bgr):
                if not bgr.any():
                    summ.add("warning", "empty segmentation (all background)", f.name, "only frames with a person should be written")
                continue
            b, g, r = (bgr[..., k].astype(np.uint32) for k in range(3))
            codes = (r << 16) | (g << 8) | b
            bad = ~_allowed_codes()[codes]
            if bad.any():
                cols = np.unique(codes[bad])
                shown = ", ".join(f"({v >> 16},{(v >> 8) & 255},{v & 255})" for v in cols[:4].tolist())
                more = f" and {len(cols) - 4} more" if len(cols) > 4 else ""
                summ.add(
                    "error", "colours outside the segmentation palette", f.name,
                    f"{int(bad.sum())} px in {len(cols)} colour(s) not in palette.ALLOWED_RGB: {shown}{more}",
                )  # fmt: skip
    summ.flush(c, key, folder, c_files)
    if len(sizes) > 1:
        desc = ", ".join(f"{w}x{h} ({n} frames)" for (w, h), n in sorted(sizes.items(), key=lambda kv: -kv[1]))
        c.error(key, folder, f"image sizes differ within the clip: {desc}")
    if sizes:
        info["size"] = max(sizes.items(), key=lambda kv: kv[1])[0]
    if label.startswith("flow"):
        lo, hi = idx_sorted[0], idx_sorted[-1]
        missing = set(range(lo, hi + 1)) - set(idx_sorted)
        gaps = missing & _flow_gaps(skipped)
        if missing - gaps:
            c.error(key, folder, f"flow frame indices are not a contiguous range {lo}..{hi}: missing {_ranges(sorted(missing - gaps))}")
        if gaps:
            c.warn(key, folder, f"no flow for frames {_ranges(sorted(gaps))}: source frames {_ranges(sorted(skipped))} could not be decoded (provenance)")
    return info


def _ranges(xs: list[int], limit: int = 6) -> str:
    """``[1,2,3,7]`` -> ``'1-3, 7'`` (at most ``limit`` runs)."""
    runs, start, prev = [], None, None
    for x in xs:
        if start is None:
            start = prev = x
        elif x == prev + 1:
            prev = x
        else:
            runs.append((start, prev))
            start = prev = x
    if start is not None:
        runs.append((start, prev))
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    return ", ".join(parts) + (f", ... ({len(runs) - limit} more runs)" if len(runs) > limit else "")


def _check_pose(c: _Collector, key: str, path: Path) -> Optional[list]:
    """Schema and frame-order checks; returns the parsed list or ``None`` when unusable."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        c.error(key, path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); truncated or half-written file?")
        return None
    except (OSError, UnicodeDecodeError) as e:
        c.error(key, path, f"cannot read pose file: {e}")
        return None
    errs = sorted(_pose_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errs:
        first = errs[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        msg = first.message
        if first.validator == "oneOf" and isinstance(first.instance, dict):
            bad = sorted(set(first.instance) - set(HALPE26))
            if bad:
                msg = f"unknown joint name(s) {bad} (expected COCO-17/Halpe-26 snake case, e.g. l_ankle)"
        if len(msg) > 200:
            msg = msg[:200] + "..."
        more = f" ({len(errs) - 1} more schema violations)" if len(errs) > 1 else ""
        c.error(key, path, f"pose JSON does not match the schema at {where}: {msg}{more}")
        return None
    frames = [e["frame"] for e in data]
    if not frames:
        c.warn(key, path, "pose JSON is an empty list (no frames)")
        return data
    back = [(a, b) for a, b in zip(frames, frames[1:]) if b <= a]
    if back:
        a, b = back[0]
        c.error(key, path, f"frame numbers are not strictly increasing ({len(back)} times; first: {a} then {b})")
        return None
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        c.warn(key, path, f"pose JSON skips frames {_ranges(missing)} (expected one element per frame)")
    if all(e["joints"] is None for e in data):
        c.warn(key, path, "no person in any frame (all joints null)")
    return data


def _check_coords(c: _Collector, key: str, path: Path, data: list, size: tuple[int, int]) -> None:
    w, h = size
    warn_hits, err_hits = [], []
    for e in data:
        for name, j in (e["joints"] or {}).items():
            dx = max(-j["x"], j["x"] - w, 0.0)
            dy = max(-j["y"], j["y"] - h, 0.0)
            if dx <= COORD_SLACK_PX and dy <= COORD_SLACK_PX:
                continue
            hit = f"frame {e['frame']} {name} x={j['x']:.1f} y={j['y']:.1f}"
            (err_hits if dx > COORD_ERROR_MARGIN * w or dy > COORD_ERROR_MARGIN * h else warn_hits).append(hit)
    for level, hits, how in (("error", err_hits, "far outside"), ("warning", warn_hits, "slightly outside")):
        if hits:
            c.add(level, key, path, f"{len(hits)} joint(s) {how} the {w}x{h} frame (first: {hits[0]})")


def check_clip(root: Path, clip: ClipFiles, sample_every: int = 1, frame_size: Optional[tuple[int, int]] = None) -> tuple[list[Issue], int]:
    """All checks of one clip; returns ``(issues, files checked)``."""
    c = _Collector(root)
    key = clip.key
    nfiles = 0
    pose = None
    if clip.pose is not None:
        nfiles += 1
        pose = _check_pose(c, key, clip.pose)
    infos = {}
    for label, folder in sorted(clip.images.items()):
        infos[label] = _check_image_folder(c, key, label, folder, sample_every, clip.skipped)
        nfiles += len(infos[label]["indices"])
    # sizes across modalities
    sizes = {label: i["size"] for label, i in infos.items() if i["size"] is not None}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"{label} {w}x{h}" for label, (w, h) in sizes.items())
        c.error(key, "", f"image sizes differ across modalities of the clip: {desc}")
    size = frame_size or (max(set(sizes.values()), key=list(sizes.values()).count) if sizes else None)
    pose_frames = [e["frame"] for e in pose] if pose else []
    # zero-padding: more than 3 digits only when the clip reaches index 1000
    last = max([*pose_frames, *(max(i["indices"]) for i in infos.values() if i["indices"])], default=0)
    need = naming.frame_width(last)
    for label, i in infos.items():
        if i["width"] and i["width"] > need:
            c.warn(key, clip.images[label], f"frame numbers padded to {i['width']} digits but the clip's largest frame index {last} needs {need}")
    widths = {i["width"] for i in infos.values() if i["width"]}
    if len(widths) > 1:
        c.warn(key, "", f"frame-number widths differ across modalities: {sorted(widths)}")
    if pose and size:
        _check_coords(c, key, clip.pose, pose, size)
    if pose_frames:
        first, n = pose_frames[0], len(pose_frames)
        pose_set = set(pose_frames)
        for label, i in infos.items():
            idx = i["indices"]
            if not idx:
                continue
            if label.startswith("flow"):
                gaps = len(_flow_gaps(clip.skipped) & set(range(first, pose_frames[-1])))
                if len(idx) != n - 1 - gaps:
                    why = f" minus {gaps} around undecodable frames" if gaps else ""
                    c.error(key, clip.images[label], f"{len(idx)} flow images but the pose JSON has {n} frames (expected N-1{why} = {n - 1 - gaps})")
                elif idx[0] != first:
                    c.error(key, clip.images[label], f"flow starts at frame {idx[0]} but the pose JSON starts at frame {first}")
            else:
                outside = [x for x in idx if x not in pose_set]
                if outside:
                    c.error(key, clip.images[label], f"{len(outside)} {label} frame(s) not in the pose JSON's frames (first: {outside[0]})")
    _check_against_provenance(c, root, clip, pose, infos)
    return c.issues, nfiles


def _check_against_provenance(c: _Collector, root: Path, clip: ClipFiles, pose: Optional[list], infos: dict) -> None:
    """Outputs vs their provenance records (gaitprep's trees) and person frames across modalities.

    * every output has its provenance record (else: error; it says which backend made it,
      its frame timing, what it skipped);
    * a silhouette/segmentation folder holds exactly the ``frames_with_person`` images its
      record says the job wrote (fewer: frames were deleted);
    * a frame where the pose JSON has a person but there is no silhouette/segmentation image
      must be explained: by a record whose count matches (that backend found nobody there),
      else it is reported (error in a gaitprep tree, warning in a tree without provenance).
    """
    key = clip.key
    for label, rec in clip.provenance.items():
        if rec is None:
            c.error(key, clip.provenance_paths[label], f"missing provenance record for the clip's {label} output: which backend made it, its frame timing and skipped frames are unknown (record deleted, or the output copied in from elsewhere? rerun the job)")
    person = {e["frame"] for e in pose or [] if e.get("joints")}
    for label in ("silhouette", "segmentation"):
        if label not in infos:
            continue
        have = set(infos[label]["indices"])
        rec = clip.provenance.get(label)
        n_written = ((rec or {}).get("stats") or {}).get("frames_with_person")
        missing = sorted(person - have - clip.skipped)
        folder = clip.images[label]
        if isinstance(n_written, int):
            if len(have) < n_written:
                first = f"; first frame where the pose JSON has a person and there is no image: {missing[0]}" if missing else ""
                c.error(key, folder, f"{n_written - len(have)} of the {n_written} {label} images the job wrote are missing (provenance frames_with_person = {n_written}, folder has {len(have)}){first}: deleted?")
            elif len(have) > n_written:
                c.error(key, folder, f"{len(have)} {label} images but its provenance record says the job wrote {n_written}: files added after the run?")
        elif missing and clip.pose is not None:
            level = "error" if clip.provenance else "warning"
            c.add(level, key, folder, f"{len(missing)} frame(s) where the pose JSON has a person have no {label} image (first: {missing[0]}; frames {_ranges(missing)}), and no provenance record explains it")


# --------------------------------------------------------------------------- tree level


_norm = naming.column_key


def _read_csv(c: _Collector, path: Path) -> Optional[tuple[list[str], list[list[str]]]]:
    try:
        with open(path, newline="") as f:
            sample = f.read(4096)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            rows = list(csv.reader(f, dialect))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        c.error(TREE, path, f"cannot read CSV: {e}")
        return None
    if not rows:
        c.error(TREE, path, "CSV file is empty (no header)")
        return None
    return [h.strip() for h in rows[0]], [r for r in rows[1:] if any(x.strip() for x in r)]


def _check_ids(c: _Collector, path: Path, header: list[str], rows: list[list[str]]) -> None:
    if "ID" not in header:
        c.error(TREE, path, "no ID column")
        return
    k = header.index("ID")
    ids = [r[k].strip() if k < len(r) else "" for r in rows]
    bad = [x for x in ids if not naming.PARTICIPANT_RE.match(x)]
    if bad:
        c.error(TREE, path, f"{len(bad)} bad participant ID(s) (expected PA + 3 or more digits), e.g. {bad[0]!r}")
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        c.error(TREE, path, f"duplicate participant ID(s): {', '.join(dup[:5])}")
    short = [i + 2 for i, r in enumerate(rows) if len(r) != len(header)]
    if short:
        c.error(TREE, path, f"{len(short)} row(s) with {'fewer' if len(rows[short[0] - 2]) < len(header) else 'more'} fields than the header (first: line {short[0]})")


def check_csvs(root: Path, c: _Collector) -> None:
    """Header and ID checks of the three tree-level CSVs (each optional)."""
    est = root / naming.ESTIMATION_CSV
    if est.is_file() and (r := _read_csv(c, est)):
        header, rows = r
        if header != naming.ESTIMATION_COLUMNS:
            missing = [x for x in naming.ESTIMATION_COLUMNS if x not in header]
            extra = [x for x in header if x not in naming.ESTIMATION_COLUMNS]
            what = []
            if missing:
                what.append(f"missing {missing}")
            if extra:
                what.append(f"unexpected {extra}")
            if not what:
                what.append("columns in the wrong order")
            c.error(TREE, est, f"columns must be exactly {','.join(naming.ESTIMATION_COLUMNS)}: {'; '.join(what)}")
        _check_ids(c, est, header, rows)
        for i, row in enumerate(rows):
            bad = [v for v in row[1:] if v.strip() and not _is_number(v)]
            if bad:
                c.error(TREE, est, f"line {i + 2}: non-numeric value(s) {bad[:3]}")
                break
    pm = root / "participants_measures.csv"
    if pm.is_file() and (r := _read_csv(c, pm)):
        header, rows = r
        have = {_norm(h) for h in header}
        missing = [x for x in MEASURES_COLUMNS if _norm(x) not in have]
        if missing:
            c.error(TREE, pm, f"missing column(s) {missing} (spec columns: {', '.join(MEASURES_COLUMNS)})")
        extra = [h for h in header if _norm(h) not in {_norm(x) for x in MEASURES_COLUMNS}]
        if extra:
            c.warn(TREE, pm, f"column(s) not in the spec: {extra}")
        _check_ids(c, pm, header, rows)
    gp = root / "gait_parameters.csv"
    if gp.is_file() and (r := _read_csv(c, gp)):
        header, rows = r
        _check_ids(c, gp, header, rows)


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def check_side_outputs(root: Path, c: _Collector) -> None:
    """Light checks of gaitprep's own files: JSON parses, no leftover temporaries."""
    for name in SIDE_FILES:
        p = root / name
        if p.is_file():
            try:
                json.loads(p.read_text())
            except (json.JSONDecodeError, OSError, UnicodeDecodeError) as e:
                c.error(TREE, p, f"not valid JSON: {e}")
    what = {"provenance": "provenance record", "gait_steps": "gait summary", "qc": "QC file", "gait_overrides": "gait override file"}
    for side, label in what.items():
        d = root / side
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*")):
            if TMP_TAG in p.name:
                c.warn(TREE, p, f"leftover temporary {label} from an interrupted job")
            elif p.suffix == ".json" and p.is_file():
                try:
                    json.loads(p.read_text())
                except json.JSONDecodeError as e:
                    c.error(TREE, p, f"{label} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); truncated or half-written file?")
                except (OSError, UnicodeDecodeError) as e:
                    c.error(TREE, p, f"cannot read {label}: {e}")


#: CSV values and recomputed aggregates may differ by this much (3-decimal rounding)
AGGREGATE_TOLERANCE = 0.0015


def check_aggregate(root: Path, c: _Collector) -> None:
    """``gait_parameters_estimation.csv`` against the per-clip summaries it is built from.

    In a tree with ``gait_steps/<PID>/<GT>/<WC>_<clip>.summary.json``, every spec column of
    the CSV is recomputed with :func:`gaitprep.gait.aggregate.estimation_table` from the
    summaries (the CSV is written from them): a value that differs, a value where the
    summaries give none, a participant without summaries or summaries without a CSV row are
    errors (the CSV is stale, e.g. left from an earlier run after a gait job failed, or was
    edited). A cell that is empty where the summaries give a value is a warning (refused?).
    """
    est = root / naming.ESTIMATION_CSV
    steps = root / "gait_steps"
    if not est.is_file() or not steps.is_dir():
        return
    from ..gait.aggregate import estimation_table

    summaries = []
    for p in sorted(steps.glob("*/*/*.summary.json")):
        try:
            s = json.loads(p.read_text())
        except (OSError, ValueError):
            c.error(TREE, est, f"cannot check against the per-clip summaries: {c.rel(p)} is unreadable")
            return
        if isinstance(s, dict) and "clip" in s and isinstance(s.get("means"), dict):
            summaries.append(s)
    if not summaries:
        return
    try:
        import pandas as pd

        csv_df = pd.read_csv(est, dtype={"ID": str})
        want = estimation_table(summaries).set_index("ID")
    except Exception as e:  # noqa: BLE001 - any parse problem is reported, not raised
        c.warn(TREE, est, f"cannot compare with the per-clip summaries: {e}")
        return
    if "ID" not in csv_df.columns:
        return
    have = csv_df.set_index("ID")
    stale = []
    for pid in sorted(set(have.index) - set(want.index)):
        c.error(TREE, est, f"participant {pid} has a row but no gait summary under gait_steps/{pid}/ (stale row?)")
    for pid in sorted(set(want.index) - set(have.index)):
        c.error(TREE, est, f"participant {pid} has gait summaries but no row (stale table?)")
    for pid in sorted(set(have.index) & set(want.index)):
        for col in naming.ESTIMATION_COLUMNS[1:]:
            if col not in have.columns:
                continue
            a, b = have.at[pid, col], want.at[pid, col]
            try:
                a = float(a)
            except (TypeError, ValueError):
                continue  # non-numeric: reported by check_csvs
            if np.isnan(a) and np.isnan(b):
                continue
            if np.isnan(a):
                c.warn(TREE, est, f"{pid} {col} is empty but the clip summaries give {b:.3f} (refused as implausible, or stale?)")
            elif np.isnan(b) or abs(a - b) > AGGREGATE_TOLERANCE:
                stale.append(f"{pid} {col} = {a:g}, summaries give {'nothing' if np.isnan(b) else f'{b:.3f}'}")
    if stale:
        c.error(TREE, est, f"{len(stale)} value(s) disagree with the per-clip summaries in gait_steps/ (stale table from an earlier run?): {'; '.join(stale[:4])}{' ...' if len(stale) > 4 else ''}")


# --------------------------------------------------------------------------- entry points


def _check_clip_job(args):
    return check_clip(*args)


def validate_tree(
    root: str | Path,
    sample_every: int = 1,
    frame_size: Optional[tuple[int, int]] = None,
    jobs: int = 1,
) -> Report:
    """Check the Health&Gait tree at ``root``.

    Args:
        root: the tree's root folder (holding ``pose/``, ``silhouette/`` ...).
        sample_every: decode every k-th image for the content checks (binary silhouettes,
            segmentation palette); sizes, names and counts are always checked for all files.
        frame_size: ``(width, height)`` px of the source videos, for the joint-coordinate
            check of clips that have no images; default: from each clip's images.
        jobs: clips checked in parallel (processes).

    Returns:
        A :class:`Report`; ``report.ok()`` is False when there is any error.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    c = _Collector(root)
    report = Report(str(root))
    known = set(naming.MODALITY_DIRS.values()) | set(SIDE_DIRS) | set(SIDE_FILES) | set(KNOWN_CSVS)
    present = set()
    holder = read_lock(root)
    if holder is not None:
        state = "stale: that process is gone" if lock_is_stale(holder) else "the tree may be incomplete or change while it is checked"
        c.warn(TREE, root / LOCK_NAME, f"a gaitprep run holds this tree ({holder_text(holder)}; {state})")
    for e in _entries(root, c, hidden="ignore"):
        if e.name not in known:
            c.warn(TREE, e, "not part of the Health&Gait layout (ignored)")
        present.add(e.name)
    if not present & set(naming.MODALITY_DIRS.values()):
        c.error(TREE, "", f"no modality folder found (expected some of {', '.join(naming.MODALITY_DIRS.values())})")
    clips = discover(root, c)
    check_csvs(root, c)
    check_side_outputs(root, c)
    check_aggregate(root, c)
    # modalities present for some clips but missing for others
    labels_any = {lbl for cf in clips.values() for lbl in cf.images} | ({"pose"} if any(cf.pose for cf in clips.values()) else set())
    for key, cf in sorted(clips.items()):
        have = set(cf.images) | ({"pose"} if cf.pose else set())
        missing = sorted(labels_any - have)
        if missing:
            c.warn(key, "", f"missing modalities other clips have: {', '.join(missing)}")
    tasks = [(root, cf, sample_every, frame_size) for _, cf in sorted(clips.items())]
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(_check_clip_job, tasks, chunksize=4))
    else:
        results = [check_clip(*t) for t in tasks]
    for issues, n in results:
        c.issues.extend(issues)
        report.files += n
    report.clips = len(clips)
    report.issues = c.issues
    return report


def _size_arg(s: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)[xX](\d+)", s)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in px, e.g. 960x540, not {s!r}")
    return int(m[1]), int(m[2])


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", help="root of a Health&Gait tree (published dataset or gaitprep output)")
    p.add_argument("--sample-every", type=int, default=1, metavar="K", help="decode every K-th image for content checks (default 1: all)")
    p.add_argument("--frame-size", type=_size_arg, metavar="WxH", help="source frame size for the joint-coordinate check when a clip has no images")
    p.add_argument("-j", "--jobs", type=int, default=1, help="clips checked in parallel (default 1)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH ('-' for stdout, replacing the text report)")
    p.add_argument("--errors-only", action="store_true", help="list only errors (warnings are still counted)")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")


def run(args: argparse.Namespace) -> int:
    """Run the validation for parsed arguments; print the report; return the exit status."""
    try:
        report = validate_tree(args.root, sample_every=max(1, args.sample_every), frame_size=args.frame_size, jobs=max(1, args.jobs))
    except FileNotFoundError as e:
        print(f"gaitprep validate: {e}", file=sys.stderr)
        return 2
    if args.json == "-":
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.format(show_warnings=not args.errors_only))
        if args.json:
            Path(args.json).write_text(json.dumps(report.to_dict(), indent=1))
    return 0 if report.ok(strict=args.strict) else 1


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``validate`` subcommand to a ``gaitprep`` CLI's subparsers."""
    p = subparsers.add_parser("validate", help="check a Health&Gait tree (names, suffixes, frames, images, pose JSON, CSVs)", description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def main(argv: Optional[Iterable[str]] = None) -> int:
    """``python -m gaitprep.healthgait.validate ROOT``; exit status 0 ok, 1 errors, 2 usage/missing root."""
    p = argparse.ArgumentParser(prog="gaitprep validate", description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    return run(p.parse_args(None if argv is None else list(argv)))


if __name__ == "__main__":
    sys.exit(main())
