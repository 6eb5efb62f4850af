"""One gaitprep workflow per output folder: a lock file ``<output_dir>/.gaitprep.lock``.

Snakemake locks its working directory (``.snakemake/``), not the output folder: two
checkouts (or two working directories) writing one ``output_dir`` would compute everything
twice and race on the same files. :func:`acquire` is called by the workflow's ``onstart``
handler (``workflow/rules/run_report.smk``; Snakemake runs it only for a real run, never for
``--dry-run``), :func:`release` by ``onsuccess``/``onerror``.

The lock file is JSON ``{"host", "pid", "started", "cwd", "argv"}``, created complete and
exclusively (written to a private file, then hard-linked into place; atomic on local
filesystems and NFS). A lock whose holder is a
dead process on this host is stale (a killed run): :func:`acquire` says so and takes it. A
lock held by a live process, or by any process on another host (whose liveness cannot be
checked from here), refuses the run with a :class:`LockError` naming host, pid and the file.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from .errors import GaitprepError

LOCK_NAME = ".gaitprep.lock"


class LockError(GaitprepError):
    """Another gaitprep run holds the output folder."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (``kill(pid, 0)``; EPERM counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / LOCK_NAME


def read_lock(output_dir: str | Path) -> Optional[dict]:
    """The holder recorded in the lock file, ``{}`` for an unreadable one, None when unlocked."""
    p = lock_path(output_dir)
    try:
        text = p.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        d = json.loads(text)
        return d if isinstance(d, dict) else {}
    except ValueError:
        return {}


def holder_text(h: dict) -> str:
    return f"host {h.get('host', '?')}, pid {h.get('pid', '?')}, started {h.get('started', '?')}, in {h.get('cwd', '?')}"


def lock_is_stale(h: dict) -> bool:
    """True when the holder ran on this host and its process is gone."""
    try:
        pid = int(h.get("pid"))
    except (TypeError, ValueError):
        return False
    return h.get("host") == socket.gethostname() and not pid_alive(pid)


def acquire(output_dir: str | Path, log=None) -> Path:
    """Take the output folder's lock for this process.

    Args:
        output_dir: the tree's root (created if missing).
        log: callable for messages (default: print to stderr).

    Returns:
        The lock file's path.

    Raises:
        LockError: another live run holds the lock (the message names its host and pid and
            the lock file), or the holder is on another host.
    """
    say = log or (lambda m: print(m, file=sys.stderr))
    out = Path(output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    p = lock_path(out)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "cwd": os.getcwd(), "argv": sys.argv[:8]}  # fmt: skip
    for _ in range(3):  # a stale lock removed by a concurrent acquirer: try again
        try:
            _create_with(p, me)
        except FileExistsError:
            h = read_lock(out)
            if h is None:
                continue
            if h.get("host") == me["host"] and h.get("pid") == me["pid"]:
                return p  # ours already
            if lock_is_stale(h):
                say(f"gaitprep: {p}: removing the stale lock of a run that is no longer alive ({holder_text(h)}); taking it")
                p.unlink(missing_ok=True)
                continue
            raise LockError(
                f"{out}: output folder is in use by another gaitprep run ({holder_text(h)}; lock file {p}). "
                f"Wait for that run to finish; if it is gone (e.g. its machine crashed), delete {p} and rerun"
            )
        return p
    raise LockError(f"{out}: could not take the lock {p} (it keeps reappearing: another run is starting?)")


def _create_with(p: Path, content: dict) -> None:
    """Create ``p`` holding ``content`` atomically, failing with FileExistsError if it exists:
    the JSON is written to a private file first and hard-linked to ``p`` (``link`` is atomic
    and exclusive, NFS included), so that no reader ever sees an empty lock file."""
    tmp = p.with_name(f"{p.name}.{content['host']}.{content['pid']}")
    tmp.write_text(json.dumps(content))
    try:
        os.link(tmp, p)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this filesystem: exclusive create, then write
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(content, f)
    finally:
        tmp.unlink(missing_ok=True)


def release(output_dir: str | Path) -> bool:
    """Remove the lock if this process holds it; return whether it did."""
    h = read_lock(output_dir)
    if h and h.get("host") == socket.gethostname() and h.get("pid") == os.getpid():
        lock_path(output_dir).unlink(missing_ok=True)
        return True
    return False
