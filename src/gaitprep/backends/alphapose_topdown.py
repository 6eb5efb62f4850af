"""``alphapose-topdown``: AlphaPose's own pose network (SPPE) in-process, over YOLOv8 person boxes.

Health&Gait's pose JSON came from AlphaPose (Fang et al., TPAMI 2022), a top-down method: a
person detector gives boxes, each box is cropped and the single-person pose estimator
(SPPE, e.g. FastPose ResNet-50) gives K heatmaps, decoded to full-frame keypoints. This
backend runs that second stage with AlphaPose's own code, imported from an AlphaPose
checkout (``alphapose_root``), in gaitprep's process and environment:

- the network: ``alphapose.models.builder.build_sppe(cfg.MODEL, preset_cfg=cfg.DATA_PRESET)``
  from the config read by ``alphapose.utils.config.update_config``, weights by
  ``load_state_dict(torch.load(checkpoint))``, as ``scripts/demo_inference.py`` does. While
  it is built, torchvision's ``resnetN(pretrained=True)`` (FastPose's ImageNet
  initialisation, a download, overwritten by the checkpoint) is made to build without
  weights, so nothing is downloaded;
- the crop: ``SimpleTransform.test_transform`` (``alphapose/utils/presets/simple_transform.py``)
  composed from the same AlphaPose functions (``_box_to_center_scale`` with the input's
  aspect ratio, ``get_affine_transform``, ``cv2.warpAffine`` bilinear, ``im_to_torch``,
  the per-channel means 0.406, 0.457, 0.480 subtracted), on the RGB frame as AlphaPose's
  ``DetectionLoader`` gives it. ``presets`` itself cannot be imported without AlphaPose's
  compiled CUDA ``roi_align``; tests check this crop against it;
- the decoding: ``alphapose.utils.transforms.get_func_heatmap_to_coord(cfg)`` on the
  heatmaps of all K joints (``DataWriter``: 26 for Halpe-26, 17 for COCO), with the
  crop's box from ``_center_scale_to_box``: keypoints in full-frame px, scores = heatmap
  maxima.

What differs from AlphaPose's ``demo_inference.py`` (the ``alphapose`` backend runs that):
the detector is YOLOv8 through ultralytics (gaitprep's :class:`~gaitprep.backends.yolo`
machinery, batched, fp16 on CUDA) instead of AlphaPose's YOLOv3-SPP with its compiled NMS;
there is no pose NMS between persons and no PoseTrack/PoseFlow tracking: the main subject
is chosen over the detector's boxes by :class:`~gaitprep.subject.MainSubjectTracker`, and
only its box is cropped and run through the SPPE. No compiled AlphaPose extension is
needed, so this runs wherever gaitprep's torch does (CPU included).

Raises (at construction):
    InputError: no AlphaPose checkout, a missing config, a config whose SPPE the checkout
        cannot build, or a checkpoint that does not fit the network.
    BackendUnavailableError: AlphaPose's Python code cannot be imported (e.g. ``easydict``
        missing).
    WeightsNotFoundError: the SPPE checkpoint or the detector weights are not found.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import cv2
import numpy as np

from ..errors import BackendUnavailableError, InputError
from ..results import Frame, PoseResult
from ..subject import MainSubjectTracker
from ..video import batched
from .alphapose import KEYPOINT_LAYOUTS, checkout_root, joints_from_keypoints, resolve_config_and_checkpoint
from .base import Context, PoseBackend
from .yolo import _YoloBackend

#: AlphaPose's per-channel means subtracted from the RGB crop (``SimpleTransform.test_transform``)
CROP_MEANS = (0.406, 0.457, 0.480)

INSTALL_HINT = (
    "the 'alphapose-topdown' backend imports AlphaPose's Python code from `alphapose_root` "
    "(an AlphaPose checkout; nothing needs building) and needs its pure-Python requirement "
    "easydict: python -m pip install easydict; see docs/paper_models.md"
)


class _PersonDetector(_YoloBackend):
    """YOLOv8 detection (person class) with the YOLOv8 backends' weights, device and batching."""

    name = "alphapose-topdown detector"
    modality = "pose"
    task = "detect"
    what = "YOLOv8 detector weights"

    def _to_result(self, frame, res, choice):  # pragma: no cover - not used: boxes are read directly
        raise NotImplementedError


@contextlib.contextmanager
def _no_imagenet_download():
    """Make torchvision's ``resnetN(pretrained=True)`` build without weights (no download)."""
    import torchvision.models as tm

    saved = {}
    for n in (18, 34, 50, 101, 152):
        name = f"resnet{n}"
        orig = getattr(tm, name)
        saved[name] = orig

        def plain(*args, _orig=orig, **kwargs):
            kwargs.pop("pretrained", None)
            kwargs["weights"] = None
            return _orig(*args, **kwargs)

        setattr(tm, name, plain)
    try:
        yield
    finally:
        for name, orig in saved.items():
            setattr(tm, name, orig)


