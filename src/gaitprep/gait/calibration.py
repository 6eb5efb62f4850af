"""Pixel -> floor-plane cm calibration of a clip.

Three methods, chosen per clip in the config (``calibration`` JSON object, key ``method``):

``px_per_cm``  ``{"method": "px_per_cm", "px_per_cm": 3.1}``: a uniform scale at the
    walking plane; floor position = image position / scale.

``sensor_bars``  ``{"method": "sensor_bars", "sensor_bars": PATH_or_dict,
    "walkway_length_m": 4.2}``: the Health&Gait set-up. The JSON holds four boxes
    ``"0".."3"`` (``x_min, y_min, x_max, y_max`` px) around the ends of the two OptoGait
    bars lying on the floor along the walkway. As in the Health&Gait estimation code,
    the top-left corners of boxes 0 and 1 mark the start line of the walkway (box 0 on
    one bar, box 1 on the other) and the top-right corners of boxes 2 and 3 mark the end
    line (box 2 on the same bar as box 0). These four floor points are the corners of a
    rectangle ``walkway_length`` long; :func:`cv2.findHomography` maps them to
    ``(0, 0), (0, W), (L, 0), (L, W)`` cm. Only the along-walkway coordinate is used for
    step and stride lengths, and it does not depend on the bar separation ``W``
    (``walkway_width_cm``, default 100: rescaling the second axis composes the
    homography with a diagonal matrix, which leaves the first coordinate unchanged).
    Feet are projected at their heel (or ankle) keypoint, assumed to lie on the floor
    at contact; the ankle is ~7 cm above it, a small error at a side-view camera.

``height``  ``{"method": "height", "participants_measures": CSV, "participant": "PA000"}``
    or ``{"method": "height", "height_cm": 172}``: the default. The participant's
    stature H (column ``Height`` of ``participants_measures.csv``, cm) against the body's
    pixel height: per usable mid-pass frame, the vertical distance from the nose to the
    lower ankle; the median over frames divided by f x H gives px/cm, with f the
    nose-to-ankle fraction of the stature where the pose model puts the ankle
    (:func:`nose_ankle_fraction`: :data:`NOSE_ANKLE_FRACTION_BY_BACKEND` for the pose
    backend, else the anatomical :data:`NOSE_ANKLE_FRACTION`; ``"nose_ankle_fraction"``
    in the config overrides it). Uniform scale at the walking plane, as for ``px_per_cm``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import CalibrationError
from ..healthgait.naming import column_key
from ..healthgait.tables import read_rows, width_problem
from .io import read_json_file

#: Vertical nose-to-ankle distance of a walking adult as a fraction of stature. Standing
#: anthropometry (Drillis & Contini 1966, as tabulated in Winter 2009, fig. 4.1): eye
#: height 0.936 H, chin 0.870 H, so the nose tip is at about 0.91 H; the lateral
#: malleolus (the pose "ankle") is at 0.039 H, giving 0.87 H standing. While walking the
#: head is on average ~1 % of H lower than standing (vertical excursion of the trunk and
#: a slight forward lean of trunk and head), hence 0.86.
NOSE_ANKLE_FRACTION = 0.86
#: The same where a pose model puts its "ankle" elsewhere than the lateral malleolus.
#: BlazePose's ankle keypoint of the stance foot is 7.84 % of the nose-to-ankle height
#: above the sole (median of the eight labelled real videos, measured against the bottom
#: of BlazePose's own person mask; the project's rendered walkers 7.83 %, their mask
#: bottom within 0.8 % of the true floor): ~6.5 % of H, not 3.9 %. With the nose at 0.90 H
#: above the floor while walking (the derivation above), nose-to-ankle = 0.90 / 1.0784 =
#: 0.8345 H barefoot; a shoe sole of s cm raises the nose too and adds s / H / 1.0784
#: (0.0055 per cm at 170 cm): 0.84 assumes 1 cm (the barefoot real walker, 7.14 %, gives
#: 0.840; barefoot 0.8345 makes lengths 0.7 % too long, 2.5 cm soles 1.0 % too short).
#: ``bench/gait_accuracy.py --scale --heldout-videos DIR`` prints the measurement; the
#: height-calibrated lengths of the renderer sweeps, ``--sweep-only SEED,N``, check it.
#: Other backends (COCO/Halpe ankles, annotated at the malleolus) keep the anatomical
#: value, which is not measured here.
NOSE_ANKLE_FRACTION_BY_BACKEND: dict = {"blazepose": 0.84}
#: the range a configured ``nose_ankle_fraction`` must lie in
NOSE_ANKLE_FRACTION_RANGE = (0.7, 0.95)


def nose_ankle_fraction(backend: Optional[str]) -> float:
    """The nose-to-ankle height as a fraction of stature for keypoints of pose ``backend``
    (the name in the pose provenance, e.g. ``"blazepose"``; None or unknown: the
    anatomical :data:`NOSE_ANKLE_FRACTION`)."""
    return float(NOSE_ANKLE_FRACTION_BY_BACKEND.get(backend or "", NOSE_ANKLE_FRACTION))

METHODS = ("px_per_cm", "sensor_bars", "height")
DEFAULT_WALKWAY_M = 4.2


@dataclass
class Calibration:
    """Maps image px to floor-plane cm.

    Attributes:
        method: one of :data:`METHODS`.
        px_per_cm: the uniform scale (``px_per_cm`` and ``height`` methods).
        homography: ``(3, 3)`` image px -> floor cm (``sensor_bars``).
        info: what went in (for the summary JSON).
    """

    method: str
    px_per_cm: Optional[float] = None
    homography: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)

    def to_floor(self, pts: np.ndarray) -> np.ndarray:
        """``(N, 2)`` px -> ``(N, 2)`` cm (x along the image / walkway). NaN stays NaN."""
        pts = np.asarray(pts, float).reshape(-1, 2)
        if self.homography is not None:
            h = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ self.homography.T
            return h[:, :2] / h[:, 2:3]
        return pts / float(self.px_per_cm)

    def describe(self) -> dict:
        d = {"method": self.method, **self.info}
        if self.px_per_cm is not None:
            d["px_per_cm"] = round(float(self.px_per_cm), 4)
        if self.homography is not None:
            d["homography"] = [[round(float(v), 8) for v in row] for row in self.homography]
        return d


def sensor_bar_homography(boxes: dict, walkway_length_m: float = DEFAULT_WALKWAY_M, walkway_width_cm: float = 100.0, source: str = "sensor bars") -> np.ndarray:
    """Image px -> floor cm homography from the four sensor-bar boxes (module docstring).

    Raises:
        CalibrationError: a box ``"0".."3"`` or one of its coordinates is missing, or the
            four points are degenerate.
    """
    import cv2

    pts = []
    for key, xk in (("0", "x_min"), ("1", "x_min"), ("2", "x_max"), ("3", "x_max")):
        b = boxes.get(key) if isinstance(boxes, dict) else None
        if not isinstance(b, dict) or xk not in b or "y_min" not in b:
            raise CalibrationError(f"{source}: sensor-bar box {key!r} with {xk} and y_min is missing")
        pts.append((float(b[xk]), float(b["y_min"])))
    L = float(walkway_length_m) * 100.0
    W = float(walkway_width_cm)
    dst = np.array([(0, 0), (0, W), (L, 0), (L, W)], float)
    H, _ = cv2.findHomography(np.array(pts, float), dst)
    if H is None or not np.all(np.isfinite(H)):
        raise CalibrationError(f"{source}: the four sensor-bar points are degenerate (collinear or repeated)")
    return H


def body_height_px(series, passes, min_frames: int = 5) -> Optional[float]:
    """Median vertical nose-to-lower-ankle distance (px) over the middle half of each pass.

    Returns None when fewer than ``min_frames`` frames have nose and ankles.
    """
    vals = []
    for p in passes:
        n = p.stop - p.start
        a, b = p.start + n // 4, p.stop - n // 4
        nose = series.xy["nose"][a:b, 1]
        ank = np.fmax(series.xy["l_ankle"][a:b, 1], series.xy["r_ankle"][a:b, 1])
        h = ank - nose
        vals += list(h[np.isfinite(h) & (h > 0)])
    if len(vals) < min_frames:
        return None
    return float(np.median(vals))


#: plausible stature (cm); outside, the Height cell is an error (a stature in metres, 1.72, is the usual cause)
HEIGHT_RANGE_CM = (50.0, 250.0)


def read_measures(csv_path: str | Path, participants=None) -> dict:
    """Parse and check the ``ID`` and ``Height`` columns of a ``participants_measures.csv``.

    The delimiter (comma, semicolon or tab) is taken from the header line; column names
    are compared ignoring case, spaces and underscores (``height`` is ``Height``). Checked, for the
    rows of ``participants`` (an iterable of IDs; all rows when None): the row has as many
    fields as the header (a decimal comma in a comma-separated file adds one), the ID is
    not repeated anywhere in the file, and ``Height`` parses as a number (a decimal comma,
    ``172,5``, does not) within :data:`HEIGHT_RANGE_CM`.

    Returns:
        ``{ID: {"height_cm": float, "line": int, "row": str}}`` for the checked rows
        (``line`` is the 1-based line number in the file, ``row`` its text).

    Raises:
        CalibrationError: the file is missing, lacks the columns, or any check fails;
            the message names the file and, for every problem, the line and the value.
    """
    p = Path(csv_path)
    if not p.is_file():
        raise CalibrationError(f"height calibration: participants_measures file {p} not found")
    if not p.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        raise CalibrationError(f"height calibration: {p} is empty")
    delim, header, rows = read_rows(p)
    keys = [column_key(h) for h in header]  # as the tree's table and the validator compare them
    if "id" not in keys or "height" not in keys:
        raise CalibrationError(f"height calibration: {p} has no ID and Height columns (has {header})")
    i_id, i_h = keys.index("id"), keys.index("height")
    want = None if participants is None else {str(x) for x in participants}
    seen: dict = {}
    for n, r in rows:
        pid = r[i_id].strip() if len(r) > i_id else ""
        seen.setdefault(pid, []).append(n)
    problems, out = [], {}
    for n, r in rows:
        pid = r[i_id].strip() if len(r) > i_id else ""
        if want is not None and pid not in want:
            continue
        where = f"{p} line {n}"
        if len(seen.get(pid, [])) > 1:
            if seen[pid][0] == n:
                problems.append(f"{where}: participant {pid} appears on lines {', '.join(map(str, seen[pid]))} (duplicate ID: which height is right?)")
            continue
        if bad := width_problem(r, header, delim):
            problems.append(f"{where}: {bad}: {delim.join(r)!r}")
            continue
        cell = r[i_h].strip()
        try:
            h = float(cell)
        except ValueError:
            hint = " (a decimal comma? write 172.5)" if "," in cell else ""
            problems.append(f"{where}: Height of {pid} is not a number: {cell!r}{hint}")
            continue
        lo, hi = HEIGHT_RANGE_CM
        if not (np.isfinite(h) and lo <= h <= hi):
            hint = " (looks like metres: give the stature in cm, e.g. 172)" if 0.5 <= h <= 2.5 else ""
            problems.append(f"{where}: Height of {pid} is {cell}, outside {lo:g}-{hi:g} cm{hint}")
            continue
        out[pid] = {"height_cm": h, "line": n, "row": delim.join(r)}
    if problems:
        raise CalibrationError("participants_measures: " + "; ".join(problems))
    return out


def participant_height(csv_path: str | Path, participant: str) -> float:
    """Stature (cm) of ``participant`` from a ``participants_measures.csv`` (columns ID, Height),
    checked by :func:`read_measures`.

    Raises:
        CalibrationError: the file is missing, lacks the columns, has no row for the
            participant, or the row fails a check of :func:`read_measures`.
    """
    rows = read_measures(csv_path, [participant])
    if participant not in rows:
        raise CalibrationError(f"height calibration: participant {participant} not in {csv_path}")
    return float(rows[participant]["height_cm"])


def parse_calibration_config(cfg) -> dict:
    """Accept a dict, a JSON string, or None (-> height method). Raises CalibrationError on bad JSON."""
    if cfg is None or cfg == "":
        return {"method": "height"}
    if isinstance(cfg, str):
        try:
            cfg = json.loads(cfg)
        except json.JSONDecodeError as e:
            raise CalibrationError(f"calibration: not a JSON object: {cfg!r} ({e})") from e
    if not isinstance(cfg, dict):
        raise CalibrationError(f"calibration: expected a JSON object, got {cfg!r}")
    cfg = dict(cfg)
    cfg.setdefault("method", "height")
    if cfg["method"] not in METHODS:
        raise CalibrationError(f"calibration: unknown method {cfg['method']!r} (expected one of {', '.join(METHODS)})")
    return cfg


def make_calibration(cfg, participant: Optional[str], height_px: Callable[[], Optional[float]],
                     backend: Optional[str] = None) -> Calibration:  # fmt: skip
    """Build a clip's :class:`Calibration` from its config (module docstring).

    Args:
        cfg: dict / JSON string / None.
        participant: the clip's participant ID (for the height lookup).
        height_px: called lazily for the ``height`` method; returns the body's pixel
            height (see :func:`body_height_px`) or None when it cannot be measured.
        backend: the pose backend that placed the keypoints (``height`` method: selects
            :func:`nose_ankle_fraction` unless the config gives ``nose_ankle_fraction``).

    Raises:
        CalibrationError: an input the method needs is missing (named in the message).
            A body that cannot be measured in the video is *not* an error: the returned
            calibration then has ``px_per_cm=None`` and ``info["error"]`` says why.
    """
    cfg = parse_calibration_config(cfg)
    m = cfg["method"]
    if m == "px_per_cm":
        v = cfg.get("px_per_cm")
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = None
        if not v or v <= 0:
            raise CalibrationError("px_per_cm calibration: a positive 'px_per_cm' value is missing")
        return Calibration("px_per_cm", px_per_cm=v)
    if m == "sensor_bars":
        src = cfg.get("sensor_bars")
        if src is None:
            raise CalibrationError("sensor_bars calibration: 'sensor_bars' (the clip's boxes JSON file) is missing")
        if isinstance(src, (str, Path)):
            p = Path(src)
            boxes = read_json_file(p, "sensor_bars calibration: boxes file not found", CalibrationError)
            where = str(p)
        else:
            boxes, where = src, "sensor_bars"
        L = float(cfg.get("walkway_length_m", DEFAULT_WALKWAY_M))
        H = sensor_bar_homography(boxes, L, float(cfg.get("walkway_width_cm", 100.0)), where)
        return Calibration("sensor_bars", homography=H, info={"walkway_length_m": L, "sensor_bars": where})
    # height
    if cfg.get("height_cm") is not None:
        try:
            stature = float(cfg["height_cm"])
        except (TypeError, ValueError):
            raise CalibrationError(f"height calibration: height_cm must be a number, not {cfg['height_cm']!r}") from None
        lo, hi = HEIGHT_RANGE_CM
        if not (lo <= stature <= hi):
            hint = " (looks like metres: give the stature in cm)" if 0.5 <= stature <= 2.5 else ""
            raise CalibrationError(f"height calibration: height_cm {stature:g} is outside {lo:g}-{hi:g} cm{hint}")
        origin = "height_cm"
    else:
        csv = cfg.get("participants_measures")
        if not csv:
            raise CalibrationError(
                "height calibration: neither 'height_cm' nor a 'participants_measures' CSV is given "
                "(set gait.participants_measures in the config, or choose px_per_cm / sensor_bars)"
            )
        pid = cfg.get("participant", participant)
        if not pid:
            raise CalibrationError("height calibration: the participant ID is unknown")
        stature = participant_height(csv, pid)
        origin = str(csv)
    if cfg.get("nose_ankle_fraction") is not None:
        try:
            frac = float(cfg["nose_ankle_fraction"])
        except (TypeError, ValueError):
            frac = float("nan")
        lo, hi = NOSE_ANKLE_FRACTION_RANGE
        if not (lo <= frac <= hi):
            raise CalibrationError(
                f"height calibration: nose_ankle_fraction {cfg['nose_ankle_fraction']!r} is not a number in {lo:g}-{hi:g}"
                " (the nose-to-ankle height as a fraction of stature)"
            )
        frac_source = "config"
    else:
        frac = nose_ankle_fraction(backend)
        frac_source = f"pose backend {backend}" if backend in NOSE_ANKLE_FRACTION_BY_BACKEND else "anatomical"
    hp = height_px()
    info = {"height_cm": stature, "height_source": origin, "nose_ankle_fraction": frac,
            "nose_ankle_fraction_source": frac_source}  # fmt: skip
    if hp is None:
        info["error"] = "the body's pixel height could not be measured (nose or ankles missing in mid-pass frames)"
        return Calibration("height", px_per_cm=None, info=info)
    info["body_px"] = round(hp, 2)
    return Calibration("height", px_per_cm=hp / (frac * stature), info=info)
