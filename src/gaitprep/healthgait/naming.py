"""The Health&Gait tree: every path gaitprep writes is named here and nowhere else.

Layout (``../shared/spec/healthgait.md``)::

    <root>/pose/<PID>/<GT>/<WC>_<clip>_AlphaPose.json
    <root>/silhouette/<PID>/<GT>/<WC>_<clip>_YOLOV8/NNN.jpg
    <root>/semantic_segmentation/<PID>/<GT>/<WC>_<clip>_DensePose/NNN.png
    <root>/optical_flow/<PID>/<GT>/<METHOD>/<WC>_<clip>/NNN.png
    <root>/gait_parameters_estimation.csv

The folder suffixes are part of the contract whatever backend made the files; the
backend is recorded in ``<root>/provenance/`` instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

GAIT_TYPES = ("UGS", "FGS")
WALK_CLASSES = {"UGS": ("NW-WJ", "NW-WoJ"), "FGS": ("FW-WJ", "FW-WoJ")}
ALL_WALK_CLASSES = tuple(w for ws in WALK_CLASSES.values() for w in ws)
CLIPS = ("1", "2")
#: Health&Gait's participant IDs: ``PA`` + 3 or more digits
DEFAULT_PARTICIPANT_PATTERN = r"PA[0-9][0-9][0-9]+"
#: environment variable holding another participant-ID pattern (jobs inherit it from the
#: workflow, which sets it from config ``participant_id``)
PARTICIPANT_ENV = "GAITPREP_PARTICIPANT_ID"
PARTICIPANT_RE = re.compile(rf"^(?:{os.environ.get(PARTICIPANT_ENV) or DEFAULT_PARTICIPANT_PATTERN})$")


def set_participant_pattern(pattern: str) -> None:
    """Accept participant IDs matching ``pattern`` (a regular expression, full match) in this
    process and, through :data:`PARTICIPANT_ENV`, in the processes it starts."""
    global PARTICIPANT_RE
    PARTICIPANT_RE = re.compile(rf"^(?:{pattern})$")
    os.environ[PARTICIPANT_ENV] = pattern
MODALITIES = ("pose", "silhouette", "segmentation", "flow")
FLOW_METHODS = ("TVL1", "GMFLOW")

#: top-level folder per modality
MODALITY_DIRS = {
    "pose": "pose",
    "silhouette": "silhouette",
    "segmentation": "semantic_segmentation",
    "flow": "optical_flow",
}
#: contract suffix per modality (pose is a file suffix, the others folder suffixes)
SUFFIX = {"pose": "_AlphaPose", "silhouette": "_YOLOV8", "segmentation": "_DensePose"}
#: image extension per modality
IMAGE_EXT = {"silhouette": ".jpg", "segmentation": ".png", "flow": ".png"}
ESTIMATION_CSV = "gait_parameters_estimation.csv"
#: participants_measures.csv columns, as the spec lists them (compared with
#: :func:`column_key`: ignoring case, spaces and underscores)
MEASURES_COLUMNS = [
    "ID", "Sex", "Age", "PA_level", "Height", "Weight", "BMI", "WaistC", "HipC", "NeckC",
    "Percentage fat mass", "Lean mass",
]  # fmt: skip


def column_key(col: str) -> str:
    """A table column's name as the contract compares it: lower case, no spaces or
    underscores (``"Percentage fat mass"`` and ``"percentage_fat_mass"`` are one column)."""
    return re.sub(r"[\s_]+", "", col.strip().lower())


ESTIMATION_COLUMNS = ["ID"] + [
    f"{p}_{g}" for g in GAIT_TYPES for p in ("Step", "Stride", "Cadence", "MonoSP", "BiSP", "Speed")
]


@dataclass(frozen=True, order=True)
class ClipId:
    """One clip: ``{participant}/{gait_type}/{walk_class}_{clip}``.

    Raises:
        ValueError: on a participant not ``PA`` + digits, an unknown gait type, a walk
            class that does not belong to the gait type (NW-* is UGS, FW-* is FGS), or a
            clip other than ``1``/``2``.
    """

    participant: str
    gait_type: str
    walk_class: str
    clip: str

    def __post_init__(self) -> None:
        problems = validate_clip_fields(self.participant, self.gait_type, self.walk_class, self.clip)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def stem(self) -> str:
        """``<walk_class>_<clip>``, e.g. ``NW-WJ_1``."""
        return f"{self.walk_class}_{self.clip}"

    @property
    def key(self) -> str:
        """``PA000/UGS/NW-WJ_1``: the clip's unique id, used in wildcards and logs."""
        return f"{self.participant}/{self.gait_type}/{self.stem}"

    @classmethod
    def from_key(cls, key: str) -> "ClipId":
        """Parse ``PA000/UGS/NW-WJ_1`` (the inverse of :attr:`key`)."""
        m = re.fullmatch(r"([^/]+)/([^/]+)/(.+)_([^_/]+)", key)
        if not m:
            raise ValueError(f"not a clip id of the form PID/GT/WALKCLASS_CLIP: {key!r}")
        return cls(*m.groups())

    def __str__(self) -> str:
        return self.key


