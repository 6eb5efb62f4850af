"""DensePose post-processing on synthetic, DensePose-shaped outputs (no detectron2 needed).

Shapes follow detectron2's ``DensePoseChartPredictorOutput``: ``fine_segm`` (N, 25, S, S),
``coarse_segm`` (N, 2, S, S) box-local scores; boxes XYXY px.
"""

import numpy as np
import pytest
import torch

from gaitprep.backends.densepose_utils import chart_labels, fine_to_parts, instance_parts, int_box_xywh, paste_labels
from gaitprep.healthgait.palette import ALLOWED_RGB, PART_LABEL, colorize
from gaitprep.subject import MainSubjectTracker


def segm(S=8, part=5, fg=None, n=1):
    """Scores with fine channel ``part`` winning everywhere; coarse foreground where ``fg``."""
    fine = torch.zeros(n, 25, S, S)
    fine[:, part] = 5.0
    coarse = torch.zeros(n, 2, S, S)
    coarse[:, 1] = 1.0 if fg is None else torch.as_tensor(fg, dtype=torch.float32) * 2 - 1
    return fine, coarse


def test_int_box_truncates_like_make_int_box():
    assert int_box_xywh([10.7, 20.2, 50.9, 80.5]) == (10, 20, 40, 60)
    assert int_box_xywh([-3.5, 0.0, 4.0, 2.0]) == (-3, 0, 7, 2)  # toward zero, as Tensor.long()


def test_chart_labels_shape_and_masking():
    fg = np.zeros((8, 8))
    fg[:, 4:] = 1  # right half foreground
    fine, coarse = segm(part=5, fg=fg)
    lab = chart_labels(fine[0], coarse[0], (3, 4, 16, 10))
    assert lab.shape == (10, 16) and lab.dtype == torch.int64
    assert (lab[:, :8] == 0).all() and (lab[:, 8:] == 5).all()
    # zero-size boxes are clamped to 1 px, as DensePose does
    assert chart_labels(fine, coarse, (0, 0, 0, 0)).shape == (1, 1)


def test_chart_labels_bilinear_half_pixel_alignment():
    # S = 2: left column says part 1, right column part 2; upsampled x2 with
    # align_corners=False the boundary falls exactly between output columns 1 and 2
    fine = torch.zeros(25, 2, 2)
    fine[1, :, 0] = 1.0
    fine[2, :, 1] = 1.0
    coarse = torch.stack([torch.zeros(2, 2), torch.ones(2, 2)])
    lab = chart_labels(fine, coarse, (0, 0, 4, 4))
    assert lab.tolist() == [[1, 1, 2, 2]] * 4


def test_chart_labels_accepts_15_channel_coarse_and_numpy():
    fine, _ = segm(part=23)
    coarse = np.zeros((15, 8, 8), np.float32)
    coarse[3] = 1.0
    assert (chart_labels(fine[0].numpy(), coarse, (0, 0, 5, 5)) == 23).all()


@pytest.mark.parametrize("shape_f, shape_c", [((24, 8, 8), (2, 8, 8)), ((25, 8, 8), (3, 8, 8)), ((8, 8), (2, 8, 8))])
def test_chart_labels_rejects_wrong_shapes(shape_f, shape_c):
    with pytest.raises(ValueError):
        chart_labels(torch.zeros(shape_f), torch.zeros(shape_c), (0, 0, 4, 4))


def test_fine_to_parts_follows_the_spec_table():
    spec = {
        "torso": (1, 2), "r_hand": (3,), "l_hand": (4,), "l_foot": (5,), "r_foot": (6,),
        "r_upper_leg": (7, 9), "l_upper_leg": (8, 10), "r_lower_leg": (11, 13), "l_lower_leg": (12, 14),
        "l_upper_arm": (15, 17), "r_upper_arm": (16, 18), "l_lower_arm": (19, 21), "r_lower_arm": (20, 22),
        "head": (23, 24),
    }  # fmt: skip
    i = np.arange(25)
    parts = fine_to_parts(i)
    assert parts.dtype == np.uint8 and parts[0] == 0
    for name, ids in spec.items():
        for k in ids:
            assert parts[k] == PART_LABEL[name], (k, name)
    # the feet colours the published gait code looks for
    rgb = colorize(parts[None, [5, 6]], bgr=False)[0]
    assert {tuple(rgb[0]), tuple(rgb[1])} == {(128, 0, 0), (255, 255, 0)}
    with pytest.raises(ValueError, match="outside 0..24"):
        fine_to_parts(np.array([25]))


