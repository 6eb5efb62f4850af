"""MediaPipe BlazePose backends (offline: the model ships inside the ``mediapipe`` wheel).

BlazePose (Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking", 2020)
predicts 33 landmarks including heels and foot tips, and with ``enable_segmentation`` a
person mask. It tracks one person (the most prominent), which is the main subject.

Landmark mapping to the spec's names (COCO-17 + the Halpe extras BlazePose can give):
``l_big_toe``/``r_big_toe`` are BlazePose's foot index (tip of the foot), ``neck`` and
``hip`` the midpoints of the shoulders and hips. ``score`` is BlazePose's landmark
visibility. Landmarks BlazePose places outside the image are clipped to the frame and get
score 0.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import cv2
import numpy as np

from ..errors import BackendUnavailableError, WeightsNotFoundError
from ..results import Frame, Joint, MaskResult, PoseResult
from .base import PoseBackend, SilhouetteBackend

#: spec name -> BlazePose landmark index
BLAZEPOSE_INDEX = {
    "nose": 0, "l_eye": 2, "r_eye": 5, "l_ear": 7, "r_ear": 8,
    "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15, "r_wrist": 16,
    "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28,
    "l_heel": 29, "r_heel": 30, "l_big_toe": 31, "r_big_toe": 32,
}  # fmt: skip
#: extra landmarks used by the part segmentation: hand (pinky, index) tips
BLAZEPOSE_HAND = {"l": (17, 19), "r": (18, 20)}


@dataclass
class BlazePoseParams:
    """Parameters of MediaPipe's ``mp.solutions.pose.Pose``.

    Attributes:
        model_complexity: 0 (lite), 1 (full, default), 2 (heavy; its model is downloaded on
            first use, so it fails offline unless already cached).
        min_detection_confidence: person detector threshold, 0..1.
        min_tracking_confidence: landmark tracking threshold, 0..1 (video mode).
        smooth_landmarks: temporal filtering of landmarks across frames.
        mask_threshold: segmentation-mask probability above which a pixel is the person.
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smooth_landmarks: bool = True
    mask_threshold: float = 0.5

    def __post_init__(self):
        if self.model_complexity not in (0, 1, 2):
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {self.model_complexity}")
        for k in ("min_detection_confidence", "min_tracking_confidence", "mask_threshold"):
            if not 0.0 <= float(getattr(self, k)) <= 1.0:
                raise ValueError(f"{k} must be within [0, 1], got {getattr(self, k)}")


def check_landmark_model(mp, complexity: int) -> None:
    """Fail fast when the landmark model of ``model_complexity`` is not on disk.

    The mediapipe wheel ships only ``pose_landmark_full.tflite`` (complexity 1); for 0
    (lite) and 2 (heavy) mediapipe would try to download the file on first use.

    Raises:
        WeightsNotFoundError: naming the missing file and where to put it.
    """
    name = f"pose_landmark_{('lite', 'full', 'heavy')[int(complexity)]}.tflite"
    path = Path(mp.__file__).parent / "modules" / "pose_landmark" / name
    if not path.is_file():
        raise WeightsNotFoundError(
            f"BlazePose model_complexity={complexity} needs {path}, which is not installed and "
            f"gaitprep does not download it: copy {name} there (mediapipe 0.10.14 fetches it from "
            f"storage.googleapis.com/mediapipe-assets/{name}) or use model_complexity: 1 (shipped with mediapipe)"
        )


class _Deferred(types.ModuleType):
    """Stands in for a module that ``import mediapipe`` imports but BlazePose never uses; the
    first attribute read imports the real module (so mediapipe's drawing helpers still work)."""

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        for name in [n for n, m in sys.modules.items() if isinstance(m, _Deferred)]:
            del sys.modules[name]  # used while mediapipe is still importing: the real ones, now
        return getattr(importlib.import_module(self.__name__), attr)


#: imported by ``import mediapipe`` for features gaitprep does not use: matplotlib.pyplot
#: (mediapipe's landmark plotting, ~0.3 CPU s) and sounddevice (its audio tasks: looking for
#: PortAudio runs ldconfig, gcc and ld, ~65 ms CPU)
_UNUSED_BY_BLAZEPOSE = ("matplotlib", "matplotlib.pyplot", "sounddevice")


