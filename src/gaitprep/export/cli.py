"""``gaitprep export-trc``: a clip's pose JSON as ``.trc`` marker files (pixels, and metres
where the clip is calibrated); see :mod:`gaitprep.export.trc`.

Examples::

    gaitprep export-trc --root results --clip PA000/UGS/NW-WoJ_1
    gaitprep export-trc --pose p.json --provenance p.pose.json --px out_px.trc --m out_m.trc --px-per-cm 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def trc_paths(root: str | Path, clip) -> dict:
    """``<root>/exports/trc/<PID>/<GT>/<stem>_px.trc``, ``..._m.trc`` and ``..._trc.json``."""
    d = Path(root) / "exports" / "trc" / clip.participant / clip.gait_type
    return {"px": d / f"{clip.stem}_px.trc", "m": d / f"{clip.stem}_m.trc", "info": d / f"{clip.stem}_trc.json"}


def _cmd(a) -> int:
    from ..errors import InputError
    from ..healthgait.naming import ClipId, gait_summary_path, pose_path, provenance_path
    from .trc import export_trc

    if a.root:
        if not a.clip:
            raise InputError("export-trc: --root needs --clip PID/GT/WALKCLASS_CLIP")
        c = ClipId.from_key(a.clip)
        out = trc_paths(a.root, c)
        pose, prov = a.pose or pose_path(a.root, c), a.provenance or provenance_path(a.root, c, "pose")
        summary = a.summary
        if summary is None and not a.no_summary and gait_summary_path(a.root, c).is_file():
            summary = gait_summary_path(a.root, c)
        px, m, info = a.px or out["px"], a.m or out["m"], a.info or out["info"]
    else:
        if not (a.pose and a.provenance and a.px):
            raise InputError("export-trc: give --root and --clip, or --pose, --provenance and --px")
        pose, prov, summary, px, m, info = a.pose, a.provenance, a.summary, a.px, a.m, a.info
    res = export_trc(pose, prov, px, m, info, summary, a.px_per_cm, a.min_score)
    name = a.clip or Path(pose).name
    files = ", ".join(res["files"].values())
    print(f"{name}: {res['frames']} frames, {len(res['markers'])} markers -> {files}", file=sys.stderr)
    if res["no_metres_reason"]:
        print(f"{name}: no metre file: {res['no_metres_reason']}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``export-trc`` to the ``gaitprep`` command's subparsers."""
    p = sub.add_parser("export-trc", help="pose as .trc marker files (OpenSim, Pose2Sim, Sports2D): px, and m if calibrated")
    p.add_argument("--root", default=None, help="a gaitprep output tree: inputs and outputs by the tree's names")
    p.add_argument("--clip", default=None, help="clip id PID/GT/WALKCLASS_CLIP (with --root)")
    p.add_argument("--pose", default=None, help="the clip's pose JSON")
    p.add_argument("--provenance", default=None, help="the pose job's provenance JSON (video.fps, video.height)")
    p.add_argument("--summary", default=None, help="the clip's gait summary JSON (its calibration gives metres)")
    p.add_argument("--no-summary", action="store_true", help="with --root: ignore the gait summary (pixels only)")
    p.add_argument("--px-per-cm", type=float, default=None, help="scale at the walking plane (overrides the summary)")
    p.add_argument("--min-score", type=float, default=0.0, help="joints with score <= this are left empty (default 0)")
    p.add_argument("--px", default=None, help="output .trc in pixels")
    p.add_argument("--m", default=None, help="output .trc in metres (written only when a scale is known)")
    p.add_argument("--info", default=None, help="output JSON describing the export (axes, scale, missing cells)")
    p.set_defaults(func=_cmd)


def main(argv=None) -> int:
    """``python -m gaitprep.export.cli export-trc ...`` (same as ``gaitprep export-trc``)."""
    from ..errors import GaitprepError

    ap = argparse.ArgumentParser(prog="gaitprep-export")
    register(ap.add_subparsers(dest="command", required=True))
    a = ap.parse_args(argv)
    try:
        return a.func(a)
    except (GaitprepError, OSError) as e:
        print(f"gaitprep: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