def test_paste_inside_and_partly_outside():
    lab = np.arange(1, 13, dtype=np.uint8).reshape(3, 4)
    out = paste_labels(lab, (2, 1, 4, 3), (6, 8))
    assert out.shape == (6, 8) and out.dtype == np.uint8
    assert (out[1:4, 2:6] == lab).all() and out.sum() == lab.sum()
    # top-left outside: only the overlapping lower-right part lands at the origin
    out = paste_labels(lab, (-1, -2, 4, 3), (6, 8))
    assert (out[0:1, 0:3] == lab[2:3, 1:4]).all() and out.sum() == lab[2:3, 1:4].sum()
    # bottom-right outside
    out = paste_labels(lab, (6, 4, 4, 3), (6, 8))
    assert (out[4:6, 6:8] == lab[0:2, 0:2]).all() and out.sum() == lab[0:2, 0:2].sum()
    # wholly outside
    assert paste_labels(lab, (20, 20, 4, 3), (6, 8)).sum() == 0
    assert paste_labels(lab, (-10, 0, 4, 3), (6, 8)).sum() == 0


def test_paste_resizes_with_nearest_neighbour():
    lab = np.array([[3, 7], [0, 14]], np.uint8)
    out = paste_labels(lab, (0, 0, 6, 4), (4, 6))
    assert set(np.unique(out)) == {0, 3, 7, 14}  # no blended labels
    assert (
        (out[:2, :3] == 3).all() and (out[:2, 3:] == 7).all() and (out[2:, :3] == 0).all() and (out[2:, 3:] == 14).all()
    )


def test_instance_parts_keeps_the_main_subject():
    H, W = 60, 80
    tracker = MainSubjectTracker()
    # frame 0: a small bystander (index 0) and the larger subject (index 1)
    boxes = np.array([[60.0, 5.0, 70.0, 25.0], [10.0, 10.0, 30.0, 50.0]])
    fine = torch.zeros(2, 25, 8, 8)
    fine[0, 23] = 5  # bystander: all head
    fine[1, 6] = 5  # subject: all right foot
    coarse = torch.zeros(2, 2, 8, 8)
    coarse[:, 1] = 1
    parts = instance_parts(boxes, np.array([0.99, 0.95]), fine, coarse, (H, W), tracker)
    assert parts.shape == (H, W) and parts.dtype == np.uint8
    assert set(np.unique(parts)) == {0, PART_LABEL["r_foot"]}
    assert (parts[10:50, 10:30] == PART_LABEL["r_foot"]).all() and parts.sum() == PART_LABEL["r_foot"] * 40 * 20
    # frame 1: order swapped and the bystander now larger: continuity keeps the subject
    boxes2 = np.array([[12.0, 10.0, 32.0, 50.0], [40.0, 0.0, 80.0, 60.0]])
    parts2 = instance_parts(boxes2, None, fine.flip(0), coarse, (H, W), tracker)
    assert set(np.unique(parts2)) == {0, PART_LABEL["r_foot"]} and (parts2[10:50, 12:32] != 0).all()
    # written PNG colours are the palette's only
    assert {tuple(c) for c in colorize(parts2, bgr=False).reshape(-1, 3)} <= ALLOWED_RGB
    # nobody / everybody below the score threshold
    assert instance_parts(np.zeros((0, 4)), None, fine[:0], coarse[:0], (H, W), tracker) is None
    assert instance_parts(boxes2, np.array([0.1, 0.1]), fine, coarse, (H, W), tracker) is None


def test_instance_parts_rejects_mismatched_counts():
    fine, coarse = segm(n=1)
    with pytest.raises(ValueError, match="2 boxes"):
        instance_parts(np.zeros((2, 4)), None, fine, coarse, (10, 10), MainSubjectTracker())


def test_int_box_subtracts_in_float32_like_densepose():
    # DensePose makes XYWH from the float32 XYXY tensor (w = x1 - x0 in float32), then .long();
    # in float64 some boxes come out 1 px wider or taller. Find those among random boxes and
    # check int_box_xywh gives DensePose's ints for them (and for a sample of the rest).
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 960, (1_000_000, 4)).astype(np.float32)
    b[:, 2:] += b[:, :2]
    t = torch.from_numpy(b).clone()
    t[:, 2] -= t[:, 0]
    t[:, 3] -= t[:, 1]
    ref = t.long().numpy()  # make_int_box
    w64 = (b[:, 2].astype(np.float64) - b[:, 0]).astype(np.int64)
    h64 = (b[:, 3].astype(np.float64) - b[:, 1]).astype(np.int64)
    differ = np.flatnonzero((w64 != ref[:, 2]) | (h64 != ref[:, 3]))
    assert len(differ) > 0  # the case exists
    for i in list(differ) + list(range(0, len(b), 1000)):
        assert int_box_xywh(b[i]) == tuple(ref[i]), (i, b[i])