def import_mediapipe():
    """``import mediapipe``, without importing what only its unused features need
    (:data:`_UNUSED_BY_BLAZEPOSE`, when this process has not imported them yet).

    During the import, matplotlib and pyplot are :class:`_Deferred` stand-ins (mediapipe's
    ``drawing_utils.plt`` imports the real pyplot on first use) and sounddevice is None
    (mediapipe's audio tasks then record that it is unavailable, as on a machine without
    PortAudio). Afterwards ``sys.modules`` holds none of them: a later ``import matplotlib``
    is the real one. Landmarks and masks do not depend on it (gait_normal_01: identical pose
    JSON and intermediate).
    """
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    stand_ins = {}
    for name in _UNUSED_BY_BLAZEPOSE:
        if name not in sys.modules:
            stand_ins[name] = None if name == "sounddevice" else _Deferred(name)
    if "matplotlib" in stand_ins and "matplotlib.pyplot" in stand_ins:
        stand_ins["matplotlib"].pyplot = stand_ins["matplotlib.pyplot"]  # `import matplotlib.pyplot as plt`
    sys.modules.update(stand_ins)
    try:
        import mediapipe
    finally:
        for name, mod in stand_ins.items():
            if sys.modules.get(name, mod) is mod:
                sys.modules.pop(name, None)
    return mediapipe


class BlazePoseModel:
    """One MediaPipe Pose graph in video mode; :meth:`process` streams frames through it.

    Yields ``(frame, landmarks, soft_mask)``: landmarks ``(33, 4)`` float32 = x px, y px,
    visibility, z (relative depth, MediaPipe units), or ``None``; ``soft_mask`` ``(H, W)``
    float32 person probability 0..1 (only with ``segmentation``), or None. Enabling the
    segmentation head does not change the landmarks (checked on gait_normal_01: identical).
    """

    def __init__(self, p: BlazePoseParams, segmentation: bool):
        try:
            mp = import_mediapipe()
        except ImportError as e:  # pragma: no cover - mediapipe is a core dependency
            raise BackendUnavailableError("mediapipe is not installed: pip install mediapipe==0.10.14") from e
        self.p = p
        self.segmentation = segmentation
        check_landmark_model(mp, p.model_complexity)
        self.pose = mp.solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=p.model_complexity,
            smooth_landmarks=p.smooth_landmarks,
            enable_segmentation=segmentation,
            min_detection_confidence=p.min_detection_confidence,
            min_tracking_confidence=p.min_tracking_confidence,
        )

    def process(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, Optional[np.ndarray], Optional[np.ndarray]]]:
        for f in frames:
            h, w = f.image.shape[:2]
            res = self.pose.process(cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB))
            if res.pose_landmarks is None:
                yield f, None, None
                continue
            lm = np.array([(l.x * w, l.y * h, l.visibility, l.z) for l in res.pose_landmarks.landmark], np.float32)
            soft = None
            if self.segmentation and res.segmentation_mask is not None:
                soft = np.asarray(res.segmentation_mask, np.float32)
            yield f, lm, soft

    def close(self) -> None:
        self.pose.close()


#: the BlazePose parameters that change the model's output (all but ``mask_threshold``)
MODEL_PARAMS = ("model_complexity", "min_detection_confidence", "min_tracking_confidence", "smooth_landmarks")


def model_description(complexity: int, segmentation: bool) -> str:
    """The provenance ``model`` string of a BlazePose run."""
    mp = import_mediapipe()

    head = " + segmentation" if segmentation else ""
    return f"mediapipe {mp.__version__} BlazePose GHUM 3D (pose_landmark_{('lite', 'full', 'heavy')[int(complexity)]}){head}"


def landmarks_to_joints(lm: np.ndarray, width: int, height: int) -> dict[str, Joint]:
    """Map BlazePose landmarks ``(33, >=3)`` (px, visibility) to spec-named joints.

    Joints outside ``[0, width-1] x [0, height-1]`` are clipped to the frame with score 0.
    """
    joints = {}

    def put(name, x, y, s):
        joints[name] = Joint.in_frame(x, y, s, width, height)

    for name, i in BLAZEPOSE_INDEX.items():
        put(name, lm[i, 0], lm[i, 1], lm[i, 2])
    for name, (a, b) in (("neck", (11, 12)), ("hip", (23, 24))):
        put(name, (lm[a, 0] + lm[b, 0]) / 2, (lm[a, 1] + lm[b, 1]) / 2, min(lm[a, 2], lm[b, 2]))
    return joints


