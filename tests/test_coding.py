import cv2
import numpy as np
import pytest

from gaitprep.healthgait.flowcode import flow_to_bgr
from gaitprep.healthgait.palette import ALLOWED_RGB, DENSEPOSE_I_TO_PART, PALETTE_RGB, PARTS, colorize


def hue_of(bgr):
    return int(cv2.cvtColor(bgr.reshape(1, 1, 3), cv2.COLOR_BGR2HSV)[0, 0, 0])


def test_flow_coding_directions_and_black():
    f = np.zeros((2, 3, 2), np.float32)
    f[0, 0] = (8, 0)  # rightward -> red
    f[0, 1] = (-8, 0)  # leftward -> cyan
    img = flow_to_bgr(f, "fixed", 8.0)
    assert tuple(img[0, 0]) == (0, 0, 255)  # BGR red, full value
    assert tuple(img[0, 1]) == (255, 255, 0)  # BGR cyan
    assert tuple(img[1, 2]) == (0, 0, 0)  # no motion is black
    half = flow_to_bgr(np.full((1, 1, 2), (4, 0), np.float32), "fixed", 8.0)
    assert abs(int(half[0, 0, 2]) - 128) <= 1  # value proportional to magnitude
    assert flow_to_bgr(np.zeros((4, 4, 2)), "frame").max() == 0
    with pytest.raises(ValueError):
        flow_to_bgr(np.zeros((4, 4)))


def test_palette_matches_spec():
    cols = {rgb for _, rgb in PARTS.values()}
    assert len(cols) == 14
    assert (255, 255, 0) in cols and (128, 0, 0) in cols  # the feet the published code looks for
    assert PARTS[13][1] == (255, 255, 0) or PARTS[14][1] == (255, 255, 0)
    assert ALLOWED_RGB == cols | {(0, 0, 0)}
    # DensePose fine indices: 5 left foot, 6 right foot, 23/24 head, 1/2 torso
    assert PARTS[int(DENSEPOSE_I_TO_PART[5])][0] == "l_foot"
    assert PARTS[int(DENSEPOSE_I_TO_PART[6])][0] == "r_foot"
    assert {PARTS[int(DENSEPOSE_I_TO_PART[i])][0] for i in (23, 24)} == {"head"}
    assert DENSEPOSE_I_TO_PART[0] == 0 and (DENSEPOSE_I_TO_PART[1:] > 0).all()
    img = colorize(np.array([[0, 13]], np.uint8), bgr=False)
    assert tuple(img[0, 1]) == tuple(PALETTE_RGB[13])


def test_colorize_is_the_palette_lookup():
    """colorize's cv2.LUT path (uint8 label images) gives the table lookup's pixels."""
    rng = np.random.default_rng(0)
    for labels in (rng.integers(0, 15, (54, 96), dtype=np.uint8), rng.integers(0, 15, (40, 90), dtype=np.uint8)[:, ::3],
                   np.zeros((1, 1), np.uint8), rng.integers(0, 15, (5, 6)).astype(np.int64)):  # fmt: skip
        for bgr, table in ((True, PALETTE_RGB[:, ::-1]), (False, PALETTE_RGB)):
            img = colorize(labels, bgr=bgr)
            assert img.dtype == np.uint8 and img.shape == labels.shape + (3,)
            assert np.array_equal(img, table[labels])
    with pytest.raises(ValueError, match="part label 15 outside 0..14"):
        colorize(np.full((2, 2), 15, np.uint8))
