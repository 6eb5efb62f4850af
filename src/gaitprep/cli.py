"""The ``gaitprep`` command line.

Subcommands: ``samples``, ``validate``, ``synth``, ``qc-montage``, ``qc-summary`` for people
(:data:`USER_COMMANDS`), and the workflow's own steps (``run``, ``gait-clip``, ...), which the
Snakemake rules call and ``--help`` lists apart. Subcommands come from this module and from
:data:`SUBCOMMAND_MODULES`. Help text is shown without reStructuredText markup.

Before any subcommand runs, the C++ logs of MediaPipe/TFLite (glog, absl) are limited to
errors and protobuf's deprecation warning is silenced, so job logs hold gaitprep's own lines.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import warnings

from . import __version__
from .errors import GaitprepError

DESCRIPTION = """\
gaitprep: raw side-view walking videos -> the Health&Gait dataset layout (pose, silhouettes,
part segmentation, optical flow) and gait parameters. The workflow runs with `snakemake`
(see README.md); these commands check inputs and outputs and run single steps."""
#: subcommands for people, in the order --help lists them; the others are workflow steps
USER_COMMANDS = ("samples", "validate", "synth", "qc-montage", "qc-summary")

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
    from .healthgait.naming import set_participant_pattern
    from .samples import discover, load_sheet

    if a.participant_id:
        set_participant_pattern(a.participant_id)
    samples = load_sheet(a.sheet) if a.sheet else discover(a.videos_dir)
    for s in samples:
        rng = "" if s.start_frame is None and s.end_frame is None else f" [{s.start_frame}, {s.end_frame})"
        print(f"{s.key}\t{s.path}{rng}")
    print(f"{len(samples)} clip(s) OK", file=sys.stderr)
    return 0


def _cmd_table(a) -> int:
    from .healthgait.tables import write_input_table

    missing = write_input_table(a.name, a.input, a.output)
    if missing:
        print(f"{a.output}: columns not in {a.input}, written empty: {', '.join(missing)}", file=sys.stderr)
    print(f"{a.output} written from {a.input}", file=sys.stderr)
    return 0


def plain(text):
    """reStructuredText/Sphinx markup -> plain text for --help (``x`` -> x, :func:`x` -> x,
    ``Example::`` -> ``Example:``); None stays None."""
    if not text:
        return text
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"(?<=\S)::$", ":", text, flags=re.M)
    return re.sub(r"^::$\n?", "", text, flags=re.M)


class _Subcommands:
    """Wraps argparse's subparsers action to record each subcommand's one-line help, which
    :func:`build_parser` lists in two groups in the epilog instead of argparse's one list."""

    def __init__(self, action):
        self.action = action
        self.helps: dict[str, str] = {}

    def add_parser(self, name, **kw):
        self.helps[name] = kw.pop("help", "") or ""
        kw.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        return self.action.add_parser(name, **kw)

    def __getattr__(self, attr):
        return getattr(self.action, attr)


def _epilog(helps: dict[str, str]) -> str:
    width = max(map(len, helps)) + 2

    def block(names):
        return "\n".join(f"  {n:<{width}}{helps[n]}" for n in names)

    user = [n for n in USER_COMMANDS if n in helps]
    steps = sorted(n for n in helps if n not in USER_COMMANDS)
    return (
        f"commands:\n{block(user)}\n\n"
        f"workflow steps (run by the Snakemake rules; by hand for debugging):\n{block(steps)}\n\n"
        "`gaitprep COMMAND --help` describes one command."
    )


def _plain_parser(p: argparse.ArgumentParser) -> None:
    p.description = plain(p.description)
    p.epilog = plain(p.epilog)
    for a in p._actions:
        if a.help and a.help is not argparse.SUPPRESS:
            a.help = plain(a.help)


#: subcommands defined in this module: a job of one of them builds its parser without
#: importing :data:`SUBCOMMAND_MODULES` (about 60 ms CPU for every ``gaitprep run`` job)
OWN_COMMANDS = ("run", "samples", "table")


def _own_command(argv: list[str]) -> bool:
    """Whether ``argv`` runs one of :data:`OWN_COMMANDS` (and asks for no top-level help or
    version, which lists every subcommand)."""
    for a in argv:
        if a in ("-h", "--help", "--version"):
            return False
        if not a.startswith("-"):
            return a in OWN_COMMANDS
    return False


def build_parser(subcommand_modules=SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gaitprep",
        usage="gaitprep [-h] [--version] [-v] COMMAND ...",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"gaitprep {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug messages in the log")
    sub = _Subcommands(p.add_subparsers(dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS))
    r = sub.add_parser("run", help="produce one modality for one clip (the modality rules' job)")
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
    s.add_argument("--participant-id", metavar="REGEX", help="participant-ID pattern, as config participant_id (default: PA + 3 or more digits)")
    s.set_defaults(func=_cmd_samples)
    t = sub.add_parser(
        "table",
        help="write a user's input table into the tree (participants_measures.csv in the spec's columns)",
        description="participants_measures: the spec's columns in the spec's order, those the input lacks written empty,"
        " other input columns after them; gait_parameters: copied unchanged. Written atomically.",
    )
    t.add_argument("name", choices=("participants_measures", "gait_parameters"))
    t.add_argument("--input", required=True, help="the user's CSV (comma, semicolon or tab separated)")
    t.add_argument("--output", required=True, help="the tree's <name>.csv")
    t.set_defaults(func=_cmd_table)
    for mod in subcommand_modules:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name and mod.startswith(e.name):
                continue  # that part of gaitprep is not installed/built
            raise
        m.register(sub)
    p.epilog = _epilog(sub.helps)
    for sp in sub.choices.values():
        _plain_parser(sp)
    return p


def quiet_libraries() -> None:
    """Limit the C++ logs of MediaPipe/TFLite (glog, absl) to errors and silence protobuf's
    deprecation warning; an explicit setting in the environment wins."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")


def main(argv=None) -> int:
    quiet_libraries()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(() if _own_command(argv) else SUBCOMMAND_MODULES).parse_args(argv)
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
