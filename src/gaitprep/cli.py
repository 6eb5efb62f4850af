"""The ``gaitprep`` command. Subcommands: ``run`` (one clip, one modality), ``samples``
(validate inputs), and those registered by :data:`SUBCOMMAND_MODULES` (``synth``,
``gait-clip``, ``gait-aggregate``, ``validate``, ...)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import GaitprepError

#: modules exposing ``register(subparsers)``; a missing one is skipped
SUBCOMMAND_MODULES = (
    "gaitprep.synth.cli",
    "gaitprep.gait.cli",
    "gaitprep.healthgait.validate",
    "gaitprep.reporting.run_report",
    "gaitprep.reporting.qc",
    "gaitprep.export.cli",
)


def _cmd_run(a) -> int:
    from .healthgait.naming import ClipId
    from .runner import JobSpec, run_modality

    run_modality(a.modality, ClipId.from_key(a.clip), a.video, a.root, JobSpec.from_json(a.spec), a.start, a.end)
    return 0


def _cmd_samples(a) -> int:
    from .samples import discover, load_sheet

    samples = load_sheet(a.sheet) if a.sheet else discover(a.videos_dir)
    for s in samples:
        rng = "" if s.start_frame is None and s.end_frame is None else f" [{s.start_frame}, {s.end_frame})"
        print(f"{s.key}\t{s.path}{rng}")
    print(f"{len(samples)} clip(s) OK", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gaitprep", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="produce one modality for one clip")
    r.add_argument("modality", choices=("pose", "silhouette", "segmentation", "flow"))
    r.add_argument("--clip", required=True, help="clip id PID/GT/WALKCLASS_CLIP, e.g. PA000/UGS/NW-WJ_1")
    r.add_argument("--video", required=True)
    r.add_argument("--root", required=True, help="root of the Health&Gait tree")
    r.add_argument("--spec", required=True, help='JSON: {"backend": ..., "params": {...}, "device": ...}')
    r.add_argument("--start", type=int, default=None)
    r.add_argument("--end", type=int, default=None)
    r.set_defaults(func=_cmd_run)
    s = sub.add_parser("samples", help="validate a sample sheet or a videos folder and list the clips")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--sheet")
    g.add_argument("--videos-dir")
    s.set_defaults(func=_cmd_samples)
    for mod in SUBCOMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                continue  # that part of gaitprep is not installed/built
            raise
        m.register(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except GaitprepError as e:
        print(f"gaitprep: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # disk full, permissions: the message names the file
        logging.getLogger("gaitprep").debug("OSError", exc_info=True)
        print(f"gaitprep: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
