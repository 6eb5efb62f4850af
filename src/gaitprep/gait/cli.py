"""``gaitprep gait-clip`` and ``gaitprep gait-aggregate``."""

from __future__ import annotations

import argparse
import sys


def frame_info(a) -> tuple[float, int, int]:
    """``(fps, width, height)`` of ``gait-clip``'s clip from ``--fps``, ``--width/--height``,
    ``--video`` or ``--provenance`` (explicit flags win).

    The frame size is required: the gait step drops frames whose legs touch the left or
    right image border (a body partly out of view gives false events); without the size
    that guard would be off.

    Raises:
        InputError: the frame rate or the frame size cannot be determined (the message
            says which flags give it), or ``--width``/``--height`` are not positive.
    """
    from ..errors import InputError
    from .io import read_provenance_video

    fps, width, height = a.fps, a.width, a.height
    if a.provenance:
        v = read_provenance_video(a.provenance)
        fps = fps if fps is not None else float(v["fps"])
        width = width if width is not None else v.get("width")
        height = height if height is not None else v.get("height")
    if a.video and (fps is None or width is None or height is None):
        from ..video import probe

        info = probe(a.video)
        fps = fps if fps is not None else info.fps
        width = width if width is not None else info.width
        height = height if height is not None else info.height
    if fps is None:
        raise InputError("gait-clip: give --fps or --provenance (the pose job's provenance JSON with video.fps) or --video")
    if not (width and height):
        raise InputError(
            f"gait-clip: the frame size of {a.pose} is unknown: give --width and --height (px), --video (the source video) "
            "or --provenance; it is needed to drop frames where the body touches the image border (without it a walker "
            "entering or leaving the view gives false events)"
        )
    if int(width) <= 0 or int(height) <= 0:
        raise InputError(f"gait-clip: --width/--height must be positive, got {width}x{height}")
    return float(fps), int(width), int(height)


def _cmd_clip(a) -> int:
    from ..errors import InputError
    from .clip import analyze_clip, write_outputs
    from .io import load_pose
    from .overrides import read_overrides

    fps, width, height = frame_info(a)
    series = load_pose(a.pose, width, height, provenance=a.provenance)
    overrides = read_overrides(a.overrides) if a.overrides else None
    offsets = None
    if a.event_offsets:
        try:
            hs, to = (float(x) for x in a.event_offsets.split(","))
        except ValueError:
            raise InputError(f"gait-clip: --event-offsets must be HS,TO in seconds (e.g. -0.04,0.02), got {a.event_offsets!r}") from None
        offsets = {"HS": hs, "TO": to}
    res = analyze_clip(
        series, fps, a.clip, a.calibration, a.method, overrides, refine=not a.no_refine, lengths=a.lengths, event_offsets=offsets
    )
    write_outputs(res, a.steps, a.summary, a.qc, a.clip)
    s = res.summary
    m = s["means"]
    print(
        f"{a.clip}: {s['n_passes']} pass(es), {s['n_steps']} steps; cadence {m['cadence_steps_per_min']:.1f}/min, "
        f"step {m['step_length_cm']:.1f} cm, speed {m['speed_m_per_s']:.2f} m/s",
        file=sys.stderr,
    )
    for w in s["warnings"]:
        print(f"{a.clip}: warning: {w}", file=sys.stderr)
    return 0


def _cmd_aggregate(a) -> int:
    from .aggregate import write_estimation_csv

    df = write_estimation_csv(a.summaries, a.out)
    print(f"{a.out}: {len(df)} participant(s)", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``gait-clip`` and ``gait-aggregate`` to the ``gaitprep`` command's subparsers."""
    c = sub.add_parser("gait-clip", help="gait events and parameters of one clip from its pose JSON")
    c.add_argument("--pose", required=True, help="the clip's pose JSON (spec format)")
    c.add_argument("--clip", required=True, help="clip id PID/GT/WALKCLASS_CLIP, e.g. PA000/UGS/NW-WJ_1")
    c.add_argument("--fps", type=float, default=None, help="frames per second (else read from --provenance)")
    c.add_argument("--provenance", default=None, help="the pose job's provenance JSON (video.fps, width, height)")
    c.add_argument("--width", type=int, default=None, help="frame width in px (needed without --provenance or --video)")
    c.add_argument("--height", type=int, default=None, help="frame height in px (needed without --provenance or --video)")
    c.add_argument("--video", default=None, help="the source video: frame size (and fps unless --fps) from its container")
    c.add_argument("--calibration", default=None,
                   help='JSON object, e.g. {"method": "px_per_cm", "px_per_cm": 2.0}; default {"method": "height"} (docs/gait.md)')  # fmt: skip
    c.add_argument("--method", default="zeni", choices=("zeni", "ankle-distance"))
    c.add_argument("--no-refine", action="store_true", help="plain Zeni events (no foot-speed refinement)")
    c.add_argument("--lengths", default="contacts", choices=("contacts", "instant"),
                   help="step lengths from heel contacts (static camera, default) or within double support (panning camera)")
    c.add_argument("--event-offsets", default=None, metavar="HS,TO",
                   help="timing corrections (s) of heel strikes and toe-offs instead of the pose backend's calibrated ones")  # fmt: skip
    c.add_argument("--overrides", default=None, help="event overrides TSV (clip, foot, event, frame, action)")
    c.add_argument("--steps", default=None, help="output per-step parquet (a CSV of the same table is written beside it)")
    c.add_argument("--summary", default=None, help="output summary JSON")
    c.add_argument("--qc", default=None, help="output QC PNG")
    c.set_defaults(func=_cmd_clip)
    g = sub.add_parser("gait-aggregate", help="gait_parameters_estimation.csv from clip summaries")
    g.add_argument("--summaries", nargs="+", required=True)
    g.add_argument("--out", required=True)
    g.set_defaults(func=_cmd_aggregate)


def main(argv=None) -> int:  # pragma: no cover - convenience
    from ..errors import GaitprepError

    p = argparse.ArgumentParser(prog="gaitprep-gait")
    register(p.add_subparsers(dest="command", required=True))
    a = p.parse_args(argv)
    try:
        return a.func(a)
    except GaitprepError as e:
        print(f"gaitprep: error: {e}", file=sys.stderr)
        return 1