def import_alphapose(root: Path):
    """Import AlphaPose's config, model builder, bbox and transform modules from ``root``.

    ``root`` is put first on ``sys.path`` (AlphaPose's own scripts run from the checkout
    the same way). Raises BackendUnavailableError naming what failed.
    """
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from alphapose.models import builder
        from alphapose.utils import bbox as ap_bbox
        from alphapose.utils import transforms as ap_transforms
        from alphapose.utils.config import update_config
    except ImportError as e:
        raise BackendUnavailableError(f"{INSTALL_HINT}\n(import from {root} failed: {e})") from e
    return update_config, builder, ap_bbox, ap_transforms


class AlphaPoseTopDownBackend(PoseBackend):
    """AlphaPose SPPE over YOLOv8 person boxes -> :class:`~gaitprep.results.PoseResult` per frame.

    :meth:`run` batches ``batch_size`` frames through the detector, picks the main subject's
    box in each frame, crops those boxes and runs them through the SPPE in one forward pass
    per batch; yields one result per frame, in order (``joints=None`` where nobody is
    detected). Joints are named :data:`~gaitprep.results.HALPE26` (26 keypoints, with heels
    and toes) or :data:`~gaitprep.results.COCO17`; x, y are full-frame px, scores the
    heatmap maxima clipped to 0..1.
    """

    name = "alphapose-topdown"
    uses_gpu = True

    @dataclass
    class Params:
        #: the AlphaPose checkout (holds ``alphapose/`` and ``configs/``); default ``$GAITPREP_ALPHAPOSE_ROOT``
        alphapose_root: Optional[str] = None
        #: AlphaPose config, relative to the root or absolute
        cfg: str = "configs/halpe_26/resnet/256x192_res50_lr1e-3_1x.yaml"
        #: SPPE checkpoint (a state dict): relative to the root, absolute, or a file name in ``models_dir``
        checkpoint: str = "pretrained_models/halpe26_fast_res50_256x192.pth"
        #: ultralytics YOLOv8 *detection* weights (person class), a path or a name in ``models_dir``
        detector: str = "yolov8x.pt"
        #: least detector confidence (0..1) for a person box
        det_conf: float = 0.25
        #: detector inference size (px, long side, multiple of 32)
        det_imgsz: int = 640
        #: frames per detector call and per SPPE forward pass
        batch_size: int = 8
        #: least mean keypoint score (0..1) for a pose to count; lower gives ``joints=None``
        min_score: float = 0.0
        #: main-subject continuity: least IoU with the subject's last box
        min_iou: float = 0.2

        def __post_init__(self):
            if int(self.batch_size) < 1:
                raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
            for k in ("det_conf", "min_score"):
                if not 0.0 <= float(getattr(self, k)) <= 1.0:
                    raise ValueError(f"{k} must be in [0, 1], got {getattr(self, k)}")

    def __init__(self, params: Optional[dict] = None, ctx=None):
        super().__init__(params, ctx)
        import torch

        p = self.params
        self.root = checkout_root(p.alphapose_root, "alphapose-topdown")
        if not (self.root / "alphapose" / "models" / "builder.py").is_file():
            raise InputError(
                f"alphapose-topdown: {self.root} is not an AlphaPose checkout (no alphapose/models/builder.py)"
            )
        self.cfg_path, self.checkpoint_path = resolve_config_and_checkpoint(
            self.root, p.cfg, p.checkpoint, self.ctx.models_dir, "alphapose-topdown"
        )
        update_config, builder, self._bbox, self._tf = import_alphapose(self.root)
        self.cfg = cfg = update_config(self.cfg_path)
        try:
            preset = cfg.DATA_PRESET
            self.input_hw = (int(preset.IMAGE_SIZE[0]), int(preset.IMAGE_SIZE[1]))
            self.heatmap_hw = (int(preset.HEATMAP_SIZE[0]), int(preset.HEATMAP_SIZE[1]))
            self.num_joints = int(preset.NUM_JOINTS)
            with _no_imagenet_download():
                model = builder.build_sppe(cfg.MODEL, preset_cfg=preset)
        except (AttributeError, KeyError, TypeError, AssertionError) as e:
            raise InputError(
                f"alphapose-topdown: {self.cfg_path}: cannot build its pose network ({type(e).__name__}: {e})"
            ) from e
        if self.num_joints not in KEYPOINT_LAYOUTS:
            raise InputError(
                f"alphapose-topdown: {self.cfg_path}: {self.num_joints} joints; gaitprep reads 17 (COCO), 26 (Halpe-26), 133, 136"
            )
        self.device = self.ctx.device or "cpu"
        try:
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as e:  # not a state dict, or not this network's
            raise InputError(
                f"alphapose-topdown: {self.checkpoint_path}: not a checkpoint of the network of {self.cfg_path} "
                f"({type(e).__name__}: {str(e)[:400]})"
            ) from e
        self.model = model.to(self.device).eval()
        self.heatmap_to_coord = self._tf.get_func_heatmap_to_coord(cfg)
        if not callable(self.heatmap_to_coord):  # 'Combined' loss: body + face/hand decoders (Halpe-136)
            raise InputError(
                f"alphapose-topdown: {self.cfg_path}: combined-loss (whole-body) configs are not supported"
            )
        self.norm_type = cfg.LOSS.get("NORM_TYPE", None) if "LOSS" in cfg else None
        det_ctx = Context(
            device=self.device, models_dir=self.ctx.models_dir, allow_download=self.ctx.allow_download, log=self.ctx.log
        )
        self.detector = _PersonDetector(
            {"weights": p.detector, "batch_size": p.batch_size, "conf": p.det_conf, "imgsz": p.det_imgsz}, det_ctx
        )

    def crop(self, frame_rgb: np.ndarray, box_xyxy) -> tuple[np.ndarray, list[float]]:
        """AlphaPose's test-time crop of one person (``SimpleTransform.test_transform``).

        Args:
            frame_rgb: ``(H, W, 3)`` uint8 RGB frame.
            box_xyxy: ``x_min, y_min, x_max, y_max`` px.

        Returns:
            ``(3, h_in, w_in)`` float32 network input (RGB in 0..1 minus :data:`CROP_MEANS`)
            and the crop's box ``[x_min, y_min, x_max, y_max]`` px (the box widened to the
            input's aspect ratio and by AlphaPose's 1.25 scale), which the decoding needs.
        """
        inp_h, inp_w = self.input_hw
        x0, y0, x1, y1 = (float(v) for v in box_xyxy)
        center, scale = self._bbox._box_to_center_scale(x0, y0, x1 - x0, y1 - y0, float(inp_w) / inp_h)
        trans = self._tf.get_affine_transform(center, scale, 0, [inp_w, inp_h])
        img = cv2.warpAffine(frame_rgb, trans, (int(inp_w), int(inp_h)), flags=cv2.INTER_LINEAR)
        crop_box = self._bbox._center_scale_to_box(center, scale)
        t = self._tf.im_to_torch(img)
        for c, m in enumerate(CROP_MEANS):
            t[c].add_(-m)
        return t, [float(v) for v in crop_box]

    def keypoints(self, heatmaps, crop_boxes) -> np.ndarray:
        """``(N, K, h, w)`` heatmaps + N crop boxes -> ``(N, K, 3)`` x, y px (full frame), score."""
        out = np.zeros((len(crop_boxes), heatmaps.shape[1], 3), np.float64)
        hm = heatmaps.float().cpu()
        for i, box in enumerate(crop_boxes):
            coords, scores = self.heatmap_to_coord(hm[i], box, hm_shape=list(self.heatmap_hw), norm_type=self.norm_type)
            out[i, :, :2] = np.asarray(coords, float).reshape(-1, 2)
            out[i, :, 2] = np.asarray(scores, float).reshape(-1)
        return out

    def run(self, frames: Iterable[Frame]) -> Iterator[PoseResult]:
        import torch

        p = self.params
        tracker = MainSubjectTracker(min_iou=p.min_iou, max_lost=self.detector.params.max_lost, min_score=p.det_conf)
        for batch in batched(frames, p.batch_size):
            results = self.detector.predict([f.image for f in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"ultralytics returned {len(results)} results for {len(batch)} frames")
            chosen: list[Optional[np.ndarray]] = []
            for res in results:
                boxes = res.boxes
                if boxes is None or not len(boxes.xyxy):
                    tracker.select(np.zeros((0, 4)))
                    chosen.append(None)
                    continue
                xyxy = boxes.xyxy.float().cpu().numpy()
                i = tracker.select(xyxy, boxes.conf.float().cpu().numpy())
                chosen.append(None if i is None else xyxy[i])
            crops, crop_boxes = [], []
            for f, box in zip(batch, chosen):
                if box is not None:
                    t, cb = self.crop(np.ascontiguousarray(f.image[:, :, ::-1]), box)
                    crops.append(t)
                    crop_boxes.append(cb)
            kps = []
            if crops:
                with torch.inference_mode():
                    hm = self.model(torch.stack(crops).to(self.device))
                kps = list(self.keypoints(hm[:, : self.num_joints], crop_boxes))
            for f, box in zip(batch, chosen):
                if box is None:
                    yield PoseResult(f.index, None)
                    continue
                kp = kps.pop(0)
                if float(np.clip(kp[:, 2], 0, 1).mean()) < p.min_score:
                    yield PoseResult(f.index, None)
                else:
                    yield PoseResult(f.index, joints_from_keypoints(kp, (f.image.shape[1], f.image.shape[0])), box=tuple(float(v) for v in box))

    def provenance(self) -> dict:
        d = super().provenance()
        d.update(
            {
                "alphapose_root": str(self.root),
                "cfg": self.cfg_path,
                "checkpoint": self.checkpoint_path,
                "keypoints_per_person": self.num_joints,
                "sppe": str(self.cfg.MODEL.TYPE),
                "detector": self.detector.provenance(),
                "subject_selection": "gaitprep.subject.MainSubjectTracker over the detector's person boxes",
            }
        )
        return d

    def close(self) -> None:
        self.model = None
        self.detector.close()
