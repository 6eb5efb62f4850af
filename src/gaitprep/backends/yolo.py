"""YOLOv8 backends through ultralytics: person silhouettes (``yolov8-seg``) and COCO-17 pose
(``yolov8-pose``), batched, fp16 on CUDA, offline-safe.

Health&Gait made its silhouettes with YOLOv8 instance segmentation (Jocher et al.,
Ultralytics YOLOv8, 2023), person class only. Both backends here:

- resolve the weights by name with :func:`gaitprep.weights.resolve_weights` (explicit path,
  then ``ctx.models_dir`` / ``$GAITPREP_MODELS``, then, only when ``ctx.allow_download``,
  ultralytics' own download by name into the models folder) *before* importing
  ultralytics, and fail at once with :class:`~gaitprep.errors.WeightsNotFoundError` naming
  the file and the folder when the weights are not there;
- import ultralytics with ``YOLO_OFFLINE=1`` (no DNS probe at import, no analytics events,
  no pip auto-updates) unless a download was asked for, and with ``YOLO_CONFIG_DIR`` pointed
  at a private temp folder so its settings file is not written into the user's home (both
  only when the user has not set them); the global ``torch.save`` / ``cv2.imread`` patches
  it applies on import are undone (see :func:`import_ultralytics`);
- load the model once per backend instance, on ``ctx.device``;
- group the streamed frames into batches of ``batch_size`` and run one ``predict`` call per
  batch (ultralytics letterboxes the batch to ``imgsz`` on its long side);
- pick the main subject in each frame with :class:`gaitprep.subject.MainSubjectTracker`
  (IoU continuity with the subject's last box; the largest confident person starts it).

Ultralytics' own tracker (``model.track(persist=True)``, ByteTrack/BoT-SORT) is *not* used:
it consumes one frame per call in order, which defeats batching, and its ids would only
break ties the IoU tracker already resolves for one walking subject.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

import numpy as np

from ..device import is_cuda
from ..errors import BackendUnavailableError, InputError, WeightsNotFoundError
from ..results import COCO17, Frame, Joint, MaskResult, PoseResult
from ..subject import MainSubjectTracker
from ..video import batched
from ..weights import models_dir as _models_dir
from ..weights import resolve_weights
from .base import Backend, Context, PoseBackend, SilhouetteBackend

#: env var set (if unset) to keep ultralytics from probing the network at import
OFFLINE_ENV = "YOLO_OFFLINE"
#: env var set (if unset) to keep ultralytics' settings.json out of the user's home
CONFIG_ENV = "YOLO_CONFIG_DIR"


def _private_config_dir() -> str:
    return str(Path(tempfile.gettempdir()) / f"gaitprep-ultralytics-{os.getuid() if hasattr(os, 'getuid') else 0}")


def import_ultralytics(offline: bool = True):
    """Import ultralytics with its import-time side effects kept in check; return the module.

    Before the first import (in this process) it sets, unless the user already set them:

    - ``YOLO_OFFLINE=1`` when ``offline``: ultralytics then skips its DNS probe of
      one.one.one.one / dns.google at import, so its analytics events, Sentry reports and
      pip auto-updates (all gated on being online) stay off. Downloads of weights by
      name do not depend on it.
    - ``YOLO_CONFIG_DIR`` to a private folder under the temp dir: ultralytics writes a
      ``settings.json`` into ``$YOLO_CONFIG_DIR/Ultralytics`` (default ``~/.config``) on
      first import.

    On import ultralytics replaces ``torch.save`` (and on Windows ``cv2.imread``,
    ``cv2.imwrite``, ``cv2.imshow``) with its own wrappers, process-wide; this function
    puts the originals back (ultralytics' own code calls its wrappers directly).
    If ultralytics was already imported elsewhere in the process these settings come too
    late and are not applied; that is logged by the caller, not an error.

    Raises:
        BackendUnavailableError: ultralytics is not installed.
    """
    if "ultralytics" not in sys.modules:
        if offline:
            os.environ.setdefault(OFFLINE_ENV, "1")
        os.environ.setdefault(CONFIG_ENV, _private_config_dir())
        import cv2
        import torch

        saved = (torch.save, cv2.imread, cv2.imwrite, cv2.imshow)
        try:
            import ultralytics
        except ImportError as e:
            raise BackendUnavailableError(
                "the yolov8 backends need the ultralytics package: pip install ultralytics"
            ) from e
        finally:
            torch.save, cv2.imread, cv2.imwrite, cv2.imshow = saved
        return ultralytics
    import ultralytics

    return ultralytics


def _file_digest(path: str) -> Optional[str]:
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _YoloBackend(Backend):
    """Shared machinery of the two YOLOv8 backends (weights, model, batching, subject).

    Subclasses set ``task`` (ultralytics task name) and implement :meth:`_to_result`.
    """

    uses_gpu = True
    #: ultralytics task the weights must have: ``segment`` or ``pose``
    task: str = ""
    what: str = "YOLOv8 weights"

    @dataclass
    class Params:
        """Parameters of the YOLOv8 backends (config ``params:`` of the modality).

        Attributes:
            weights: a ``.pt`` file name (looked up in the models folder) or path, e.g.
                ``yolov8x-seg.pt``; see :mod:`gaitprep.weights` for the search order.
            batch_size: frames per ``predict`` call (>= 1). Larger batches raise GPU
                throughput; memory grows linearly (about ``batch_size * max_det`` full-frame
                masks for ``yolov8-seg``).
            half: ``"auto"`` (fp16 on CUDA, fp32 on CPU), ``true`` (fp16; CUDA only) or
                ``false`` (fp32).
            imgsz: inference size in px of the letterboxed frame's long side (multiple of
                32). 640 (the models' training size): a 960x540 frame runs at 640x384.
                Smaller is faster and loses thin limbs; masks and keypoints are always
                returned at source resolution.
            conf: least detection confidence (0..1) of a person; also the tracker's
                ``min_score``.
            iou: NMS IoU threshold (0..1).
            max_det: most persons kept per frame before the main subject is chosen.
            min_iou: least box IoU with the subject's last box to stay on the same person.
            max_lost: frames without a match before re-acquiring the largest person.
        """

        weights: str = ""
        batch_size: int = 8
        half: Union[str, bool] = "auto"
        imgsz: int = 640
        conf: float = 0.25
        iou: float = 0.7
        max_det: int = 20
        min_iou: float = 0.2
        max_lost: int = 15

        def __post_init__(self):
            if isinstance(self.half, str):
                h = self.half.strip().lower()
                if h not in ("auto", "true", "false"):
                    raise ValueError(f"half must be auto, true or false, not {self.half!r}")
                self.half = "auto" if h == "auto" else h == "true"
            if int(self.batch_size) < 1:
                raise ValueError(f"batch_size must be >= 1, not {self.batch_size}")
            if int(self.imgsz) < 32 or int(self.imgsz) % 32:
                raise ValueError(f"imgsz must be a multiple of 32 (>= 32), not {self.imgsz}")
            for k in ("conf", "iou"):
                v = float(getattr(self, k))
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"{k} must be in [0, 1], not {v}")
            if int(self.max_det) < 1:
                raise ValueError(f"max_det must be >= 1, not {self.max_det}")
            self.batch_size, self.imgsz, self.max_det = int(self.batch_size), int(self.imgsz), int(self.max_det)

    def __init__(self, params: Optional[dict] = None, ctx: Optional[Context] = None):
        super().__init__(params, ctx)
        p = self.params
        log = self.ctx.log
        self.weights_path = resolve_weights(p.weights, self.ctx.models_dir, self.ctx.allow_download, what=self.what)
        download = not Path(self.weights_path).is_file()
        if download:  # allow_download and not found locally: let ultralytics fetch it into the models folder
            d = _models_dir(self.ctx.models_dir)
            if d is not None:
                d.mkdir(parents=True, exist_ok=True)
                self.weights_path = str(d / Path(p.weights).name)
        already = "ultralytics" in sys.modules
        ul = import_ultralytics(offline=not download)
        if already and log is not None and os.environ.get(OFFLINE_ENV) != "1":
            log.warning("ultralytics was imported before gaitprep could set %s=1; it may probe the network", OFFLINE_ENV)
        self.ultralytics_version = ul.__version__

        self.device = self.ctx.device or "cpu"
        cuda = is_cuda(self.device)
        if p.half is True and not cuda:
            raise InputError(f"{self.modality} backend {self.name!r}: half=true needs a CUDA device, got {self.device!r}")
        self.fp16 = cuda if p.half == "auto" else bool(p.half)

        try:
            self.model = ul.YOLO(self.weights_path, task=self.task)
        except FileNotFoundError as e:
            raise WeightsNotFoundError(f"{self.what} {self.weights_path!r}: {e}") from e
        except Exception as e:  # corrupt / foreign checkpoint
            raise InputError(f"{self.weights_path}: cannot load as ultralytics YOLO weights ({type(e).__name__}: {e})") from e
        if self.model.task != self.task:
            raise InputError(
                f"{self.weights_path}: a YOLO {self.model.task!r} model; backend {self.name!r} needs a "
                f"{self.task!r} model (e.g. {self.Params().weights or 'yolov8x-' + self.task[:3] + '.pt'})"
            )
        self.person_class = self._person_class(self.model.names)
        self._check_model()

        from ultralytics.cfg import DEFAULT_CFG_DICT

        self._predict_kw: dict[str, Any] = dict(
            imgsz=p.imgsz, conf=p.conf, iou=p.iou, max_det=p.max_det, classes=[self.person_class],
            device=self.device, verbose=False, save=False, stream=False,
        )  # fmt: skip
        if "quantize" in DEFAULT_CFG_DICT:  # ultralytics >= 8.4 renamed half -> quantize
            self._predict_kw["quantize"] = 16 if self.fp16 else None
        else:
            self._predict_kw["half"] = self.fp16
        self._predict_kw.update(self._task_kwargs())
        if log is not None:
            log.info("%s: %s on %s (%s), batch %d, imgsz %d", self.name, self.weights_path, self.device,
                     "fp16" if self.fp16 else "fp32", p.batch_size, p.imgsz)  # fmt: skip

    # -- hooks -------------------------------------------------------------------------------
    def _task_kwargs(self) -> dict:
        return {}

    def _check_model(self) -> None:
        pass

    def _to_result(self, frame: Frame, res, choice: Optional[int]):
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def _person_class(self, names: dict) -> int:
        """Index of the ``person`` class; 0 for models with numbered classes only (built from a yaml)."""
        for k, v in names.items():
            if str(v).lower() == "person":
                return int(k)
        if all(str(v) == str(k) for k, v in names.items()):
            if self.ctx.log is not None:
                self.ctx.log.warning("%s: class names are bare numbers; taking class 0 as person", self.weights_path)
            return 0
        raise InputError(f"{self.weights_path}: model has no 'person' class (classes: {list(names.values())[:10]} ...)")

    def predict(self, images: list[np.ndarray]) -> list:
        """One ultralytics ``predict`` call on a batch of BGR ``(H, W, 3)`` uint8 frames -> ``Results`` list."""
        return self.model.predict(images, **self._predict_kw)

    def run(self, frames: Iterable[Frame]) -> Iterator:
        """Stream frames in batches of ``batch_size``; yield one result per frame, in order.

        Keeps at most one batch of frames and its results in memory.
        """
        p = self.params
        tracker = MainSubjectTracker(min_iou=p.min_iou, max_lost=p.max_lost, min_score=p.conf)
        for batch in batched(frames, p.batch_size):
            results = self.predict([f.image for f in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"ultralytics returned {len(results)} results for {len(batch)} frames")
            for frame, res in zip(batch, results):
                boxes = res.boxes
                choice = None
                if boxes is not None and len(boxes.xyxy):
                    choice = tracker.select(boxes.xyxy.float().cpu().numpy(), boxes.conf.float().cpu().numpy())
                else:
                    tracker.select(np.zeros((0, 4)))
                yield self._to_result(frame, res, choice)

    def provenance(self) -> dict:
        d = super().provenance()
        d.update(
            model=Path(self.weights_path).name,
            weights=str(self.weights_path),
            weights_sha256=_file_digest(self.weights_path),
            library=f"ultralytics {self.ultralytics_version}",
            device=str(self.device),
            precision="fp16" if self.fp16 else "fp32",
            person_class=self.person_class,
            subject_selection="gaitprep.subject.MainSubjectTracker (box IoU continuity)",
        )
        return d

    def close(self) -> None:
        self.model = None
        if is_cuda(self.device):
            import torch

            torch.cuda.empty_cache()


class YoloSegBackend(_YoloBackend, SilhouetteBackend):
    """``yolov8-seg``: the main subject's YOLOv8 instance mask, full frame at source resolution.

    Yields :class:`~gaitprep.results.MaskResult` per frame: ``mask`` ``(H, W)`` bool (H, W
    of the source frame), or ``None`` when no person passes ``conf``. Masks come from
    ultralytics with ``retina_masks=True``: the 1/4-input-resolution prototypes are
    upsampled bilinearly to the source frame and then thresholded and cropped to the box
    (``ops.process_mask_native``), not a thresholded 160x160 mask blown up.
    """

    name = "yolov8-seg"
    task = "segment"
    what = "YOLOv8 segmentation weights"

    @dataclass
    class Params(_YoloBackend.Params):
        weights: str = "yolov8x-seg.pt"

    def _task_kwargs(self) -> dict:
        return {"retina_masks": True}

    def _to_result(self, frame: Frame, res, choice: Optional[int]) -> MaskResult:
        h, w = frame.image.shape[:2]
        if choice is None or res.masks is None:
            return MaskResult(frame.index, None)
        m = res.masks.data[choice]
        if tuple(m.shape) != (h, w):  # retina masks are source-sized; guard against library changes
            import torch.nn.functional as F

            m = F.interpolate(m[None, None].float(), size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        return MaskResult(frame.index, (m > 0.5).cpu().numpy())


class YoloPoseBackend(_YoloBackend, PoseBackend):
    """``yolov8-pose``: COCO-17 keypoints of the main subject.

    Yields :class:`~gaitprep.results.PoseResult` per frame: ``joints`` maps the spec's
    :data:`~gaitprep.results.COCO17` names to ``Joint(x, y, score)`` in full-frame px of
    the source video (x right, y down) with ``score`` the keypoint confidence in [0, 1];
    ``box`` is the subject's box in px. ``joints is None`` when no person passes ``conf``.
    YOLOv8-pose keypoints follow COCO order, the same as :data:`COCO17`.
    """

    name = "yolov8-pose"
    task = "pose"
    what = "YOLOv8 pose weights"

    @dataclass
    class Params(_YoloBackend.Params):
        weights: str = "yolov8x-pose.pt"

    def _check_model(self) -> None:
        net = self.model.model
        shape = getattr(net.model[-1], "kpt_shape", None) or getattr(net, "yaml", {}).get("kpt_shape")
        if list(shape or []) != [17, 3]:
            raise InputError(f"{self.weights_path}: keypoint shape {shape}; yolov8-pose needs COCO-17 keypoints [17, 3]")

    def _to_result(self, frame: Frame, res, choice: Optional[int]) -> PoseResult:
        if choice is None or res.keypoints is None:
            return PoseResult(frame.index, None)
        kp = res.keypoints.data[choice].float().cpu().numpy()  # (17, 3): x, y px, conf
        box = tuple(float(v) for v in res.boxes.xyxy[choice].float().cpu().numpy())
        joints = {n: Joint(float(x), float(y), float(s)) for n, (x, y, s) in zip(COCO17, kp)}
        return PoseResult(frame.index, joints, box=box)


def save_random_checkpoint(cfg: str, path: Union[str, Path], detect_everything: bool = False) -> Path:
    """Build a YOLO model with random weights from a packaged yaml and save it as a ``.pt``
    that ``ultralytics.YOLO(path)`` (and so these backends) load back. For tests and
    benchmarks only: it has the speed of the real model and none of its accuracy.

    Args:
        cfg: a packaged model yaml, e.g. ``yolov8n-seg.yaml`` or ``yolov8x-pose.yaml``.
        path: the ``.pt`` file to write (its folder is created).
        detect_everything: raise class-0 logits (and, for ``segment``, the mask
            coefficients and prototypes) so that every anchor is a confident "person" with a
            box-filling mask. The boxes are meaningless; this only exercises the
            post-processing paths (mask pasting, keypoints) that a random model, which
            detects nothing, leaves unused.

    Returns:
        The written path.
    """
    import torch

    ul = import_ultralytics(offline=True)
    model = ul.YOLO(cfg)
    if detect_everything:
        head = model.model.model[-1]
        with torch.no_grad():
            for seq in head.cv3:  # class logits
                seq[-1].bias[0] = 6.0
            for seq in getattr(head, "cv4", []) if model.task == "segment" else []:  # mask coefficients
                seq[-1].weight.zero_()
                seq[-1].bias.fill_(2.0)
            if model.task == "segment":
                head.proto.cv3.bn.bias.fill_(3.0)  # positive prototypes -> masks fill the box
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path