def _box(lm: np.ndarray) -> Optional[tuple[float, float, float, float]]:
    vis = lm[:, 2] > 0.1
    xs, ys = lm[vis, 0], lm[vis, 1]
    return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())) if vis.any() else None


class BlazePoseBackend(PoseBackend):
    """Pose backend ``blazepose``: MediaPipe BlazePose (full model) in video mode.

    With ``ctx.extra["share_mask"]`` true the segmentation head is on as well and
    :meth:`run_shared` yields the landmarks and soft mask with each pose, for the shared
    intermediate (:mod:`gaitprep.backends.blazepose_cache`); the pose itself is unchanged.
    """

    name = "blazepose"
    Params = BlazePoseParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        self.shared = bool(self.ctx.extra.get("share_mask"))
        self.model = BlazePoseModel(self.params, segmentation=self.shared)

    def run_shared(self, frames: Iterable[Frame]) -> Iterator[tuple[PoseResult, Optional[np.ndarray], Optional[np.ndarray]]]:
        """Yield ``(pose, landmarks (33, 4) float32 | None, soft mask (H, W) float32 | None)``."""
        for f, lm, soft in self.model.process(frames):
            if lm is None:
                yield PoseResult(f.index, None), None, None
                continue
            h, w = f.image.shape[:2]
            yield PoseResult(f.index, landmarks_to_joints(lm, w, h), _box(lm)), lm, soft

    def run(self, frames: Iterable[Frame]) -> Iterator[PoseResult]:
        for pose, _, _ in self.run_shared(frames):
            yield pose

    def provenance(self) -> dict:
        return {**super().provenance(), "model": model_description(self.params.model_complexity, self.shared)}

    def close(self) -> None:
        self.model.close()


class BlazePoseMaskBackend(SilhouetteBackend):
    """Silhouette backend ``blazepose-mask``: BlazePose's person segmentation, thresholded at
    ``mask_threshold``; ``None`` (no image written) in frames where no pose was found.

    With ``ctx.extra["intermediate"]`` (the pose job's shared intermediate) no model is
    loaded: :meth:`run_intermediate` thresholds the stored soft masks instead.
    """

    name = "blazepose-mask"
    Params = BlazePoseParams

    def __init__(self, params=None, ctx=None):
        super().__init__(params, ctx)
        self.intermediate = self.ctx.extra.get("intermediate")
        self.model = None if self.intermediate else BlazePoseModel(self.params, segmentation=True)

    def run(self, frames: Iterable[Frame]) -> Iterator[MaskResult]:
        for f, lm, soft in self.model.process(frames):
            mask = None if soft is None else soft > self.params.mask_threshold
            yield MaskResult(f.index, mask if (lm is not None and mask is not None and mask.any()) else None)

    def run_intermediate(self, reader) -> Iterator[MaskResult]:
        """Masks from an :class:`~gaitprep.backends.blazepose_cache.IntermediateReader`:
        ``q >= ceil(256 mask_threshold)`` (the same mask as :meth:`run` for thresholds that
        are multiples of 1/256, see :func:`~gaitprep.backends.blazepose_cache.threshold`)."""
        from .blazepose_cache import threshold

        for i, lm, q in reader.frames():
            mask = None if q is None else threshold(q, self.params.mask_threshold)
            yield MaskResult(i, mask if (lm is not None and mask is not None and mask.any()) else None)

    def provenance(self) -> dict:
        """With the intermediate, ``model`` is None: the job records the intermediate's own
        (``meta["model"]``, what the pose job ran), and mediapipe (0.5 CPU s of imports) is
        not imported by a job that runs no model."""
        if self.intermediate:
            return {**super().provenance(), "model": None, "intermediate": str(self.intermediate)}
        mp = import_mediapipe()
        return {**super().provenance(), "model": f"mediapipe {mp.__version__} BlazePose GHUM 3D segmentation"}

    def close(self) -> None:
        if self.model is not None:
            self.model.close()
