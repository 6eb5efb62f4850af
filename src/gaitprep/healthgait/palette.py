"""Coarse body parts and the Health&Gait segmentation palette.

The 14 coarse parts are DensePose's 24 fine part indices ``I`` merged per limb segment
(Güler et al., "DensePose", CVPR 2018; index table in the spec). Colours are those seen in
the published Health&Gait PNGs (RGB). The feet are exactly (255,255,0) and (128,0,0):
the published gait code finds the shoes by those values. Which colour of each left/right
pair is left is not published; the assignment below is gaitprep's and fixed.
"""

from __future__ import annotations

import numpy as np

#: label -> (name, RGB); label 0 is background (black)
PARTS: dict[int, tuple[str, tuple[int, int, int]]] = {
    1: ("head", (255, 255, 255)),
    2: ("torso", (255, 0, 0)),
    3: ("r_upper_arm", (255, 128, 0)),
    4: ("l_upper_arm", (255, 0, 128)),
    5: ("r_lower_arm", (255, 128, 255)),
    6: ("l_lower_arm", (128, 255, 128)),
    7: ("r_hand", (0, 255, 0)),
    8: ("l_hand", (0, 0, 255)),
    9: ("r_upper_leg", (0, 128, 128)),
    10: ("l_upper_leg", (128, 128, 0)),
    11: ("r_lower_leg", (128, 128, 128)),
    12: ("l_lower_leg", (128, 0, 128)),
    13: ("r_foot", (255, 255, 0)),
    14: ("l_foot", (128, 0, 0)),
}
PART_LABEL = {name: label for label, (name, _) in PARTS.items()}

#: (15, 3) uint8 lookup table, row = label, RGB
PALETTE_RGB = np.zeros((15, 3), np.uint8)
for _label, (_name, _rgb) in PARTS.items():
    PALETTE_RGB[_label] = _rgb
#: the same in OpenCV's BGR order
PALETTE_BGR = PALETTE_RGB[:, ::-1].copy()
#: the palettes as 256-entry 3-channel lookup tables for cv2.LUT (labels > 14 are rejected first)
_LUT_BGR = np.zeros((256, 1, 3), np.uint8)
_LUT_BGR[:15, 0] = PALETTE_BGR
_LUT_RGB = np.zeros((256, 1, 3), np.uint8)
_LUT_RGB[:15, 0] = PALETTE_RGB
#: every colour allowed in a segmentation PNG (RGB), black included
ALLOWED_RGB = {tuple(int(v) for v in c) for c in PALETTE_RGB}

#: DensePose fine part index I (1..24) -> coarse label (0 = background)
DENSEPOSE_I_TO_PART = np.zeros(25, np.uint8)
for _ids, _name in (
    ((1, 2), "torso"), ((3,), "r_hand"), ((4,), "l_hand"), ((5,), "l_foot"), ((6,), "r_foot"),
    ((7, 9), "r_upper_leg"), ((8, 10), "l_upper_leg"), ((11, 13), "r_lower_leg"), ((12, 14), "l_lower_leg"),
    ((15, 17), "l_upper_arm"), ((16, 18), "r_upper_arm"), ((19, 21), "l_lower_arm"), ((20, 22), "r_lower_arm"),
    ((23, 24), "head"),
):  # fmt: skip
    for _i in _ids:
        DENSEPOSE_I_TO_PART[_i] = PART_LABEL[_name]


def colorize(parts: np.ndarray, bgr: bool = True) -> np.ndarray:
    """Colour a ``(H, W)`` uint8 label image (0..14) -> ``(H, W, 3)`` uint8 image.

    Raises:
        ValueError: if a label is outside 0..14.
    """
    parts = np.asarray(parts)
    if parts.size and int(parts.max()) > 14:
        raise ValueError(f"part label {int(parts.max())} outside 0..14")
    if parts.dtype == np.uint8 and parts.ndim == 2 and parts.size:
        import cv2

        # the same pixels as the table lookup below, 5x faster (one 3-channel 256-entry LUT)
        return cv2.LUT(cv2.merge((parts, parts, parts)), _LUT_BGR if bgr else _LUT_RGB)
    return (PALETTE_BGR if bgr else PALETTE_RGB)[parts]
