"""DensePose chart outputs -> Health&Gait part labels, without detectron2.

Everything the ``densepose`` backend does after the network lives here as plain functions
on arrays, so it is tested without detectron2 installed.

What the network gives (detectron2 ``projects/DensePose``, read from its source):

- ``instances.pred_boxes``: ``Boxes`` of ``(N, 4)`` ``x_min, y_min, x_max, y_max`` in
  full-frame px (``BoxMode.XYXY_ABS``); ``instances.scores``: ``(N,)`` confidences.
- ``instances.pred_densepose``: a ``DensePoseChartPredictorOutput``
  (``densepose/structures/chart.py``) with ``coarse_segm`` ``(N, K, S, S)`` (K = 2
  foreground/background, or 15 for 14 parts + background; ``NUM_COARSE_SEGM_CHANNELS``
  defaults to 2), ``fine_segm`` ``(N, 25, S, S)`` (24 fine parts + background), ``u``,
  ``v`` ``(N, 25, S, S)``; ``S = ROI_DENSEPOSE_HEAD.HEATMAP_SIZE`` (default 112). Scores
  are unnormalised, box-local: the S x S grid spans the instance's box.

How DensePose turns them into a label image (``densepose/converters/
chart_output_to_chart_result.py`` ``densepose_chart_predictor_output_to_result`` and
``segm_to_mask.py`` ``resample_fine_and_coarse_segm_tensors_to_bbox``; the
``DensePoseResultExtractor`` in ``densepose/vis/extractor.py`` applies it per instance):
the XYXY box is converted to XYWH and truncated to ints (``make_int_box``: ``.long()``),
``w, h = max(w, 1), max(h, 1)``; ``fine_segm`` and ``coarse_segm`` are resized to
``(h, w)`` bilinearly (``align_corners=False``), arg-maxed over channels, and the fine
label is kept where the coarse label is > 0: labels ``I`` (0..24) of shape ``(h, w)``
whose pixel ``(r, c)`` is the frame pixel ``(y + r, x + c)``. :func:`chart_labels`
reproduces this; :func:`paste_labels` puts the box-local map into the frame.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from ..healthgait.palette import DENSEPOSE_I_TO_PART
from ..subject import MainSubjectTracker


def int_box_xywh(box_xyxy: Sequence[float]) -> tuple[int, int, int, int]:
    """``x_min, y_min, x_max, y_max`` px (float) -> ``x, y, w, h`` ints as DensePose makes them.

    DensePose converts XYXY to XYWH in the boxes' dtype, float32 (``BoxMode.convert``:
    ``w = x1 - x0`` subtracted in float32), then truncates each number toward zero
    (``torch.Tensor.long()``), as ``make_int_box`` does. The subtraction is done here in
    float32 as well: in float64 about 2 in 10^6 boxes get a width or height 1 px off
    (e.g. ``x0 = 0.1, x1 = 10.1``). Width and height are *not* clamped here (see
    :func:`chart_labels`).
    """
    x0, y0, x1, y1 = np.asarray(box_xyxy, np.float32).reshape(4)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def chart_labels(fine_segm, coarse_segm, box_xywh: Sequence[int]):
    """Resample one instance's segmentation scores to its box and label each pixel.

    Args:
        fine_segm: ``(25, S, S)`` or ``(1, 25, S, S)`` float scores (torch tensor, any
            device, or numpy array).
        coarse_segm: ``(K, S, S)`` or ``(1, K, S, S)`` float scores, K = 2 or 15.
        box_xywh: the int box ``x, y, w, h`` px from :func:`int_box_xywh`.

    Returns:
        ``(h, w)`` int64 torch tensor of fine part indices I in 0..24 (0 background), on
        the input's device, with ``w, h`` clamped to at least 1 as DensePose does.

    Raises:
        ValueError: on arrays of the wrong rank or channel count.
    """
    import torch
    from torch.nn import functional as F

    fine = torch.as_tensor(fine_segm)
    coarse = torch.as_tensor(coarse_segm)
    if fine.dim() == 3:
        fine = fine.unsqueeze(0)
    if coarse.dim() == 3:
        coarse = coarse.unsqueeze(0)
    if fine.dim() != 4 or fine.shape[:2] != (1, 25):
        raise ValueError(f"fine_segm must be (25, S, S) or (1, 25, S, S), got {tuple(fine.shape)}")
    if coarse.dim() != 4 or coarse.shape[0] != 1 or coarse.shape[1] not in (2, 15):
        raise ValueError(f"coarse_segm must be (K, S, S) with K 2 or 15, got {tuple(coarse.shape)}")
    _, _, w, h = (int(v) for v in box_xywh)
    w, h = max(w, 1), max(h, 1)
    fine, coarse = fine.float(), coarse.float()
    coarse_lab = F.interpolate(coarse, (h, w), mode="bilinear", align_corners=False).argmax(dim=1)
    fine_lab = F.interpolate(fine, (h, w), mode="bilinear", align_corners=False).argmax(dim=1)
    return (fine_lab * (coarse_lab > 0).long())[0]


def fine_to_parts(labels_i: np.ndarray) -> np.ndarray:
    """Map DensePose fine part indices I (0..24) to the 14 coarse labels (0..14), uint8.

    Uses :data:`gaitprep.healthgait.palette.DENSEPOSE_I_TO_PART` (the spec's table).

    Raises:
        ValueError: a value outside 0..24.
    """
    labels_i = np.asarray(labels_i)
    if labels_i.size and (int(labels_i.min()) < 0 or int(labels_i.max()) > 24):
        raise ValueError(f"DensePose part index outside 0..24 (min {labels_i.min()}, max {labels_i.max()})")
    return DENSEPOSE_I_TO_PART[labels_i.astype(np.intp, copy=False)]


def paste_labels(
    labels: np.ndarray, box_xywh: Sequence[int], frame_hw: tuple[int, int], out: Optional[np.ndarray] = None
) -> np.ndarray:
    """Paste a box-local label map into a full-frame zero image.

    Args:
        labels: ``(h_l, w_l)`` uint8 labels of the box. When its shape is not the box's
            ``(max(h, 1), max(w, 1))`` it is resized to it first (nearest neighbour, so
            no new label values appear).
        box_xywh: int box ``x, y, w, h`` px; may lie partly (or wholly) outside the frame:
            only the overlapping part is pasted.
        frame_hw: ``(H, W)`` of the source frame, px.
        out: optional ``(H, W)`` uint8 image to paste into (default: a new zero image).

    Returns:
        ``(H, W)`` uint8: ``labels[r, c]`` at frame pixel ``(y + r, x + c)``; 0 elsewhere.
    """
    H, W = int(frame_hw[0]), int(frame_hw[1])
    labels = np.asarray(labels, np.uint8)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (h, w), got shape {labels.shape}")
    x, y, w, h = (int(v) for v in box_xywh)
    w, h = max(w, 1), max(h, 1)
    if labels.shape != (h, w):
        labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    if out is None:
        out = np.zeros((H, W), np.uint8)
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + w, W), min(y + h, H)
    if fx1 <= fx0 or fy1 <= fy0:
        return out
    out[fy0:fy1, fx0:fx1] = labels[fy0 - y : fy1 - y, fx0 - x : fx1 - x]
    return out


def instance_parts(
    boxes_xyxy: np.ndarray,
    scores: Optional[np.ndarray],
    fine_segm,
    coarse_segm,
    frame_hw: tuple[int, int],
    tracker: MainSubjectTracker,
) -> Optional[np.ndarray]:
    """One frame's DensePose output -> the main subject's full-frame part labels, or None.

    Args:
        boxes_xyxy: ``(N, 4)`` ``x_min, y_min, x_max, y_max`` px of the N instances
            (float32 as detectron2 gives them; other dtypes are cast to float32).
        scores: ``(N,)`` detection confidences (None: all 1).
        fine_segm: ``(N, 25, S, S)`` fine segmentation scores (torch tensor or numpy).
        coarse_segm: ``(N, K, S, S)`` coarse segmentation scores.
        frame_hw: ``(H, W)`` of the source frame, px.
        tracker: the clip's :class:`~gaitprep.subject.MainSubjectTracker` (called once
            per frame, in frame order).

    Returns:
        ``(H, W)`` uint8 labels 0..14 (:data:`gaitprep.healthgait.palette.PARTS`) of the chosen
        instance, or ``None`` when no instance is selected (nobody, or all below the
        tracker's ``min_score``).
    """
    boxes_xyxy = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)  # the network's dtype (see int_box_xywh)
    if len(boxes_xyxy) == 0:
        tracker.select(boxes_xyxy, scores)  # counts the miss
        return None
    if len(fine_segm) != len(boxes_xyxy) or len(coarse_segm) != len(boxes_xyxy):
        raise ValueError(f"{len(boxes_xyxy)} boxes but {len(fine_segm)} fine / {len(coarse_segm)} coarse segmentations")
    i = tracker.select(boxes_xyxy, scores)
    if i is None:
        return None
    box = int_box_xywh(boxes_xyxy[i])
    labels_i = chart_labels(fine_segm[i], coarse_segm[i], box).cpu().numpy()
    return paste_labels(fine_to_parts(labels_i), box, frame_hw)
