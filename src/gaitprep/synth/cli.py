"""``gaitprep synth``: render a synthetic side-view walking clip with its ground truth.

Example::

    gaitprep synth --out demo/synth.mp4 --cadence 110 --step-length 65 --double-support 0.1
    python -m gaitprep.synth.cli --out /tmp/w.mp4 --direction right_to_left --seconds 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_args(p: argparse.ArgumentParser) -> None:
    from .model import DIRECTIONS, WalkerParams

    d = WalkerParams()
    p.add_argument("--out", required=True, help="output video (.mp4, mp4v codec)")
    p.add_argument("--truth", default=None, help="truth JSON path (default: <out stem>.truth.json)")
    p.add_argument("--pose-json", default=None,
                   help="also write the exact keypoints as a spec pose JSON (score 1) to this path")  # fmt: skip
    p.add_argument("--cadence", type=float, default=d.cadence, help="steps/min (default %(default)s)")
    p.add_argument("--step-length", type=float, default=d.step_length_cm, help="cm (default %(default)s)")
    p.add_argument("--double-support", type=float, default=d.double_support_fraction,
                   help="each double-support period as a fraction of the gait cycle (default %(default)s)")  # fmt: skip
    p.add_argument("--direction", choices=DIRECTIONS, default=d.direction)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seconds", type=float, default=None, help="clip length (default: enter, cross, exit)")
    g.add_argument("--steps", type=int, default=None, help="clip length in steps")
    p.add_argument("--start-x", type=float, default=None,
                   help="pelvis position at t=0, cm from the entry edge (default: start outside the frame)")  # fmt: skip
    p.add_argument("--height-cm", type=float, default=d.height_cm, help="body height, cm")
    p.add_argument("--px-per-cm", type=float, default=d.px_per_cm)
    p.add_argument("--fps", type=float, default=d.fps)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--height", type=int, default=d.height)
    p.add_argument("--background", choices=("indoor", "plain"), default=d.background)
    p.add_argument("--phase0", type=float, default=None, help="near-foot gait phase at t=0 (default from seed)")
    p.add_argument("--seed", type=int, default=d.seed)


def params_from_args(a: argparse.Namespace):
    """:class:`WalkerParams` from parsed ``synth`` arguments (validated)."""
    from .model import WalkerParams

    p = WalkerParams(
        cadence=a.cadence, step_length_cm=a.step_length, double_support_fraction=a.double_support,
        direction=a.direction, height_cm=a.height_cm, px_per_cm=a.px_per_cm, fps=a.fps, width=a.width,
        height=a.height, duration_s=a.seconds, n_steps=a.steps, start_x_cm=a.start_x, phase0=a.phase0,
        seed=a.seed, background=a.background,
    )  # fmt: skip
    p.validate()
    return p


def run(a: argparse.Namespace) -> int:
    """Render the clip, write the truth (and optionally the exact pose JSON); print a summary."""
    from ..healthgait.writers import write_pose_json
    from .render import render_walker, truth_path_for
    from .truth import walker_pose_results

    try:
        params = params_from_args(a)
    except ValueError as e:
        print(f"gaitprep synth: {e}", file=sys.stderr)
        return 2
    truth_path = Path(a.truth) if a.truth else truth_path_for(a.out)
    truth = render_walker(a.out, params, truth_path)
    if a.pose_json:
        write_pose_json(a.pose_json, walker_pose_results(params))
    n_ev = len(truth["events"])
    print(f"{a.out}: {truth['n_frames']} frames at {truth['fps']} fps, {len(truth['fully_visible_frames'])} fully "
          f"visible, {n_ev} gait events; truth -> {truth_path}")  # fmt: skip
    return 0


def register(subparsers) -> None:
    """Add the ``synth`` subcommand to the ``gaitprep`` CLI's subparsers."""
    p = subparsers.add_parser("synth", help="render a synthetic walking clip with exact ground truth",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _add_args(p)
    p.set_defaults(func=run)


def main(argv=None) -> int:
    """Stand-alone entry point: ``python -m gaitprep.synth.cli ARGS``."""
    p = argparse.ArgumentParser(prog="gaitprep synth", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _add_args(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
