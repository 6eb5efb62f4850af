"""Quality-control pictures and tables a person looks at (``snakemake --report``).

Subcommands (registered on the ``gaitprep`` CLI by :func:`register`):

- ``gaitprep qc-montage``: one PNG per clip, a grid of a few evenly spaced frames (rows) by
  modality (columns): the source frame with the pose skeleton drawn, the silhouette, the
  part segmentation and each flow method, all cropped around the person to the same box
  per row, like Fig. 2 of the Health&Gait paper (``shared/spec/reference/healthgait_modalities.png``).
- ``gaitprep qc-summary``: the run summary table (one row per clip: frames, frames with a
  person, detection rates, wall time per modality, failed jobs with the reason taken from
  their log) as CSV and HTML, built from the provenance JSONs the runner writes.
- ``gaitprep qc-overrides``: writes one clip's rows of the manual event overrides TSV
  (used by the ``gait_overrides`` rule so that editing the TSV reruns only the gait jobs of
  the clips it names).

Colour convention: images read with OpenCV are BGR; everything is converted to RGB once,
right after reading, and drawn and plotted in RGB.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import cv2
import numpy as np

from ..errors import InputError
from ..healthgait.naming import ClipId, IMAGE_EXT, gait_summary_path, provenance_path

log = logging.getLogger("gaitprep.reporting.qc")

#: skeleton links (pairs of spec joint names) and which side each belongs to
SKELETON = (
    ("l_shoulder", "r_shoulder", "c"), ("l_hip", "r_hip", "c"),
    ("l_shoulder", "l_hip", "l"), ("r_shoulder", "r_hip", "r"),
    ("l_shoulder", "l_elbow", "l"), ("l_elbow", "l_wrist", "l"),
    ("r_shoulder", "r_elbow", "r"), ("r_elbow", "r_wrist", "r"),
    ("l_hip", "l_knee", "l"), ("l_knee", "l_ankle", "l"),
    ("r_hip", "r_knee", "r"), ("r_knee", "r_ankle", "r"),
    ("nose", "l_eye", "c"), ("nose", "r_eye", "c"), ("l_eye", "l_ear", "l"), ("r_eye", "r_ear", "r"),
    ("l_ankle", "l_heel", "l"), ("l_ankle", "l_big_toe", "l"), ("l_big_toe", "l_small_toe", "l"),
    ("r_ankle", "r_heel", "r"), ("r_ankle", "r_big_toe", "r"), ("r_big_toe", "r_small_toe", "r"),
    ("head", "neck", "c"), ("neck", "hip", "c"),
)  # fmt: skip
#: RGB colour per side: left blue, right orange, centre green (as in the legend)
SIDE_RGB = {"l": (40, 140, 255), "r": (255, 120, 0), "c": (60, 220, 60)}
#: joints below this score are not drawn
MIN_SCORE = 0.3
#: a row's crop: width / height, and the margin around the person (fraction of its height)
TILE_ASPECT = 0.75
CROP_MARGIN = 0.12
OVERRIDE_HEADER = "clip\tfoot\tevent\tframe\taction\n"


# ----------------------------------------------------------------------------- montage


def load_pose(path: str | Path) -> dict[int, Optional[dict]]:
    """Read a spec pose JSON -> ``{frame: joints or None}`` (joints: name -> {x, y, score}).

    Raises:
        InputError: unreadable file or not a list of ``{"frame", "joints"}`` records.
    """
    p = Path(path)
    try:
        recs = json.loads(p.read_text())
        return {int(r["frame"]): r["joints"] for r in recs}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{p}: not a readable pose JSON ({e})") from None


def frame_files(folder: str | Path, ext: str) -> dict[int, Path]:
    """``{source frame index: file}`` of a modality folder (``NNN.png`` / ``NNN.jpg``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {int(p.stem): p for p in folder.glob(f"*{ext}") if p.stem.isdigit()}


def joints_box(joints: Optional[dict], min_score: float = MIN_SCORE) -> Optional[tuple[float, float, float, float]]:
    """``(x0, y0, x1, y1)`` px around the joints scored at least ``min_score`` (None if < 3)."""
    if not joints:
        return None
    pts = np.array([(j["x"], j["y"]) for j in joints.values() if j.get("score", 1.0) >= min_score], float)
    if len(pts) < 3:
        return None
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def mask_box(img: Optional[np.ndarray]) -> Optional[tuple[float, float, float, float]]:
    """``(x0, y0, x1, y1)`` px around the non-black pixels of a mask/part image (None if empty)."""
    if img is None:
        return None
    m = img.max(axis=2) if img.ndim == 3 else img
    ys, xs = np.nonzero(m > 127 if img.ndim == 2 else m > 0)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def union_box(boxes: Iterable[Optional[tuple]]) -> Optional[tuple[float, float, float, float]]:
    bs = [b for b in boxes if b is not None]
    if not bs:
        return None
    a = np.array(bs)
    return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())


