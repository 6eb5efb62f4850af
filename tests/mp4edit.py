"""Test fixtures with known timing and orientation: edit the boxes of an MP4 that OpenCV wrote.

No ffmpeg binary or PyAV is needed. OpenCV's MP4 muxer writes ``ftyp, free, mdat, moov``
with one video track and the sample table after the media data, so the ``moov`` box can
grow without moving any chunk offset (``stco``).

* :func:`set_frame_durations` rewrites the track's time-to-sample table (``stts``, ISO/IEC
  14496-12 section 8.6.1.2) so that frame ``i`` lasts ``durations[i]`` ticks of the media
  timescale: a variable-frame-rate file with exact presentation timestamps; the durations in
  ``mvhd``, ``tkhd``, ``mdhd`` and the edit list (``elst``) are scaled to match.
* :func:`set_rotation` writes a rotation into the track header's display matrix (``tkhd``,
  section 8.3.2), as phones do for portrait recordings.
"""

from __future__ import annotations

import struct
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _boxes(b: bytes, off: int, end: int, parents=()):
    """Yield ``(type, offset, size, header_size, parents)`` depth-first."""
    while off < end:
        size, typ = struct.unpack(">I4s", b[off : off + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", b[off + 8 : off + 16])[0], 16
        elif size == 0:
            size = end - off
        yield typ, off, size, hdr, parents
        if typ in CONTAINERS:
            yield from _boxes(b, off + hdr, off + size, parents + (off,))
        off += size


def _find(b: bytes, typ: bytes):
    hits = [x for x in _boxes(b, 0, len(b)) if x[0] == typ]
    assert len(hits) == 1, f"expected one {typ!r} box, found {len(hits)}"
    return hits[0]


def frame_duration_ticks(path: str | Path) -> tuple[int, int, int]:
    """``(timescale, first delta, number of frames)`` of a constant-rate MP4 written by OpenCV."""
    b = Path(path).read_bytes()
    _, o, s, h, _ = _find(b, b"mdhd")
    ver = b[o + h]
    ts = struct.unpack(">I", b[o + h + (12 if ver == 0 else 20) : o + h + (16 if ver == 0 else 24)])[0]
    _, o, s, h, _ = _find(b, b"stts")
    n_entries = struct.unpack(">I", b[o + h + 4 : o + h + 8])[0]
    entries = [struct.unpack(">II", b[o + h + 8 + 8 * i : o + h + 16 + 8 * i]) for i in range(n_entries)]
    return ts, entries[0][1], sum(c for c, _ in entries)


def set_frame_durations(path: str | Path, durations: list[int]) -> None:
    """Give frame ``i`` the duration ``durations[i]`` (media timescale ticks), in place."""
    p = Path(path)
    b = bytearray(p.read_bytes())
    _, moov_off, _, _, _ = _find(b, b"moov")
    mdat = _find(b, b"mdat")
    assert mdat[1] < moov_off, "moov must come after mdat (OpenCV's layout)"
    typ, o, size, h, parents = _find(b, b"stts")
    old = list(struct.unpack(">II", b[o + h + 8 : o + h + 16]))
    n_old = sum(struct.unpack(">II", b[o + h + 8 + 8 * i : o + h + 16 + 8 * i])[0] for i in range(struct.unpack(">I", b[o + h + 4 : o + h + 8])[0]))
    assert len(durations) == n_old, f"{p} has {n_old} frames, {len(durations)} durations given"
    runs: list[list[int]] = []
    for d in durations:
        if runs and runs[-1][1] == d:
            runs[-1][0] += 1
        else:
            runs.append([1, int(d)])
    body = b[o + 8 : o + 12] + struct.pack(">I", len(runs)) + b"".join(struct.pack(">II", c, d) for c, d in runs)
    new = struct.pack(">I4s", 8 + len(body), b"stts") + body
    grow = len(new) - size
    b[o : o + size] = new
    for par in parents:  # every enclosing box grows by the same amount (32-bit sizes here)
        struct.pack_into(">I", b, par, struct.unpack(">I", b[par : par + 4])[0] + grow)
    scale = sum(durations) / (old[1] * n_old)
    for name, ver0_off in ((b"mvhd", 16), (b"tkhd", 20), (b"mdhd", 16)):
        _, bo, _, bh, _ = _find(b, name)
        assert b[bo + bh] == 0, f"{name!r} version 1 not handled"
        at = bo + bh + ver0_off
        struct.pack_into(">I", b, at, round(struct.unpack(">I", b[at : at + 4])[0] * scale))
    elst = [x for x in _boxes(b, 0, len(b)) if x[0] == b"elst"]
    for _, eo, _, eh, _ in elst:
        assert b[eo + eh] == 0
        n = struct.unpack(">I", b[eo + eh + 4 : eo + eh + 8])[0]
        for i in range(n):
            at = eo + eh + 8 + 12 * i
            struct.pack_into(">I", b, at, round(struct.unpack(">I", b[at : at + 4])[0] * scale))
    p.write_bytes(bytes(b))


def set_rotation(path: str | Path, degrees: int) -> None:
    """Write a display rotation of ``degrees`` (90, 180, 270) into the video track header, in place."""
    p = Path(path)
    b = bytearray(p.read_bytes())
    _, o, _, h, _ = _find(b, b"tkhd")
    assert b[o + h] == 0, "tkhd version 1 not handled"
    one, w = 0x10000, 0x40000000
    a, bb, c, d = {90: (0, one, -one, 0), 180: (-one, 0, 0, -one), 270: (0, -one, one, 0)}[degrees]
    struct.pack_into(">9i", b, o + h + 40, a, bb, 0, c, d, 0, 0, 0, w)
    p.write_bytes(bytes(b))
