"""Pose as a ``.trc`` marker file (Motion Analysis "Track Row Column"), the format OpenSim,
Pose2Sim and Sports2D read.

Format (OpenSim documentation, "Marker (.trc) Files"): tab-separated text; three header
lines (``PathFileType 4 (X/Y/Z) <file name>``; the names ``DataRate CameraRate NumFrames
NumMarkers Units OrigDataRate OrigDataStartFrame OrigNumFrames``; their values), two rows
of column labels (``Frame# Time <marker 1> '' '' <marker 2> ...`` and ``'' '' X1 Y1 Z1 X2
...``), a blank row, then one row per frame: frame number, time (s), then X, Y, Z of each
marker. A marker not seen in a frame has three empty cells (OpenSim reads them as missing,
NaN), never zeros.

What gaitprep writes, from a clip's pose JSON (:mod:`gaitprep.results`: full-frame px, x
right, y down, origin at the top-left image corner):

* ``Frame#``: the source frame index (0-based, as in the pose JSON and the ``NNN`` file
  names of the tree); ``Time`` = ``Frame# / fps`` s, the time in the source video;
  ``OrigDataStartFrame`` = the first ``Frame#``. Every record of the pose JSON is one row
  (frames with ``"joints": null`` have only empty cells).
* pixels (``Units px``): ``X = x``, ``Y = H - y`` (flipped to point up, origin at the
  *bottom*-left image corner, ``H`` = the video's height from the pose provenance),
  ``Z = 0`` (the image plane).
* metres (``Units m``), only when the clip has a uniform px/cm scale at the walking plane
  (gait calibration ``px_per_cm`` or ``height``, as read from the clip's gait summary JSON,
  or given): the pixel coordinates divided by ``100 * px_per_cm``. Same axes and origin. The
  scale holds in the plane the person walks in, seen by a static side-view camera (the
  assumption of the gait lengths, docs/gait.md); the floor homography of the
  ``sensor_bars`` calibration maps floor points only, so no metre file is written for it.
* markers: the joints present in the file, in Halpe-26 order (COCO-17, then head, neck,
  hip, toes, heels), named as Pose2Sim/Sports2D name them (``Nose``, ``LShoulder``,
  ``RBigToe``, ``Hip``...; :func:`marker_name`). A joint is written when its ``score`` is
  above ``min_score`` (default 0: BlazePose's landmarks outside the image, clipped with
  score 0, are left empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError
from ..results import HALPE26

#: the TRC header's field names (line 2), in order
HEADER_FIELDS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
                 "OrigDataStartFrame", "OrigNumFrames")  # fmt: skip
#: decimals written per unit (px: 1e-4 px; m: 1e-7 m)
DECIMALS = {"px": 4, "m": 7}
#: calibration methods whose scale is uniform in the image (px / cm at the walking plane)
UNIFORM_SCALE_METHODS = ("px_per_cm", "height")


def marker_name(joint: str) -> str:
    """Pose2Sim/Sports2D marker name of a gaitprep joint: ``l_big_toe`` -> ``LBigToe``,
    ``r_shoulder`` -> ``RShoulder``, ``nose`` -> ``Nose``, ``hip`` -> ``Hip``."""
    parts = joint.split("_")
    side = {"l": "L", "r": "R"}.get(parts[0]) if len(parts) > 1 else None
    body = parts[1:] if side else parts
    return (side or "") + "".join(p[:1].upper() + p[1:] for p in body)


@dataclass
class Markers:
    """Marker trajectories of one clip, in image px (y down), on the pose JSON's frames.

    Attributes:
        frames: ``(T,)`` int64 source frame indices, in file order.
        joints: joint names (gaitprep's), one per marker.
        xy: ``(T, M, 2)`` float64 px (x right, y down); NaN where the joint is missing.
        fps: frames per second of the source video.
        height: image height, px (for the y flip).
        source: the pose JSON's path (for messages).
    """

    frames: np.ndarray
    joints: list[str]
    xy: np.ndarray
    fps: float
    height: int
    source: str = "<records>"
    missing: dict = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        """``(T,)`` s: ``frames / fps``."""
        return self.frames / float(self.fps)


def markers_from_records(records: Sequence[dict], fps: float, height: int, source: str = "<records>",
                         min_score: float = 0.0) -> Markers:  # fmt: skip
    """Build :class:`Markers` from the spec's pose records.

    Raises:
        InputError: no records, a record without an integer ``frame``, frames not strictly
            increasing, a joint without numeric ``x``/``y``, or a non-positive fps/height
            (the message names ``source``).
    """
    if not (fps and float(fps) > 0):
        raise InputError(f"{source}: fps must be positive, got {fps!r}")
    if not (height and int(height) > 0):
        raise InputError(f"{source}: image height must be positive, got {height!r} (needed to flip y up)")
    from ..gait.io import record_frames

    recs, frames = record_frames(records, source)
    if len(frames) > 1 and not np.all(np.diff(frames) > 0):
        raise InputError(f"{source}: frames are not strictly increasing")
    seen: set[str] = set()
    for r in recs:
        j = r.get("joints")
        if j is not None and not isinstance(j, dict):
            raise InputError(f"{source}: frame {r['frame']}: 'joints' must be an object or null")
        seen.update(j or {})
    joints = [n for n in HALPE26 if n in seen] + sorted(seen - set(HALPE26))
    xy = np.full((len(recs), len(joints), 2), np.nan)
    col = {n: k for k, n in enumerate(joints)}
    low = 0
    for t, r in enumerate(recs):
        for name, j in (r.get("joints") or {}).items():
            if j is None:
                continue
            try:
                x, y, s = float(j["x"]), float(j["y"]), float(j.get("score", 1.0))
            except (KeyError, TypeError, ValueError) as e:
                raise InputError(f"{source}: frame {r['frame']}: joint {name!r} needs numeric x, y ({e})") from e
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            if s <= min_score:
                low += 1
                continue
            xy[t, col[name]] = (x, y)
    missing = {"frames_without_person": int(sum(1 for r in recs if not r.get("joints"))),
               "joints_below_min_score": low, "min_score": min_score}  # fmt: skip
    return Markers(frames, joints, xy, float(fps), int(height), source, missing)


def load_markers(pose_json: str | Path, fps: float, height: int, min_score: float = 0.0) -> Markers:
    """:func:`markers_from_records` of a pose JSON file.

    Raises:
        InputError: the file is missing, not JSON, not a list, or malformed (see above).
    """
    from ..gait.io import read_json_file

    data = read_json_file(pose_json, "pose JSON not found")
    if not isinstance(data, list):
        raise InputError(f"{pose_json}: pose JSON must be a list of per-frame records")
    return markers_from_records(data, fps, height, str(pose_json), min_score)


def to_trc_coordinates(m: Markers, px_per_m: Optional[float] = None) -> np.ndarray:
    """``(T, M, 3)`` TRC coordinates: ``X = x``, ``Y = H - y``, ``Z = 0`` in px, or divided by
    ``px_per_m`` (metres) when given. NaN where missing (all three)."""
    out = np.empty(m.xy.shape[:2] + (3,))
    out[..., 0] = m.xy[..., 0]
    out[..., 1] = m.height - m.xy[..., 1]
    out[..., 2] = np.where(np.isnan(m.xy[..., 0]), np.nan, 0.0)
    if px_per_m is not None:
        if not px_per_m > 0:
            raise ValueError(f"px_per_m must be positive, got {px_per_m}")
        out /= float(px_per_m)
    return out


def format_trc(m: Markers, units: str, file_name: str, px_per_m: Optional[float] = None) -> str:
    """The text of a ``.trc`` file (module docstring): ``units`` ``"px"`` (then ``px_per_m``
    is None) or ``"m"`` (``px_per_m`` = px per metre at the walking plane)."""
    if units not in DECIMALS:
        raise ValueError(f"units must be one of {tuple(DECIMALS)}, got {units!r}")
    if (units == "m") != (px_per_m is not None):
        raise ValueError("metres need px_per_m; pixels take none")
    xyz = to_trc_coordinates(m, px_per_m)
    nd = DECIMALS[units]
    T, M = xyz.shape[:2]
    rate = f"{m.fps:.6g}"
    lines = [
        "\t".join(("PathFileType", "4", "(X/Y/Z)", file_name)),
        "\t".join(HEADER_FIELDS),
        "\t".join((rate, rate, str(T), str(M), units, rate, str(int(m.frames[0])), str(T))),
        "\t".join(["Frame#", "Time"] + [c for j in m.joints for c in (marker_name(j), "", "")]),
        "\t".join(["", ""] + [f"{a}{k + 1}" for k in range(M) for a in "XYZ"]),
        "",
    ]
    times = m.times
    for t in range(T):
        cells = [str(int(m.frames[t])), f"{times[t]:.6f}"]
        for k in range(M):
            if np.isnan(xyz[t, k, 0]):
                cells += ["", "", ""]
            else:
                cells += [f"{v:.{nd}f}" for v in xyz[t, k]]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def read_trc(path: str | Path):
    """Read a ``.trc`` file written by :func:`format_trc` (or any tab-separated TRC) with
    pandas. Returns ``(header: dict, data: DataFrame)``: header fields as strings; data
    columns ``Frame#``, ``Time`` and ``<marker>_X/_Y/_Z`` (float, NaN where empty)."""
    import pandas as pd

    with open(path) as f:
        lines = [f.readline().rstrip("\n") for _ in range(5)]
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    names = [n for n in lines[3].split("\t")[2:] if n]
    cols = ["Frame#", "Time"] + [f"{n}_{a}" for n in names for a in "XYZ"]
    data = pd.read_csv(path, sep="\t", skiprows=5, header=None, names=cols, skip_blank_lines=True,
                       dtype={c: float for c in cols[1:]}, keep_default_na=False, na_values=[""])  # fmt: skip
    return header, data


def scale_from_summary(summary_path: str | Path) -> tuple[Optional[float], str]:
    """The clip's uniform scale (px per cm at the walking plane) from its gait summary JSON
    (``calibration`` block written by ``gaitprep gait-clip``), and a sentence saying where
    it came from or why there is none. Returns ``(px_per_cm | None, reason)``.

    Raises:
        InputError: the file is missing or not JSON.
    """
    from ..gait.io import read_json_file

    s = read_json_file(summary_path, "gait summary JSON not found")
    cal = s.get("calibration") if isinstance(s, dict) else None
    if not isinstance(cal, dict):
        return None, f"{summary_path}: no calibration block"
    method = cal.get("method")
    if cal.get("error"):
        return None, f"gait calibration ({method}) failed: {cal['error']}"
    if method not in UNIFORM_SCALE_METHODS:
        return None, (f"gait calibration method {method!r} is a floor-plane homography, not a uniform scale: "
                      "body points above the floor cannot be put in metres with it")  # fmt: skip
    ppc = cal.get("px_per_cm")
    try:
        ppc = float(ppc)
    except (TypeError, ValueError):
        return None, f"gait calibration ({method}) has no px_per_cm"
    if not (math.isfinite(ppc) and ppc > 0):
        return None, f"gait calibration ({method}) has px_per_cm {ppc}"
    return ppc, f"gait calibration {method!r} of {summary_path}: {ppc:g} px/cm"


def export_trc(pose_json: str | Path, provenance: str | Path, out_px: str | Path, out_m: Optional[str | Path] = None,
               info_json: Optional[str | Path] = None, summary: Optional[str | Path] = None,
               px_per_cm: Optional[float] = None, min_score: float = 0.0) -> dict:  # fmt: skip
    """Write a clip's pose as ``out_px`` (pixels) and, when a scale is known, ``out_m``
    (metres); each file atomically. The scale is ``px_per_cm`` when given, else the gait
    summary's (:func:`scale_from_summary`); without one no metre file is written and a
    metre file left from an earlier run is removed (a stale one would disagree). fps and
    image height come from the pose job's provenance JSON (``video.fps``, ``video.height``).

    Returns:
        The description also written to ``info_json``: files, units, axes, scale and its
        source (or why there is none), frame and marker counts, missing cells.

    Raises:
        InputError: a missing or malformed input (the message names the file).
    """
    from ..gait.io import read_provenance_video
    from ..healthgait.writers import atomic_path, write_json_atomic

    video = read_provenance_video(provenance)
    if not video.get("height"):
        raise InputError(f"{provenance}: provenance has no video.height (needed to flip y up)")
    m = load_markers(pose_json, float(video["fps"]), int(video["height"]), min_score)
    if px_per_cm is not None:
        if not px_per_cm > 0:
            raise InputError(f"px_per_cm must be positive, got {px_per_cm}")
        ppc, why = float(px_per_cm), f"given: {px_per_cm:g} px/cm"
    elif summary is not None:
        ppc, why = scale_from_summary(summary)
    else:
        ppc, why = None, "no calibration given (no gait summary): pixels only"
    files = {}
    with atomic_path(out_px) as tmp:
        Path(tmp).write_text(format_trc(m, "px", Path(out_px).name))
    files["px"] = str(out_px)
    if out_m is not None:
        if ppc is not None:
            with atomic_path(out_m) as tmp:
                Path(tmp).write_text(format_trc(m, "m", Path(out_m).name, px_per_m=100.0 * ppc))
            files["m"] = str(out_m)
        elif Path(out_m).exists():
            Path(out_m).unlink()
    n_missing = int(np.isnan(m.xy[..., 0]).sum())
    info = {
        "source": str(pose_json), "provenance": str(provenance), "files": files,
        "frames": int(len(m.frames)), "first_frame": int(m.frames[0]), "fps": m.fps, "image_height_px": m.height,
        "markers": [marker_name(j) for j in m.joints], "joints": m.joints,
        "axes": "X = x px (right), Y = image height - y px (up, origin at the bottom-left image corner), Z = 0",
        "time": "Time = Frame# / fps s (source frame index, 0-based)",
        "metres": ({"px_per_cm": ppc, "px_per_m": 100.0 * ppc, "source": why,
                    "assumes": "a uniform scale in the walking plane (static side-view camera)"}
                   if ppc is not None and out_m is not None else None),
        "no_metres_reason": None if ppc is not None else why,
        "empty_marker_cells": n_missing, **m.missing,
    }  # fmt: skip
    if info_json is not None:
        write_json_atomic(info_json, info)
    return info