def crop_box(box, width: int, height: int, aspect: float = TILE_ASPECT, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """An integer crop ``(x0, y0, x1, y1)`` of aspect ``aspect`` (w/h) around ``box`` with a
    margin, kept inside the ``width`` x ``height`` image where it fits (may be larger than
    the image when the person is; the outside is padded black by :func:`crop`)."""
    if box is None:
        h = height
        cx, cy = width / 2, height / 2
    else:
        x0, y0, x1, y1 = box
        h = max(y1 - y0, (x1 - x0) / aspect) * (1 + 2 * margin)
        # at least a quarter of the frame; at most the frame height unless the person is taller
        h = min(max(h, 0.25 * height), max(height, y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = h * aspect
    x0, y0 = cx - w / 2, cy - h / 2
    # shift inside the image when the crop fits
    if w <= width:
        x0 = min(max(x0, 0), width - w)
    if h <= height:
        y0 = min(max(y0, 0), height - h)
    return int(round(x0)), int(round(y0)), int(round(x0 + w)), int(round(y0 + h))


def crop(img: np.ndarray, c: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Crop ``img`` to ``c`` (padding black outside) and resize to ``size`` = (w, h)."""
    x0, y0, x1, y1 = c
    h, w = img.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0) + img.shape[2:], img.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return cv2.resize(out, size, interpolation=cv2.INTER_AREA)


def draw_skeleton(tile_rgb: np.ndarray, joints: Optional[dict], c: tuple[int, int, int, int], scale: float) -> None:
    """Draw the pose (RGB colours, in place) on a tile cropped at ``c`` and scaled by ``scale``."""
    if not joints:
        return
    x0, y0 = c[0], c[1]

    def pt(name):
        j = joints.get(name)
        if j is None or j.get("score", 1.0) < MIN_SCORE:
            return None
        return int(round((j["x"] - x0) * scale)), int(round((j["y"] - y0) * scale))

    th = max(2, int(round(tile_rgb.shape[0] / 110)))
    for a, b, side in SKELETON:
        pa, pb = pt(a), pt(b)
        if pa and pb:
            cv2.line(tile_rgb, pa, pb, SIDE_RGB[side], th, cv2.LINE_AA)
    for name in joints:
        p = pt(name)
        if p:
            side = "l" if name.startswith("l_") else "r" if name.startswith("r_") else "c"
            cv2.circle(tile_rgb, p, th + 1, SIDE_RGB[side], -1, cv2.LINE_AA)
            cv2.circle(tile_rgb, p, th + 1, (0, 0, 0), 1, cv2.LINE_AA)


def read_rgb(path: Optional[Path]) -> Optional[np.ndarray]:
    """Read an image file as RGB uint8 (gray images are expanded to 3 channels); None if absent."""
    if path is None:
        return None
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(video: str | Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """Decode the source frames ``indices`` (source numbering) -> ``{index: RGB image}``."""
    from ..video import VideoReader

    want = sorted(set(int(i) for i in indices))
    if not want:
        return {}
    out = {}
    for f in VideoReader(video, start=want[0], end=want[-1] + 1, prefetch=0):
        if f.index in want:
            out[f.index] = cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB)
    return out


def pick_frames(candidates: Sequence[int], n: int) -> list[int]:
    """``n`` evenly spaced entries of the sorted ``candidates`` (centres of n equal parts)."""
    c = sorted(candidates)
    if len(c) <= n:
        return c
    return [c[int((k + 0.5) * len(c) / n)] for k in range(n)]


def _backend(prov: Optional[str | Path]) -> str:
    if not prov or not Path(prov).is_file():
        return ""
    try:
        return str(json.loads(Path(prov).read_text()).get("backend", ""))
    except ValueError:
        return ""


def make_montage(
    out: str | Path,
    video: str | Path,
    pose: Optional[str | Path] = None,
    silhouette: Optional[str | Path] = None,
    segmentation: Optional[str | Path] = None,
    flow: Sequence[str | Path] = (),
    provenance: Sequence[str | Path] = (),
    n_frames: int = 4,
    tile_height: int = 300,
    title: str = "",
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> list[int]:
    """Write the per-clip QC montage PNG (rows = frames, columns = modalities).

    Args:
        out: the PNG to write (atomically).
        video: the source video (frames are decoded for the pose column).
        pose: the clip's ``*_AlphaPose.json`` (None: no pose column).
        silhouette, segmentation: the clip's ``*_YOLOV8`` / ``*_DensePose`` folders.
        flow: the clip's flow folders ``.../<METHOD>/<WC>_<clip>`` (one column each; the
            method is the parent folder's name).
        provenance: provenance JSONs; the backend names they record go in the titles.
        n_frames: rows; frames are evenly spaced over the frames where the whole person is
            seen (pose joints, else silhouette/segmentation present), within ``[start, end)``.
        tile_height: px per tile; tiles are ``0.75 * tile_height`` wide. Every tile of a row
            shows the same crop (px box of the source frame) around the person: the union
            of the joints' box and the silhouette/segmentation boxes, plus 12 % margin.
        title: the figure title (e.g. the clip id).

    Returns:
        The source frame indices shown.

    Raises:
        InputError: unreadable inputs; VideoError: bad video.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..healthgait.writers import atomic_path

    backends = {}
    for p in provenance:
        name = Path(p).name  # <stem>.<modality>[.<METHOD>].json
        parts = name.split(".")
        key = ".".join(parts[1:-1])
        backends[key] = _backend(p)

    poses = load_pose(pose) if pose else {}
    for d in [silhouette, segmentation, *flow]:
        if d and not Path(d).is_dir():
            raise InputError(f"{d}: output folder not found (has its job run?)")
    sil = frame_files(silhouette, IMAGE_EXT["silhouette"]) if silhouette else {}
    seg = frame_files(segmentation, IMAGE_EXT["segmentation"]) if segmentation else {}
    flows = [(Path(f).parent.name, frame_files(f, IMAGE_EXT["flow"])) for f in flow]

    def in_range(i):
        return (start is None or i >= start) and (end is None or i < end)

    # candidates: frames where the person is fully seen; fall back step by step
    from ..video import probe

    info = probe(video)
    W, H = info.width, info.height

    def whole(j):
        b = joints_box(j)
        return b is not None and b[0] > 2 and b[2] < W - 3 and b[1] > 2 and b[3] < H - 3

    cands = [i for i, j in poses.items() if whole(j)]
    if len(cands) < n_frames:
        cands = [i for i, j in poses.items() if j]
    if len(cands) < n_frames:
        cands = sorted(set(cands) | set(sil) | set(seg))
    if len(cands) < n_frames:
        last = info.frame_count if end is None else end
        cands = list(range(start or 0, last))
    if flows:  # a flow image exists for every frame but the last; prefer frames that have one
        with_flow = [i for i in cands if any(i in fl for _, fl in flows)]
        if len(with_flow) >= min(n_frames, len(cands)):
            cands = with_flow
    cands = [i for i in cands if in_range(i)]
    shown = pick_frames(cands, n_frames)
    if not shown:
        raise InputError(f"{video}: no frame to show in range [{start}, {end})")
    frames = read_frames(video, shown)

    th = int(tile_height)
    tw = int(round(th * TILE_ASPECT))
    columns: list[tuple[str, str]] = []  # (title, kind)
    columns.append((f"Pose\n({backends.get('pose', '')})" if pose else "Source frame", "pose"))
    if silhouette:
        columns.append((f"Silhouette\n({backends.get('silhouette', '')})", "silhouette"))
    if segmentation:
        columns.append((f"Segmentation\n({backends.get('segmentation', '')})", "segmentation"))
    for method, _ in flows:
        columns.append((f"Flow {method}\n({backends.get('flow.' + method, '')})", "flow:" + method))
    columns = [(t.replace("\n()", ""), k) for t, k in columns]

    rows = []
    for i in shown:
        src = frames.get(i)
        if src is None:
            src = np.zeros((H, W, 3), np.uint8)
        s_img = read_rgb(sil.get(i))
        g_img = read_rgb(seg.get(i))
        box = union_box([joints_box(poses.get(i)), mask_box(s_img), mask_box(g_img)])
        c = crop_box(box, W, H)
        scale = th / (c[3] - c[1])
        tiles = []
        for _, kind in columns:
            if kind == "pose":
                t = crop(src, c, (tw, th))
                draw_skeleton(t, poses.get(i), c, scale)
                tiles.append((t, "" if poses.get(i) or not pose else "no person"))
            elif kind == "silhouette":
                tiles.append((crop(s_img, c, (tw, th)), "") if s_img is not None else (None, "no person"))
            elif kind == "segmentation":
                tiles.append((crop(g_img, c, (tw, th)), "") if g_img is not None else (None, "no person"))
            else:
                fl = dict(flows)[kind.split(":", 1)[1]]
                f_img = read_rgb(fl.get(i))
                tiles.append((crop(f_img, c, (tw, th)), "") if f_img is not None else (None, "no flow image"))
        rows.append((i, tiles))

    ncol, nrow = len(columns), len(rows)
    dpi = 100
    top, bottom, left = 95 + (20 if title else 0), 35, 45
    fig_w = (ncol * tw + left + 10) / dpi
    fig_h = (nrow * th + top + bottom) / dpi
    fig, axes = plt.subplots(nrow, ncol, figsize=(fig_w, fig_h), dpi=dpi, squeeze=False)
    for r, (i, tiles) in enumerate(rows):
        for k, (img, note) in enumerate(tiles):
            ax = axes[r][k]
            ax.imshow(img if img is not None else np.zeros((th, tw, 3), np.uint8), interpolation="nearest")
            if note:
                ax.text(0.5, 0.5, note, color="w", ha="center", va="center", fontsize=11, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if r == 0:
                ax.set_title(columns[k][0], fontsize=12)
            if k == 0:
                ax.set_ylabel(f"frame {i}", fontsize=12)
    if title:
        fig.text(0.5, 1 - 8 / (fig_h * dpi), title, ha="center", va="top", fontsize=14, weight="bold")
    if pose:
        legend = "skeleton: left side blue, right side orange, trunk and head green"
        fig.text(0.5, 10 / (fig_h * dpi), legend, ha="center", va="bottom", fontsize=11)
    fig.subplots_adjust(left=left / (fig_w * dpi), right=1 - 10 / (fig_w * dpi), bottom=bottom / (fig_h * dpi),
                        top=1 - top / (fig_h * dpi), wspace=0.04, hspace=0.04)  # fmt: skip
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    log.info("%s: frames %s, columns %s", out, shown, [c[1] for c in columns])
    return shown


# ----------------------------------------------------------------------------- summary


_ERROR_PATTERNS = (
    re.compile(r"gaitprep: error: (.*)"),
    re.compile(r"^(?:\w+\.)*(\w*(?:Error|Exception)\b.*)$"),
    re.compile(r"(?i)(killed|out of memory|no space left.*)"),
)


def failure_reason(log_path: Optional[str | Path]) -> str:
    """The reason a job failed, from its log: the ``gaitprep: error:`` line, else the last
    exception line, else the last non-empty line; ``"not run (no log)"`` without a log."""
    if not log_path or not Path(log_path).is_file():
        return "not run (no provenance, no log)"
    lines = [ln.strip() for ln in Path(log_path).read_text(errors="replace").splitlines() if ln.strip()]
    for pat in _ERROR_PATTERNS:
        for ln in reversed(lines):
            m = pat.search(ln)
            if m:
                return m.group(1).strip()[:300]
    if not lines:
        return "no provenance record, empty log (killed or still running?)"
    return f"no provenance record (killed or still running?); log ends: {lines[-1][:200]}"


def job_log_path(root: str | Path, clip: ClipId, modality: str, method: Optional[str] = None) -> Path:
    """Where the workflow's rules write a job's log: ``<root>/logs/<modality>_clip/<PID>/<GT>/[<METHOD>/]<stem>.log``."""
    d = Path(root) / "logs" / f"{modality}_clip" / clip.participant / clip.gait_type
    if method:
        d = d / method
    return d / f"{clip.stem}.log"


def discover_clips(root: str | Path) -> list[str]:
    """Clip keys that have a provenance record or a job log under ``root``."""
    root = Path(root)
    keys = set()
    for p in (root / "provenance").glob("*/*/*.json"):
        keys.add(f"{p.parent.parent.name}/{p.parent.name}/{p.name.split('.')[0]}")
    for p in (root / "logs").glob("*_clip/*/*/**/*.log"):
        rel = p.relative_to(root / "logs").parts
        keys.add(f"{rel[1]}/{rel[2]}/{p.stem}")
    out = []
    for k in sorted(keys):
        try:
            ClipId.from_key(k)
            out.append(k)
        except ValueError:
            pass
    return out


def parse_jobs(spec: str) -> list[tuple[str, Optional[str]]]:
    """``"pose,silhouette,flow:TVL1,gait"`` -> ``[("pose", None), ..., ("flow", "TVL1"), ("gait", None)]``."""
    jobs = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        m, _, method = item.partition(":")
        if m not in ("pose", "silhouette", "segmentation", "flow", "gait"):
            raise InputError(f"qc-summary: unknown job kind {item!r} (pose, silhouette, segmentation, flow:METHOD, gait)")
        if m == "flow" and not method:
            raise InputError("qc-summary: give flow jobs as flow:TVL1 / flow:GMFLOW")
        jobs.append((m, method or None))
    return jobs


def _job_done(root: Path, c: ClipId, m: str, method: Optional[str]) -> bool:
    if m == "gait":
        return gait_summary_path(root, c).is_file()
    return provenance_path(root, c, m, method).is_file()


def run_summary(
    root: str | Path, clips: Sequence[str], jobs: Sequence[tuple[str, Optional[str]]], problems: Optional[dict] = None
):
    """The run summary: one row per clip (a pandas DataFrame).

    Columns: ``clip``, ``frames`` (frames processed, from the pose record else any),
    ``frames_with_person`` and ``detection_rate`` (pose: frames with joints / frames),
    ``silhouette_rate`` / ``segmentation_rate`` (frames with a mask / frames),
    ``wall_s_<job>`` (s, per modality, flow per method, from provenance ``timing.wall_s``),
    ``gait_steps`` and ``gait_warnings`` (from the gait summary JSON), ``failed`` (number
    of jobs without provenance) and ``failures`` (``job: reason`` from each such job's log;
    for a clip in ``problems`` (``{clip: reason}``, e.g. a missing video) that reason).
    """
    import pandas as pd

    root = Path(root)
    rows = []
    for key in clips:
        c = ClipId.from_key(key)
        row: dict = {"clip": key}
        fails = []
        for m, method in jobs:
            tag = m if not method else f"{m}_{method}"
            if m == "gait":
                sp = gait_summary_path(root, c)
                if sp.is_file():
                    try:
                        s = json.loads(sp.read_text())
                    except ValueError:
                        s = {}
                    row["gait_steps"] = s.get("n_steps")
                    row["gait_warnings"] = "; ".join(map(str, s.get("warnings") or []))
                else:
                    fails.append(f"gait: {failure_reason(root / 'logs' / 'gait_clip' / c.participant / c.gait_type / f'{c.stem}.log')}")
                continue
            pp = provenance_path(root, c, m, method)
            if not pp.is_file():
                row[f"wall_s_{tag}"] = math.nan
                fails.append(f"{tag}: {failure_reason(job_log_path(root, c, m, method))}")
                continue
            rec = json.loads(pp.read_text())
            st, tm = rec.get("stats", {}), rec.get("timing", {})
            row[f"wall_s_{tag}"] = tm.get("wall_s")
            n = st.get("frames")
            if m == "pose":
                row["frames"] = n
                row["frames_with_person"] = st.get("frames_with_person")
                row["detection_rate"] = round(st["frames_with_person"] / n, 3) if n else math.nan
            elif m in ("silhouette", "segmentation"):
                row.setdefault("frames", n)
                row[f"{m}_rate"] = round(st.get("frames_with_person", 0) / n, 3) if n else math.nan
            elif m == "flow":
                row.setdefault("frames", (st.get("pairs") or 0) + 1)
        if problems and key in problems and fails:
            fails = [f"all jobs: {problems[key]}"] + [f for f in fails if "not run" not in f]
        row["failed"] = sum(1 for m, x in jobs if not _job_done(root, c, m, x))
        row["failures"] = " | ".join(fails)
        rows.append(row)
    order = ["clip", "frames", "frames_with_person", "detection_rate", "silhouette_rate", "segmentation_rate"]
    order += [f"wall_s_{m if not x else f'{m}_{x}'}" for m, x in jobs if m != "gait"]
    order += ["gait_steps", "gait_warnings", "failed", "failures"]
    df = pd.DataFrame(rows)
    for col in order:
        if col not in df.columns:
            df[col] = math.nan if col not in ("failures", "gait_warnings") else ""
    if "gait" not in [m for m, _ in jobs]:
        order = [c for c in order if not c.startswith("gait_")]
    return df[order]


def write_summary(df, csv_path: str | Path, html_path: Optional[str | Path] = None, title: str = "gaitprep run summary") -> None:
    """Write the summary as CSV and (optionally) a standalone HTML page with totals on top."""
    from ..healthgait.writers import atomic_path

    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    if not html_path:
        return
    wall = {c[len("wall_s_"):]: df[c].sum(skipna=True) for c in df.columns if c.startswith("wall_s_")}
    n_fail = int(df["failed"].sum()) if len(df) else 0
    frames = int(df["frames"].fillna(0).sum()) if "frames" in df else 0
    person = int(df["frames_with_person"].fillna(0).sum()) if "frames_with_person" in df else 0
    items = [
        f"<li>{len(df)} clip(s), {frames} frames, {person} with a person (pose)"
        + (f", detection rate {person / frames:.1%}" if frames else "") + "</li>",
        f"<li>{n_fail} failed job(s) in {int((df['failed'] > 0).sum()) if len(df) else 0} clip(s)</li>",
        "<li>wall time per modality (s, all clips): "
        + ", ".join(f"{html.escape(k)} {v:.1f}" for k, v in wall.items()) + "</li>",
    ]  # fmt: skip
    table = df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.3g}", border=0, classes="summary")
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:sans-serif;margin:1em} table.summary{border-collapse:collapse;font-size:13px}"
        "table.summary th,table.summary td{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "table.summary td:first-child,table.summary td:last-child{text-align:left}"
        "table.summary th{background:#eee}</style></head><body>"
        f"<h2>{html.escape(title)}</h2><ul>{''.join(items)}</ul>{table}</body></html>"
    )
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(page)


# ----------------------------------------------------------------------------- overrides


def clip_override_rows(path: Optional[str | Path], clip_key: str) -> str:
    """The rows of the overrides TSV ``path`` that name ``clip_key``, as TSV text in the
    file's order (``""`` when none, or when ``path`` is None).

    Comment lines (``#``) and blank lines are ignored. Only the ``clip`` column is read
    here; the gait step validates the others (:mod:`gaitprep.gait.overrides`).

    Raises:
        InputError: ``path`` given but missing, or without the header columns.
    """
    if not path:
        return ""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: event overrides TSV not found (config gait.event_overrides)")
    lines = [ln for ln in p.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return ""
    header = lines[0].split("\t")
    cols = [c.strip() for c in OVERRIDE_HEADER.strip().split("\t")]
    if header[: len(cols)] != cols and set(cols) - set(h.strip() for h in header):
        raise InputError(f"{p}: header must have the columns {cols} (tab-separated), got {header}")
    ci = [h.strip() for h in header].index("clip")
    out = []
    for ln in lines[1:]:
        f = ln.split("\t")
        if len(f) > ci and f[ci].strip() == clip_key:
            out.append(ln)
    if out and header[: len(cols)] != cols:  # reorder to the standard column order
        idx = [[h.strip() for h in header].index(c) for c in cols]
        out = ["\t".join(ln.split("\t")[i] for i in idx) for ln in out]
    return "".join(ln + "\n" for ln in out)


# ----------------------------------------------------------------------------- CLI


def _cmd_montage(a) -> int:
    make_montage(
        a.out, a.video, pose=a.pose, silhouette=a.silhouette, segmentation=a.segmentation, flow=a.flow or (),
        provenance=a.provenance or (), n_frames=a.frames, tile_height=a.tile_height, title=a.title or "",
        start=a.start, end=a.end,
    )  # fmt: skip
    return 0


def _cmd_summary(a) -> int:
    clips = [c for c in (a.clips or "").split(",") if c] or discover_clips(a.root)
    df = run_summary(a.root, clips, parse_jobs(a.jobs), problems=json.loads(a.problems or "{}"))
    write_summary(df, a.csv, a.html)
    print(df.to_string(index=False))
    return 0


def _cmd_overrides(a) -> int:
    from ..healthgait.writers import atomic_path

    rows = a.rows if a.rows is not None else clip_override_rows(a.table, a.clip)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(OVERRIDE_HEADER + rows)
    return 0


def register(sub) -> None:
    """Add ``qc-montage``, ``qc-summary`` and ``qc-overrides`` to the ``gaitprep`` CLI."""
    m = sub.add_parser("qc-montage", help="QC picture of one clip: frames x modalities, cropped to the person")
    m.add_argument("--out", required=True, help="PNG to write")
    m.add_argument("--video", required=True)
    m.add_argument("--pose", help="the clip's *_AlphaPose.json")
    m.add_argument("--silhouette", help="the clip's *_YOLOV8 folder")
    m.add_argument("--segmentation", help="the clip's *_DensePose folder")
    m.add_argument("--flow", nargs="*", help="the clip's flow folders (.../<METHOD>/<WC>_<clip>)")
    m.add_argument("--provenance", nargs="*", help="provenance JSONs (backend names for the titles)")
    m.add_argument("--frames", type=int, default=4, help="rows (frames shown), default 4")
    m.add_argument("--tile-height", type=int, default=300, help="px per tile (default 300)")
    m.add_argument("--title", default="")
    m.add_argument("--start", type=int, default=None)
    m.add_argument("--end", type=int, default=None)
    m.set_defaults(func=_cmd_montage)
    s = sub.add_parser("qc-summary", help="run summary table (CSV + HTML) from provenance JSONs and job logs")
    s.add_argument("--root", required=True, help="root of the Health&Gait tree")
    s.add_argument("--jobs", default="pose,silhouette,segmentation,flow:TVL1",
                   help="expected jobs per clip, e.g. pose,silhouette,segmentation,flow:TVL1,gait")  # fmt: skip
    s.add_argument("--clips", default="", help="comma-separated clip keys (default: every clip with a record or a log)")
    s.add_argument("--problems", default="{}", help='JSON {clip: reason} of clips known to fail (e.g. missing video)')
    s.add_argument("--csv", required=True)
    s.add_argument("--html", default=None)
    s.set_defaults(func=_cmd_summary)
    o = sub.add_parser("qc-overrides", help="write one clip's rows of the event overrides TSV")
    o.add_argument("--clip", required=True)
    o.add_argument("--out", required=True)
    g = o.add_mutually_exclusive_group(required=True)
    g.add_argument("--table", help="the overrides TSV (config gait.event_overrides)")
    g.add_argument("--rows", help="the clip's rows, tab-separated, one per line")
    o.set_defaults(func=_cmd_overrides)