def validate_clip_fields(participant: str, gait_type: str, walk_class: str, clip: str) -> list[str]:
    """Return the list of problems with one clip's naming fields (empty when valid)."""
    problems = []
    if not PARTICIPANT_RE.match(str(participant)):
        pat = PARTICIPANT_RE.pattern[4:-2]
        want = (
            "PA followed by 3 or more digits, e.g. PA007"
            if pat == DEFAULT_PARTICIPANT_PATTERN
            else f"an ID matching participant_id {pat!r}"
        )
        problems.append(f"bad participant ID {participant!r} (expected {want})")
    if gait_type not in GAIT_TYPES:
        problems.append(f"unknown gait type {gait_type!r} (expected one of {', '.join(GAIT_TYPES)})")
    elif walk_class not in WALK_CLASSES[gait_type]:
        if walk_class in ALL_WALK_CLASSES:
            problems.append(
                f"walk class {walk_class!r} is inconsistent with gait type {gait_type!r} "
                f"(NW-* walks are UGS, FW-* walks are FGS)"
            )
        else:
            problems.append(f"unknown walk class {walk_class!r} (expected one of {', '.join(ALL_WALK_CLASSES)})")
    if str(clip) not in CLIPS:
        problems.append(f"bad clip {clip!r} (expected 1 or 2)")
    return problems


def frame_name(index: int, width: int = 3) -> str:
    """Zero-padded source frame index: ``frame_name(7) == '007'``."""
    return f"{index:0{width}d}"


def frame_width(last_index: int) -> int:
    """Digits used for a clip whose largest frame index is ``last_index`` (at least 3)."""
    return max(3, len(str(max(int(last_index), 0))))


def pose_path(root: str | Path, c: ClipId) -> Path:
    """``<root>/pose/<PID>/<GT>/<WC>_<clip>_AlphaPose.json``."""
    return Path(root) / "pose" / c.participant / c.gait_type / f"{c.stem}_AlphaPose.json"


def silhouette_dir(root: str | Path, c: ClipId) -> Path:
    """``<root>/silhouette/<PID>/<GT>/<WC>_<clip>_YOLOV8``."""
    return Path(root) / "silhouette" / c.participant / c.gait_type / f"{c.stem}_YOLOV8"


def segmentation_dir(root: str | Path, c: ClipId) -> Path:
    """``<root>/semantic_segmentation/<PID>/<GT>/<WC>_<clip>_DensePose``."""
    return Path(root) / "semantic_segmentation" / c.participant / c.gait_type / f"{c.stem}_DensePose"


def flow_dir(root: str | Path, c: ClipId, method: str) -> Path:
    """``<root>/optical_flow/<PID>/<GT>/<METHOD>/<WC>_<clip>`` (no model suffix, per the spec)."""
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method folder {method!r} (expected one of {', '.join(FLOW_METHODS)})")
    return Path(root) / "optical_flow" / c.participant / c.gait_type / method / c.stem


def output_path(root: str | Path, c: ClipId, modality: str, method: str | None = None) -> Path:
    """The file (pose) or folder (image modalities) one (clip, modality) job produces."""
    if modality == "pose":
        return pose_path(root, c)
    if modality == "silhouette":
        return silhouette_dir(root, c)
    if modality == "segmentation":
        return segmentation_dir(root, c)
    if modality == "flow":
        return flow_dir(root, c, method or "TVL1")
    raise ValueError(f"unknown modality {modality!r} (expected one of {', '.join(MODALITIES)})")


def provenance_path(root: str | Path, c: ClipId, modality: str, method: str | None = None) -> Path:
    """``<root>/provenance/<PID>/<GT>/<WC>_<clip>.<modality>[.<METHOD>].json``: which backend made it."""
    tag = modality if method is None else f"{modality}.{method}"
    return Path(root) / "provenance" / c.participant / c.gait_type / f"{c.stem}.{tag}.json"


def gait_steps_path(root: str | Path, c: ClipId) -> Path:
    """``<root>/gait_steps/<PID>/<GT>/<WC>_<clip>.parquet``: one row per step."""
    return Path(root) / "gait_steps" / c.participant / c.gait_type / f"{c.stem}.parquet"


def gait_summary_path(root: str | Path, c: ClipId) -> Path:
    """``<root>/gait_steps/<PID>/<GT>/<WC>_<clip>.summary.json``: the clip's parameters."""
    return Path(root) / "gait_steps" / c.participant / c.gait_type / f"{c.stem}.summary.json"
