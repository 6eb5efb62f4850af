"""OpenCV's DualTVL1, with its primal-dual iteration fused into one compiled pass (CPU).

Algorithm: Zach, Pock & Bischof, "A duality based approach for realtime TV-L1 optical
flow" (DAGM 2007), in the form of Sánchez Pérez, Meinhardt-Llopis & Facciolo, "TV-L1
Optical Flow Estimation", IPOL 3 (2013) 137-150, as opencv_contrib ``optflow``'s
``DualTVL1OpticalFlow`` (``tvl1flow.cpp``, CPU path) computes it. The steps that run
once per pyramid level, warp or outer iteration are OpenCV's own calls (``cv2.resize``
for the pyramid and the flow upsampling, ``cv2.remap(INTER_CUBIC)`` for the warp,
``cv2.medianBlur``); the inner iteration, nearly all of OpenCV's time, is one loop
compiled with Numba (85-90 % of this engine's time) that does per pixel what OpenCV does in
seven passes over the image
(``estimateV``, two ``divergence``, ``estimateU``, two ``forwardGradient``,
``estimateDualVariables``) with eight temporary images:

* the thresholding step, the divergence of the dual variable and the primal update of a
  row ``y`` (which read the dual variable of rows ``y`` and ``y - 1``, not yet updated),
  then the dual update of row ``y - 1`` (which reads the new ``u`` of rows ``y - 1`` and
  ``y``): the same values as OpenCV's passes, with the working set in cache;
* float32 arithmetic in OpenCV's order of operations, no fused multiply-add and no
  reassociation (Numba without ``fastmath``), the stopping error summed over pixels in
  row-major order in float32 as OpenCV's serial ``estimateU`` does, ``|grad u|`` as
  glibc's ``hypotf`` computes it (in double, rounded once).

The flow is therefore OpenCV's to the bit (``tests/test_tvl1_fused.py``;
``bench/flow.py --identity`` over whole clips, docs/flow.md "Fused engine"); the saving is
memory traffic and parallel-loop overhead, not arithmetic. One thread: run several flow
jobs side by side to use more cores.

Shapes: frames are ``(H, W)`` grey images (uint8, or float32 grey levels 0..255); flow is
``(H, W, 2)`` float32 (dx, dy) in px from ``I0`` to ``I1`` (``I0(x) ~ I1(x + u(x))``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from numba import njit

from .tvl1_params import TVL1Settings

_FLT_EPSILON = np.float32(np.finfo(np.float32).eps)


def _jit(fn):
    """Numba's ``njit`` without fastmath (IEEE float32, no FMA contraction, no reassociation),
    cached on disk when Numba finds a writable cache folder (else compiled in each process)."""
    try:
        return njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available" (read-only install)
        return njit(cache=False, nogil=True, fastmath=False, error_model="numpy")(fn)


@_jit
def _update_u_row(y, u1, u2, p11, p12, p21, p22, I1wx, I1wy, grad, rho_c, l_t, theta, error):
    """Thresholding, divergence and primal steps of row ``y`` in place; returns the error sum."""
    w = u1.shape[1]
    neg_l_t = -l_t
    for x in range(w):
        ix = I1wx[y, x]
        iy = I1wy[y, x]
        g = grad[y, x]
        u1k = u1[y, x]
        u2k = u2[y, x]
        rho = rho_c[y, x] + (ix * u1k + iy * u2k)
        if rho < neg_l_t * g:
            d1 = l_t * ix
            d2 = l_t * iy
        elif rho > l_t * g:
            d1 = neg_l_t * ix
            d2 = neg_l_t * iy
        elif g > _FLT_EPSILON:
            fi = -rho / g
            d1 = fi * ix
            d2 = fi * iy
        else:
            d1 = np.float32(0.0)
            d2 = np.float32(0.0)
        v1 = u1k + d1
        v2 = u2k + d2
        # divergence of p (backward differences; what precedes row/column 0 counts as 0)
        if y > 0 and x > 0:
            div1 = (p11[y, x] - p11[y, x - 1]) + (p12[y, x] - p12[y - 1, x])
            div2 = (p21[y, x] - p21[y, x - 1]) + (p22[y, x] - p22[y - 1, x])
        elif x > 0:  # first row
            div1 = p11[y, x] - p11[y, x - 1] + p12[y, x]
            div2 = p21[y, x] - p21[y, x - 1] + p22[y, x]
        elif y > 0:  # first column
            div1 = p11[y, x] + p12[y, x] - p12[y - 1, x]
            div2 = p21[y, x] + p22[y, x] - p22[y - 1, x]
        else:
            div1 = p11[y, x] + p12[y, x]
            div2 = p21[y, x] + p22[y, x]
        n1 = v1 + theta * div1
        n2 = v2 + theta * div2
        u1[y, x] = n1
        u2[y, x] = n2
        error += (n1 - u1k) * (n1 - u1k) + (n2 - u2k) * (n2 - u2k)
    return error


@_jit
def _hypotf(a, b):
    da = np.float64(a)
    db = np.float64(b)
    return np.float32(math.sqrt(da * da + db * db))


@_jit
def _update_p_row(y, u1, u2, p11, p12, p21, p22, taut):
    """Dual step of row ``y`` from the new ``u`` (forward differences, 0 past the last row/column)."""
    h, w = u1.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    last = y == h - 1
    for x in range(w):
        if x < w - 1:
            u1x = u1[y, x + 1] - u1[y, x]
            u2x = u2[y, x + 1] - u2[y, x]
        else:
            u1x = zero
            u2x = zero
        if not last:
            u1y = u1[y + 1, x] - u1[y, x]
            u2y = u2[y + 1, x] - u2[y, x]
        else:
            u1y = zero
            u2y = zero
        ng1 = one + taut * _hypotf(u1x, u1y)
        ng2 = one + taut * _hypotf(u2x, u2y)
        p11[y, x] = (p11[y, x] + taut * u1x) / ng1
        p12[y, x] = (p12[y, x] + taut * u1y) / ng1
        p21[y, x] = (p21[y, x] + taut * u2x) / ng2
        p22[y, x] = (p22[y, x] + taut * u2y) / ng2


@_jit
def _inner_iterations(u1, u2, p11, p12, p21, p22, I1wx, I1wy, grad, rho_c, l_t, theta, taut, n_max, scaled_eps, error):
    """Up to ``n_max`` primal-dual iterations while ``error > scaled_eps``; returns
    ``(error, iterations run)``. All arrays ``(H, W)`` float32 C-contiguous, updated in place."""
    h = u1.shape[0]
    n = 0
    while n < n_max and error > scaled_eps:
        error = np.float32(0.0)
        for y in range(h):
            error = _update_u_row(y, u1, u2, p11, p12, p21, p22, I1wx, I1wy, grad, rho_c, l_t, theta, error)
            if y > 0:
                _update_p_row(y - 1, u1, u2, p11, p12, p21, p22, taut)
        _update_p_row(h - 1, u1, u2, p11, p12, p21, p22, taut)
        n += 1
    return error, n


def _centered_gradient(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's ``centeredGradient``: ``0.5 (next - previous)``, one-sided halves at the border."""
    p = np.pad(img, 1, mode="edge")
    dx = np.float32(0.5) * (p[1:-1, 2:] - p[1:-1, :-2])
    dy = np.float32(0.5) * (p[2:, 1:-1] - p[:-2, 1:-1])
    return np.ascontiguousarray(dx), np.ascontiguousarray(dy)


