"""Motion ROI for TV-L1: solve only a box around what changes between the two frames.

With a still camera, TV-L1's flow is ~0 wherever neither frame changes, and the fixed HSV
coding (``flow_to_bgr(normalize="fixed")``) writes black there. :func:`roi_decision` finds,
from the two grey frames of a pair, the box that holds every pixel that changes plus a
margin for the halo that TV regularisation spreads around a mover; the backends
(``roi: true`` in ``tvl1-opencv`` / ``tvl1-torch``) solve TV-L1 on that box only and write
zero flow outside (:func:`solve_pair`). Correctness first: whenever the box could miss
flow, the answer is the full frame.

Method (on the frames TV-L1 sees, i.e. after ``scale``):

1. ``d = |blur(I1) - blur(I0)|`` (3x3 Gaussian against compression noise); threshold
   ``max(threshold, median(d) + NOISE_K * 1.4826 * MAD(d))`` (the difference image's own
   noise level, with a floor); a 3x3 morphological opening drops isolated speckle.
2. Camera motion and lighting: a least-squares fit ``I1 - I0 ~ -grad(I) . s + c`` over the
   pixels outside the (dilated) change mask estimates a global shift ``s`` (px) and a
   brightness offset ``c`` (grey levels). A hand-held camera moves the whole background by
   a few tenths of a pixel, which TV-L1 reports as flow everywhere (visible in the PNG):
   ``|s| > shake_px`` or ``|c| > LIGHTING_LEVELS`` -> full frame.
3. No changed pixel left (and no camera motion): :data:`STATIC`, an empty box: zero flow,
   TV-L1 not called.
4. Box of the changed pixels (the difference covers the mover in both frames), grown by
   ``margin_px + margin_frac * side`` on each side, to at least the size the pyramid needs
   for ``nscales`` levels (:func:`min_side`), rounded up to a multiple of ``align`` px (stable
   sizes for ``torch.compile``), clipped to the frame (shifted inward at the borders).
5. Box area > ``max_share`` of the frame (many movers, large shadows): full frame (None).

:func:`solve_pair` also scales TV-L1's ``epsilon`` by ``sqrt(frame area / box area)``: the
stopping test compares a *sum* over the image with ``epsilon^2 * H * W``; outside the box
the updates are ~0, so this keeps the full frame's stopping point (without it the box would
iterate longer than the full frame does and give a different, more converged flow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional

import cv2
import numpy as np

#: the empty box: nothing changes between the two frames -> zero flow, TV-L1 not called
STATIC = (0, 0, 0, 0)
#: noise threshold = median + NOISE_K * 1.4826 * MAD of the difference image
NOISE_K = 4.0
#: a global brightness change (grey levels) above which the full frame is solved
LIGHTING_LEVELS = 2.0
#: the smallest pyramid side OpenCV's and gaitprep's TV-L1 keep (levels stop under 16 px)
PYRAMID_MIN_SIDE = 16


class Roi(NamedTuple):
    """One pair's decision.

    Attributes:
        box: ``(x0, y0, x1, y1)`` px, end exclusive; :data:`STATIC` for no change; None for
            the full frame.
        kind: ``"box"``, ``"static"`` or ``"full"``.
        reason: why the full frame (``"shake"``, ``"lighting"``, ``"share"``), else ``""``.
        share: solved area / frame area (0 static, 1 full).
        threshold: the grey-level threshold used.
        shift: the global shift estimate ``(sx, sy)`` px.
        offset: the global brightness offset estimate (grey levels).
        changed: the box of the changed pixels before margin and rounding (None if none
            or not computed).
    """

    box: Optional[tuple]
    kind: str
    reason: str
    share: float
    threshold: float
    shift: tuple
    offset: float
    changed: Optional[tuple] = None


def min_side(nscales: int, scale_step: float) -> int:
    """The smallest image side for which the TV-L1 pyramid keeps all ``nscales`` levels
    (each level ``round(side * scale_step)``, stopping before a side drops under 16 px)."""
    n = PYRAMID_MIN_SIDE
    while True:
        s, ok = n, True
        for _ in range(1, nscales):
            s = int(round(s * scale_step))
            if s < PYRAMID_MIN_SIDE:
                ok = False
                break
        if ok:
            return n
        n += 1


def _grow(lo: int, hi: int, size: int, n: int) -> tuple[int, int]:
    """Grow ``[lo, hi)`` symmetrically to length ``n`` (at most ``size``) inside ``[0, size)``."""
    n = min(n, size)
    extra = n - (hi - lo)
    if extra > 0:
        lo -= extra // 2
        hi = lo + n
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > size:
        lo, hi = max(0, lo - (hi - size)), size
    return lo, hi


def _global_motion(a: np.ndarray, b: np.ndarray, exclude: np.ndarray) -> tuple[tuple, float]:
    """Least-squares global shift ``(sx, sy)`` px and brightness offset of ``b`` vs ``a``
    over the pixels not in ``exclude`` (``b - a ~ -(Ix sx + Iy sy) + c``)."""
    m = 0.5 * (a + b)
    ix = cv2.Sobel(m, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    iy = cv2.Sobel(m, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    d = b - a
    use = ~exclude
    use[:2], use[-2:], use[:, :2], use[:, -2:] = False, False, False, False  # Sobel borders
    if use.sum() < 64:
        return (0.0, 0.0), 0.0
    A = np.stack([ix[use], iy[use], np.ones(int(use.sum()), np.float32)], 1).astype(np.float64)
    y = -d[use].astype(np.float64)
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    return (float(sol[0]), float(sol[1])), float(-sol[2])


def roi_decision(
    g0: np.ndarray,
    g1: np.ndarray,
    *,
    nscales: int = 5,
    scale_step: float = 0.8,
    margin_px: int = 16,
    margin_frac: float = 0.1,
    threshold: float = 4.0,
    max_share: float = 0.6,
    shake_px: float = 0.03,
    align: int = 16,
) -> Roi:
    """Decide which part of a pair TV-L1 must solve (module docstring for the method).

    Args:
        g0, g1: the pair's grey frames, ``(H, W)`` uint8 or float (0..255), as TV-L1 gets them.
        nscales, scale_step: the TV-L1 pyramid (the box keeps every level).
        margin_px: margin added on each side of the changed pixels' box, px.
        margin_frac: plus this fraction of the box's side (width for x, height for y).
        threshold: the least grey-level difference counted as change (the floor of the
            noise-based threshold).
        max_share: above this share of the frame, the full frame is solved.
        shake_px: a global shift (camera motion) above this, px, -> full frame.
        align: box sides are rounded up to a multiple of this, px.

    Returns:
        :class:`Roi`; ``.box`` is the box ``(x0, y0, x1, y1)`` (end exclusive), None (full
        frame) or :data:`STATIC`.
    """
    a = np.asarray(g0, np.float32)
    b = np.asarray(g1, np.float32)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two grey (H, W) frames of one size, got {a.shape} and {b.shape}")
    H, W = a.shape
    a = cv2.GaussianBlur(a, (3, 3), 0)
    b = cv2.GaussianBlur(b, (3, 3), 0)
    d = np.abs(b - a)
    med = float(np.median(d))
    mad = float(np.median(np.abs(d - med)))
    thr = max(float(threshold), med + NOISE_K * 1.4826 * mad)
    mask = (d > thr).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    near = cv2.dilate(mask, np.ones((9, 9), np.uint8)).astype(bool)
    shift, offset = _global_motion(a, b, near)
    full = lambda why: Roi(None, "full", why, 1.0, thr, shift, offset)  # noqa: E731
    if math.hypot(*shift) > shake_px:
        return full("shake")
    if abs(offset) > LIGHTING_LEVELS:
        return full("lighting")
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return Roi(STATIC, "static", "", 0.0, thr, shift, offset)
    x0, x1 = int(xs.min()), int(xs.max()) + 1
    y0, y1 = int(ys.min()), int(ys.max()) + 1
    changed = (x0, y0, x1, y1)
    mx = int(math.ceil(margin_px + margin_frac * (x1 - x0)))
    my = int(math.ceil(margin_px + margin_frac * (y1 - y0)))
    x0, x1 = max(0, x0 - mx), min(W, x1 + mx)
    y0, y1 = max(0, y0 - my), min(H, y1 + my)
    side = min_side(nscales, scale_step)
    al = max(1, int(align))
    x0, x1 = _grow(x0, x1, W, -(-max(side, x1 - x0) // al) * al)
    y0, y1 = _grow(y0, y1, H, -(-max(side, y1 - y0) // al) * al)
    share = (x1 - x0) * (y1 - y0) / float(H * W)
    if share > max_share:
        return Roi(None, "full", "share", 1.0, thr, shift, offset, changed)
    return Roi((x0, y0, x1, y1), "box", "", share, thr, shift, offset, changed)


def motion_roi(g0: np.ndarray, g1: np.ndarray, **kw):
    """The box to solve for a pair: ``(x0, y0, x1, y1)`` px (end exclusive), None for the
    full frame, or :data:`STATIC` (``(0, 0, 0, 0)``: no change, zero flow). Keyword
    arguments as :func:`roi_decision`."""
    return roi_decision(g0, g1, **kw).box


def box_epsilon(epsilon: float, box, hw: tuple[int, int]) -> float:
    """TV-L1 ``epsilon`` for solving ``box`` of an ``hw`` frame with the full frame's stopping
    point (the test sums updates over the image: scale by ``sqrt(frame area / box area)``)."""
    if box is None:
        return epsilon
    x0, y0, x1, y1 = box
    return epsilon * math.sqrt(hw[0] * hw[1] / float((x1 - x0) * (y1 - y0)))


def embed(flow_box: np.ndarray, box, hw: tuple[int, int]) -> np.ndarray:
    """A ``(h, w, 2)`` box flow placed in a zero ``(H, W, 2)`` float32 field."""
    out = np.zeros(hw + (2,), np.float32)
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = flow_box
    return out


@dataclass
class RoiSettings:
    """The ROI knobs of a backend (its ``roi_*`` params) and the pyramid they must respect."""

    margin_px: int = 16
    margin_frac: float = 0.1
    threshold: float = 4.0
    max_share: float = 0.6
    shake_px: float = 0.03
    nscales: int = 5
    scale_step: float = 0.8

    def decide(self, g0, g1) -> Roi:
        return roi_decision(g0, g1, nscales=self.nscales, scale_step=self.scale_step, margin_px=self.margin_px,
                            margin_frac=self.margin_frac, threshold=self.threshold, max_share=self.max_share,
                            shake_px=self.shake_px)  # fmt: skip


@dataclass
class RoiStats:
    """Per-clip ROI figures for the provenance record."""

    shares: list = field(default_factory=list)
    kinds: dict = field(default_factory=dict)
    #: the last pair's decision (for benchmarks; not in the summary)
    last: Optional[Roi] = None

    def add(self, r: Roi) -> None:
        self.last = r
        self.shares.append(r.share)
        key = r.kind if r.kind != "full" else f"full:{r.reason}"
        self.kinds[key] = self.kinds.get(key, 0) + 1

    def summary(self) -> dict:
        s = self.shares
        return {
            "pairs": len(s),
            "solved_share_mean": round(float(np.mean(s)), 4) if s else None,
            "solved_share_max": round(float(np.max(s)), 4) if s else None,
            "decisions": dict(sorted(self.kinds.items())),
        }


def solve_pair(g0, g1, solve: Callable[[np.ndarray, np.ndarray, float], np.ndarray], epsilon: float,
               settings: RoiSettings, stats: Optional[RoiStats] = None) -> tuple[np.ndarray, Roi]:  # fmt: skip
    """Flow of one pair with the motion ROI.

    Args:
        g0, g1: grey ``(H, W)`` frames as TV-L1 gets them.
        solve: ``solve(I0, I1, epsilon) -> (h, w, 2)`` float32 flow (the engine).
        epsilon: the engine's ``epsilon`` for the full frame (scaled for a box, :func:`box_epsilon`).
        settings: the ROI knobs; ``stats`` collects the decision when given.

    Returns:
        ``(flow (H, W, 2) float32, the decision)``.
    """
    hw = tuple(np.asarray(g0).shape[:2])
    r = settings.decide(g0, g1)
    if stats is not None:
        stats.add(r)
    if r.box is None:
        return solve(g0, g1, epsilon), r
    if r.box == STATIC:
        return np.zeros(hw + (2,), np.float32), r
    x0, y0, x1, y1 = r.box
    f = solve(np.ascontiguousarray(g0[y0:y1, x0:x1]), np.ascontiguousarray(g1[y0:y1, x0:x1]),
              box_epsilon(epsilon, r.box, hw))  # fmt: skip
    return embed(f, r.box, hw), r
