"""Duality-based TV-L1 optical flow in PyTorch, batched, on CUDA or CPU.

Algorithm: Zach, Pock & Bischof, "A duality based approach for realtime TV-L1 optical
flow" (DAGM 2007), in the form detailed by Sánchez Pérez, Meinhardt-Llopis & Facciolo,
"TV-L1 Optical Flow Estimation", IPOL 3 (2013) 137-150, which OpenCV's
``cv2.optflow.DualTVL1OpticalFlow`` (opencv_contrib ``optflow/src/tvl1flow.cpp``) follows.
This module reproduces that implementation's numerical choices so that its flow matches
OpenCV's closely (see ``docs/flow.md`` for the measured parity):

* images as float32 grey levels in 0..255;
* pyramid: each level is the previous one resized by ``scale_step`` with bilinear
  interpolation (OpenCV ``resize(..., fx=fy=scale_step, INTER_LINEAR)``: size rounded to
  nearest, half-pixel centres, border replicated, no anti-aliasing); levels stop before
  either side drops under 16 px;
* image gradient: centred differences, border replicated;
* warping: bicubic (Keys, a = -0.75) sampling of ``I1`` and its gradient at ``x + u``,
  positions quantised to 1/32 px and samples outside the image counting as 0 (OpenCV
  ``remap(INTER_CUBIC)`` with its default constant border);
* per warp: ``outer_iterations`` x (median filter of ``u`` [5x5, replicated border],
  ``inner_iterations`` x (thresholding step for ``v``, primal step for ``u``, dual step for
  ``p``)), stopping early once the sum over pixels of ``|u_new - u_old|^2`` falls to
  ``epsilon^2 * H * W`` (checked per image of the batch; a converged image is frozen until
  the next warp, as the per-image loop of OpenCV would stop);
* the dual variables are reset at each pyramid level and kept across warps;
* flow passed to the next finer level: bilinear resize to its size, multiplied by
  ``1 / scale_step``.

Shapes: frames are ``(B, H, W)`` tensors (or arrays), flow is ``(B, 2, H, W)`` float32
(dx, dy) in px of the input size, from frame ``I0`` to frame ``I1`` (``I0(x) ~ I1(x + u(x))``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .tvl1_params import TVL1Settings

#: OpenCV remap's sub-pixel precision: 2**INTER_BITS positions per pixel
REMAP_SUBPIXEL = 32


@dataclass
class TVL1Params(TVL1Settings):
    """The PyTorch engine's TV-L1 parameters: :class:`gaitprep.flow.tvl1_params.TVL1Settings`
    (OpenCV's defaults) with ``gamma`` fixed at 0 (the illumination term is not implemented)."""

    def __post_init__(self):
        super().__post_init__()
        if self.gamma != 0:
            raise ValueError("gamma (illumination term) is not implemented; use gamma = 0 (OpenCV's default)")


# ----------------------------------------------------------------------------- resizing


def _cv_round(x: float) -> int:
    """OpenCV's ``cvRound`` for sizes: round half to even (as ``lrint``)."""
    return int(round(x))


def _linear_taps(n_in: int, n_out: int, scale: float, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weights of OpenCV's INTER_LINEAR resize along one axis.

    ``src = (dst + 0.5) * scale - 0.5``, computed in double and rounded to float as OpenCV
    does; taps outside the image are clamped to the border (replicate).
    """
    dst = np.arange(n_out, dtype=np.float64)
    f = ((dst + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    w = (f - i0).astype(np.float32)
    low = i0 < 0
    w[low], i0[low] = 0.0, 0
    high = i0 >= n_in - 1
    w[high], i0[high] = 0.0, n_in - 1
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return t(i0), t(i1), t(w)


def resize_linear(x: torch.Tensor, size: tuple[int, int], scale: Optional[tuple[float, float]] = None) -> torch.Tensor:
    """Bilinear resize as OpenCV's ``cv2.resize(INTER_LINEAR)`` of float images.

    Args:
        x: ``(B, H, W)`` float tensor.
        size: ``(h, w)`` output size.
        scale: ``(sy, sx)`` source px per destination px; default ``H / h, W / w``
            (OpenCV uses ``1 / fx`` when called with ``fx`` and no ``dsize``).

    Returns:
        ``(B, h, w)`` tensor.
    """
    _, h_in, w_in = x.shape
    h, w = size
    sy, sx = scale if scale is not None else (h_in / h, w_in / w)
    y0, y1, wy = _linear_taps(h_in, h, sy, x.device)
    x0, x1, wx = _linear_taps(w_in, w, sx, x.device)
    # horizontal pass then vertical pass (OpenCV also resizes rows first)
    r = x[:, :, x0] * (1 - wx) + x[:, :, x1] * wx
    return r[:, y0, :] * (1 - wy)[:, None] + r[:, y1, :] * wy[:, None]


def pyramid_sizes(h: int, w: int, nscales: int, scale_step: float) -> list[tuple[int, int]]:
    """Sizes ``(h, w)`` of the pyramid levels, finest first, as OpenCV builds them."""
    sizes = [(h, w)]
    for _ in range(1, nscales):
        ph, pw = sizes[-1]
        nh, nw = _cv_round(ph * scale_step), _cv_round(pw * scale_step)
        if nh < 16 or nw < 16:
            break
        sizes.append((nh, nw))
    return sizes


# ----------------------------------------------------------------------------- stencils


def centered_gradient(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred differences ``0.5 * (x[i+1] - x[i-1])`` with the border replicated. ``(B,H,W)``."""
    p = F.pad(x[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    dx = 0.5 * (p[:, 1:-1, 2:] - p[:, 1:-1, :-2])
    dy = 0.5 * (p[:, 2:, 1:-1] - p[:, :-2, 1:-1])
    return dx, dy


def forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, 0 on the last column (dx) / last row (dy). ``(B,H,W)``."""
    dx = F.pad(u[:, :, 1:] - u[:, :, :-1], (0, 1))
    dy = F.pad(u[:, 1:, :] - u[:, :-1, :], (0, 0, 0, 1))
    return dx, dy


def divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward-difference divergence, the negative adjoint of :func:`forward_gradient`
    (values before the first row/column count as 0). ``(B,H,W)``."""
    return px - F.pad(px[:, :, :-1], (1, 0)) + py - F.pad(py[:, :-1, :], (0, 0, 1, 0))


def _batcher_pairs(n: int) -> list[tuple[int, int]]:
    """Comparators of Batcher's odd-even merge sort of ``n`` (a power of 2) wires."""
    pairs, p = [], 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


@functools.lru_cache(maxsize=None)
def median_network(n_in: int) -> tuple[list[tuple[str, int, int]], int]:
    """A selection network for the median of ``n_in`` (odd) values, as min/max operations.

    Batcher's sorting network on the next power of two, padded with -inf/+inf so that the
    median stays in the middle, simplified where a comparator meets a constant and pruned
    to the operations the median depends on (212 for 25 values, against 625+ for a sort).

    Returns:
        ``(ops, out)``: ``ops[i] = (op, a, b)`` with ``op`` "min"/"max" and operands
        ``a``/``b`` numbered inputs ``0..n_in-1`` then ops ``n_in + i``; ``out`` the operand
        holding the median.
    """
    n = 1 << (n_in - 1).bit_length()
    nneg = (n - n_in) // 2
    NEG, POS = -1, -2
    wires = list(range(n_in)) + [NEG] * nneg + [POS] * (n - n_in - nneg)
    ops: list[tuple[str, int, int]] = []
    for a, b in _batcher_pairs(n):
        x, y = wires[a], wires[b]
        if x == NEG or y == POS:
            continue
        if y == NEG or x == POS:
            wires[a], wires[b] = y, x
            continue
        ops.append(("min", x, y))
        ops.append(("max", x, y))
        wires[a], wires[b] = n_in + len(ops) - 2, n_in + len(ops) - 1
    out = wires[nneg + n_in // 2]
    need, stack = set(), [out]
    while stack:
        w = stack.pop()
        if w >= n_in and w not in need:
            need.add(w)
            stack += ops[w - n_in][1:]
    keep = sorted(need)
    remap = {i: i for i in range(n_in)} | {w: n_in + k for k, w in enumerate(keep)}
    pruned = [(ops[w - n_in][0], remap[ops[w - n_in][1]], remap[ops[w - n_in][2]]) for w in keep]
    return pruned, remap[out]


def median_blur(u: torch.Tensor, k: int) -> torch.Tensor:
    """``k x k`` median filter with the border replicated (OpenCV ``medianBlur``). ``(B,H,W)``.

    Evaluated with the min/max selection network of :func:`median_network` on shifted
    views (no ``k*k`` copy of the image): exact, and several times faster than a sort.
    """
    if k <= 1:
        return u
    r = k // 2
    b, h, w = u.shape
    p = F.pad(u[:, None], (r, r, r, r), mode="replicate")[:, 0]
    vals: list = [p[:, i : i + h, j : j + w] for i in range(k) for j in range(k)]
    ops, out = median_network(k * k)
    # free each intermediate after its last use
    last = {}
    for i, (_, a, c) in enumerate(ops):
        last[a] = last[c] = i
    n_in = k * k
    vals += [None] * len(ops)
    for i, (op, a, c) in enumerate(ops):
        vals[n_in + i] = (torch.minimum if op == "min" else torch.maximum)(vals[a], vals[c])
        for x in (a, c):
            if last.get(x) == i and x >= n_in and x != out:
                vals[x] = None
    return vals[out].contiguous()


def warp_bicubic(stack: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
    """Sample ``stack`` at ``(x + u1, y + u2)`` as OpenCV ``remap(INTER_CUBIC)`` does.

    Args:
        stack: ``(B, C, H, W)`` images to sample.
        u1, u2: ``(B, H, W)`` displacement in px.

    Returns:
        ``(B, C, H, W)``; positions quantised to 1/32 px, taps outside the image read 0.
    """
    b, _, h, w = stack.shape
    ys = torch.arange(h, device=u1.device, dtype=u1.dtype).view(1, h, 1)
    xs = torch.arange(w, device=u1.device, dtype=u1.dtype).view(1, 1, w)
    mx = torch.round((xs + u1) * REMAP_SUBPIXEL) / REMAP_SUBPIXEL
    my = torch.round((ys + u2) * REMAP_SUBPIXEL) / REMAP_SUBPIXEL
    # normalise for align_corners=True: -1 is the centre of pixel 0, +1 of pixel W-1
    gx = mx * (2.0 / max(w - 1, 1)) - 1.0
    gy = my * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(stack, grid, mode="bicubic", padding_mode="zeros", align_corners=True)


# ----------------------------------------------------------------------------- solver


def _iteration(u1, u2, p11, p12, p21, p22, I1wx, I1wy, rho_c, lt_grad, neg_lt_grad, neg_inv_grad, act, l_t: float, theta: float, taut: float):
    """One primal-dual iteration (thresholding, primal and dual steps) on ``(B,H,W)`` tensors.

    ``lt_grad`` is ``lambda * theta * |grad I1w|^2``, ``neg_lt_grad`` its negative,
    ``neg_inv_grad`` is ``-1 / |grad I1w|^2`` (0 where the gradient vanishes); ``act``:
    ``(B,1,1)`` bool, images still iterating (``None``: all); frozen images keep their ``u``
    and ``p``. Returns the new ``u1, u2, p11, p12, p21, p22`` and ``err``, the per-image sum
    of squared changes of ``u`` ``(B,)``. Written with few, partly in-place, operations on
    fresh temporaries (never on the inputs): the CPU path is memory-bound.
    """
    # thresholding step: v = u + fi * grad(I1w), fi from the linearised residual rho
    rho = torch.addcmul(torch.addcmul(rho_c, I1wx, u1), I1wy, u2)
    fi = torch.where(rho < neg_lt_grad, l_t, torch.where(rho > lt_grad, -l_t, rho * neg_inv_grad))
    # primal step: u = v + theta * div(p)
    d1 = torch.addcmul(divergence(p11, p12).mul_(theta), fi, I1wx)
    d2 = torch.addcmul(divergence(p21, p22).mul_(theta), fi, I1wy)
    err = torch.addcmul(d1 * d1, d2, d2).sum(dim=(1, 2))
    n1, n2 = u1 + d1, u2 + d2
    if act is not None:
        n1, n2 = torch.where(act, n1, u1), torch.where(act, n2, u2)
    # dual step: p = (p + taut * grad(u)) / (1 + taut * |grad(u)|)
    u1x, u1y = forward_gradient(n1)
    u2x, u2y = forward_gradient(n2)
    ng1 = torch.hypot(u1x, u1y).mul_(taut).add_(1.0)
    ng2 = torch.hypot(u2x, u2y).mul_(taut).add_(1.0)
    q11 = torch.add(p11, u1x, alpha=taut).div_(ng1)
    q12 = torch.add(p12, u1y, alpha=taut).div_(ng1)
    q21 = torch.add(p21, u2x, alpha=taut).div_(ng2)
    q22 = torch.add(p22, u2y, alpha=taut).div_(ng2)
    if act is not None:
        q11, q12 = torch.where(act, q11, p11), torch.where(act, q12, p12)
        q21, q22 = torch.where(act, q21, p21), torch.where(act, q22, p22)
    return n1, n2, q11, q12, q21, q22, err


_compiled_iteration = None


def _get_iteration(compile: bool):
    """The iteration function, fused by ``torch.compile`` (dynamic shapes) when asked."""
    global _compiled_iteration
    if not compile:
        return _iteration
    if _compiled_iteration is None:
        _compiled_iteration = torch.compile(_iteration, dynamic=True)
    return _compiled_iteration


def _one_scale(I0: torch.Tensor, I1: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor, p: TVL1Params, step=_iteration):
    """Refine the flow ``u1, u2`` ``(B,H,W)`` at one pyramid level; returns the new ``u1, u2``."""
    b, h, w = I0.shape
    scaled_eps = p.epsilon * p.epsilon * h * w
    l_t = p.lambda_ * p.theta
    taut = p.tau / p.theta
    I1x, I1y = centered_gradient(I1)
    src = torch.stack((I1, I1x, I1y), dim=1)
    p11 = torch.zeros_like(I0)
    p12 = torch.zeros_like(I0)
    p21 = torch.zeros_like(I0)
    p22 = torch.zeros_like(I0)
    tiny = float(np.finfo(np.float32).eps)

    for _ in range(p.warps):
        warped = warp_bicubic(src, u1, u2)
        I1w, I1wx, I1wy = warped[:, 0], warped[:, 1], warped[:, 2]
        grad = I1wx * I1wx + I1wy * I1wy
        rho_c = I1w - I1wx * u1 - I1wy * u2 - I0
        lt_grad = l_t * grad
        neg_lt_grad = -lt_grad
        neg_inv_grad = torch.where(grad > tiny, -1.0 / grad.clamp_min(tiny), torch.zeros_like(grad))
        active = [True] * b  # per image: still iterating in this warp
        for _outer in range(p.outer_iterations):
            if not any(active):
                break
            act_t = torch.tensor(active, device=I0.device).view(b, 1, 1)
            all_act = all(active)
            if p.median_filtering > 1:
                m1, m2 = median_blur(u1, p.median_filtering), median_blur(u2, p.median_filtering)
                u1 = m1 if all_act else torch.where(act_t, m1, u1)
                u2 = m2 if all_act else torch.where(act_t, m2, u2)
            for _inner in range(p.inner_iterations):
                u1, u2, p11, p12, p21, p22, err = step(
                    u1, u2, p11, p12, p21, p22, I1wx, I1wy, rho_c, lt_grad, neg_lt_grad, neg_inv_grad,
                    None if all_act else act_t, l_t, p.theta, taut,
                )  # fmt: skip
                errs = err.tolist()
                new_active = [a and e > scaled_eps for a, e in zip(active, errs)]
                if new_active != active:
                    active = new_active
                    if not any(active):
                        break
                    act_t = torch.tensor(active, device=I0.device).view(b, 1, 1)
                    all_act = False
    return u1, u2


def _as_batch(x, device, name: str) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"{name} must be (B, H, W) or (H, W) grey images, got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.float32)
    return t


@torch.no_grad()
def tvl1_flow(
    I0,
    I1,
    params: Optional[TVL1Params] = None,
    device: Optional[str | torch.device] = None,
    initial_flow: Optional[torch.Tensor] = None,
    compile: bool = False,
) -> torch.Tensor:
    """TV-L1 optical flow from ``I0`` to ``I1`` for a batch of grey image pairs.

    Args:
        I0, I1: ``(B, H, W)`` or ``(H, W)`` grey images (tensors or arrays), grey levels in
            0..255, uint8 or float (float is used as is; OpenCV instead multiplies float
            input by 255, expecting 0..1).
        params: :class:`TVL1Params` (OpenCV's defaults when ``None``).
        device: where to compute (default: the device of ``I0`` if a tensor, else CPU).
        initial_flow: optional ``(B, 2, H, W)`` starting flow in px (OpenCV's
            ``useInitialFlow``); it is resized down the pyramid like OpenCV does.
        compile: fuse the primal-dual iteration with ``torch.compile`` (needs a C++
            compiler on CPU / Triton on CUDA; the first call compiles, ~1 min).

    Returns:
        ``(B, 2, H, W)`` float32 flow on ``device``: channel 0 dx, channel 1 dy, in px, with
        ``I0(x, y) ~ I1(x + dx, y + dy)``.

    Raises:
        ValueError: on shapes that differ or are smaller than 3 x 3, or bad parameters.
    """
    p = params or TVL1Params()
    if device is None:
        device = I0.device if isinstance(I0, torch.Tensor) else "cpu"
    I0 = _as_batch(I0, device, "I0")
    I1 = _as_batch(I1, device, "I1")
    if I0.shape != I1.shape:
        raise ValueError(f"I0 and I1 must have the same shape, got {tuple(I0.shape)} and {tuple(I1.shape)}")
    b, h, w = I0.shape
    if h < 3 or w < 3:
        raise ValueError(f"images must be at least 3 x 3 px, got {h} x {w}")
    sizes = pyramid_sizes(h, w, p.nscales, p.scale_step)
    I0s, I1s = [I0], [I1]
    for s in range(1, len(sizes)):
        sc = (1.0 / p.scale_step, 1.0 / p.scale_step)
        I0s.append(resize_linear(I0s[-1], sizes[s], sc))
        I1s.append(resize_linear(I1s[-1], sizes[s], sc))
    n = len(sizes)
    step = _get_iteration(compile)
    if initial_flow is not None:
        f = initial_flow.to(device=device, dtype=torch.float32)
        if f.shape != (b, 2, h, w):
            raise ValueError(f"initial_flow must be {(b, 2, h, w)}, got {tuple(f.shape)}")
        u1, u2 = f[:, 0], f[:, 1]
        sc = (1.0 / p.scale_step, 1.0 / p.scale_step)
        for s in range(1, n):
            u1 = resize_linear(u1, sizes[s], sc) * p.scale_step
            u2 = resize_linear(u2, sizes[s], sc) * p.scale_step
    else:
        u1 = torch.zeros(b, *sizes[-1], device=device)
        u2 = torch.zeros_like(u1)
    for s in range(n - 1, -1, -1):
        u1, u2 = _one_scale(I0s[s], I1s[s], u1, u2, p, step)
        if s == 0:
            break
        u1 = resize_linear(u1, sizes[s - 1]) / p.scale_step
        u2 = resize_linear(u2, sizes[s - 1]) / p.scale_step
    return torch.stack((u1, u2), dim=1)


def set_cpu_threads(n: Optional[int] = None) -> int:
    """Set torch's intra-op CPU threads (default: the cores this process may use); returns it.

    On cores shared with other busy processes, fewer threads than cores (even 1) is faster:
    OpenMP threads spin at each of the many small parallel regions of the iteration.
    """
    if n is None:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()