def check_settings(s: TVL1Settings) -> None:
    """Raise ``ValueError`` for what this engine does not compute: ``gamma != 0``."""
    if s.gamma != 0:
        raise ValueError("gamma (illumination term) is not implemented by tvl1-fused; use tvl1-opencv for gamma > 0")


class FusedTVL1:
    """TV-L1 flow as ``cv2.optflow.DualTVL1OpticalFlow`` computes it (``gamma = 0``), on CPU.

    Args:
        settings: :class:`~gaitprep.flow.tvl1_params.TVL1Settings` (OpenCV's defaults when
            ``None``); ``gamma`` must be 0 (the illumination term is not implemented).

    Raises:
        ValueError: ``gamma != 0``.

    The first call in a process compiles the loop (1-4 s; Numba caches it on disk next to
    this module or in ``NUMBA_CACHE_DIR``, so later processes load it in 0.1-0.3 s).
    """

    def __init__(self, settings: TVL1Settings | None = None):
        s = settings or TVL1Settings()
        check_settings(s)
        self.s = s
        self.iterations = 0  #: primal-dual iterations run so far (all calls)

    def calc(self, I0: np.ndarray, I1: np.ndarray, epsilon: float | None = None) -> np.ndarray:
        """Flow from ``I0`` to ``I1``.

        Args:
            I0, I1: ``(H, W)`` grey images, uint8 or float32 (grey levels 0..255; OpenCV
                would instead scale float input by 255), the same shape, at least 3 x 3.
            epsilon: the stopping threshold for this call (default ``settings.epsilon``).

        Returns:
            ``(H, W, 2)`` float32 flow in px (channel 0 dx, channel 1 dy).

        Raises:
            ValueError: shapes that differ, are not 2-D or are smaller than 3 x 3.
        """
        if I0.shape != I1.shape or I0.ndim != 2:
            raise ValueError(f"I0 and I1 must be (H, W) grey images of one shape, got {I0.shape} and {I1.shape}")
        h, w = I0.shape
        if h < 3 or w < 3:
            raise ValueError(f"images must be at least 3 x 3 px, got {h} x {w}")
        s = self.s
        eps = s.epsilon if epsilon is None else epsilon
        I0s = [np.asarray(I0, dtype=np.float32)]
        I1s = [np.asarray(I1, dtype=np.float32)]
        for _ in range(1, s.nscales):
            a = cv2.resize(I0s[-1], None, fx=s.scale_step, fy=s.scale_step, interpolation=cv2.INTER_LINEAR)
            if a.shape[0] < 16 or a.shape[1] < 16:
                break
            I0s.append(a)
            I1s.append(cv2.resize(I1s[-1], None, fx=s.scale_step, fy=s.scale_step, interpolation=cv2.INTER_LINEAR))
        n = len(I0s)
        u1 = np.zeros(I0s[-1].shape, np.float32)
        u2 = np.zeros_like(u1)
        up = 1.0 / s.scale_step  # cv::multiply by a Scalar: in double, rounded to float once
        for k in range(n - 1, -1, -1):
            u1, u2 = self._one_scale(I0s[k], I1s[k], u1, u2, eps)
            if k == 0:
                break
            hh, ww = I0s[k - 1].shape
            u1 = (cv2.resize(u1, (ww, hh), interpolation=cv2.INTER_LINEAR).astype(np.float64) * up).astype(np.float32)
            u2 = (cv2.resize(u2, (ww, hh), interpolation=cv2.INTER_LINEAR).astype(np.float64) * up).astype(np.float32)
        return np.dstack((u1, u2))

    def _one_scale(self, I0, I1, u1, u2, eps):
        s = self.s
        h, w = I0.shape
        scaled_eps = np.float32(eps * eps * h * w)
        l_t = np.float32(s.lambda_ * s.theta)
        taut = np.float32(s.tau / s.theta)
        theta = np.float32(s.theta)
        I1x, I1y = _centered_gradient(I1)
        p11, p12, p21, p22 = (np.zeros((h, w), np.float32) for _ in range(4))
        xs = np.arange(w, dtype=np.float32)[None, :]
        ys = np.arange(h, dtype=np.float32)[:, None]
        u1 = np.ascontiguousarray(u1, dtype=np.float32)
        u2 = np.ascontiguousarray(u2, dtype=np.float32)
        for _ in range(s.warps):
            m1, m2 = xs + u1, ys + u2
            I1w = cv2.remap(I1, m1, m2, cv2.INTER_CUBIC)
            I1wx = cv2.remap(I1x, m1, m2, cv2.INTER_CUBIC)
            I1wy = cv2.remap(I1y, m1, m2, cv2.INTER_CUBIC)
            grad = I1wx * I1wx + I1wy * I1wy
            rho_c = I1w - I1wx * u1 - I1wy * u2 - I0
            error = np.float32(np.finfo(np.float32).max)
            for _outer in range(s.outer_iterations):
                if not error > scaled_eps:
                    break
                if s.median_filtering > 1:
                    u1 = cv2.medianBlur(u1, s.median_filtering)
                    u2 = cv2.medianBlur(u2, s.median_filtering)
                error, k = _inner_iterations(u1, u2, p11, p12, p21, p22, I1wx, I1wy, grad, rho_c, l_t, theta, taut,
                                             s.inner_iterations, scaled_eps, error)  # fmt: skip
                self.iterations += int(k)
        return u1, u2
