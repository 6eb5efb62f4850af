"""The one HSV coding of optical flow used for every flow method (TV-L1, GMFlow).

Hue encodes direction and value encodes magnitude, at full saturation, as in the
Middlebury-style HSV visualisation OpenCV's optical-flow tutorial uses: angle 0
(rightward, +x) is red (hue 0), 180 deg (leftward) is cyan, 90 deg (+y, downward in image
coordinates) and no motion is black.
"""

from __future__ import annotations

import numpy as np
import cv2

#: how value (brightness) is normalised: a fixed px/frame cap (comparable across frames and
#: clips) or each image's own maximum (the common ``cv2.normalize(NORM_MINMAX)`` recipe)
NORMALIZE_MODES = ("fixed", "frame")


def flow_to_bgr(flow: np.ndarray, normalize: str = "fixed", max_magnitude: float = 16.0) -> np.ndarray:
    """Code a flow field as an HSV-coloured BGR image.

    Args:
        flow: ``(H, W, 2)`` float, (dx, dy) in px from frame t to t+1.
        normalize: ``"fixed"``: value = min(|flow| / max_magnitude, 1) * 255;
            ``"frame"``: value = |flow| / max(|flow|) * 255 (all-black when no motion).
        max_magnitude: the magnitude in px/frame coded as full brightness (``fixed`` only).

    Returns:
        ``(H, W, 3)`` uint8 BGR image (write it with ``cv2.imwrite``).

    Raises:
        ValueError: on a wrong shape, an unknown mode or a non-positive ``max_magnitude``.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"unknown flow normalisation {normalize!r} (expected one of {NORMALIZE_MODES})")
    mag, ang = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    mag = np.nan_to_num(mag, nan=0.0, posinf=0.0)
    if normalize == "fixed":
        if max_magnitude <= 0:
            raise ValueError(f"max_magnitude must be > 0, got {max_magnitude}")
        val = np.clip(mag / max_magnitude, 0.0, 1.0) * 255.0
    else:
        peak = float(mag.max()) if mag.size else 0.0
        val = mag / peak * 255.0 if peak > 0 else np.zeros_like(mag)
    hsv = np.empty(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = np.round(ang / 2.0).astype(np.uint16) % 180  # OpenCV 8-bit hue is 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.round(val).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
