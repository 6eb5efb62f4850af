"""Backend registry: ``{modality: {name: "module:Class"}}``, imported lazily.

Heavy libraries (torch, mediapipe, ultralytics, detectron2) are imported only when their
backend is built. :func:`get_backend_class` lists the valid names on an unknown one.
"""

from __future__ import annotations

import importlib

from ..errors import InputError

REGISTRY: dict[str, dict[str, str]] = {
    "pose": {
        "blazepose": "gaitprep.backends.blazepose:BlazePoseBackend",
        "yolov8-pose": "gaitprep.backends.yolo:YoloPoseBackend",
        "alphapose": "gaitprep.backends.alphapose:AlphaPoseBackend",
        "alphapose-topdown": "gaitprep.backends.alphapose_topdown:AlphaPoseTopDownBackend",
    },
    "silhouette": {
        "blazepose-mask": "gaitprep.backends.blazepose:BlazePoseMaskBackend",
        "yolov8-seg": "gaitprep.backends.yolo:YoloSegBackend",
    },
    "segmentation": {
        "pose-parts": "gaitprep.backends.pose_parts:PosePartsBackend",
        "densepose": "gaitprep.backends.densepose:DensePoseBackend",
    },
    "flow": {
        "tvl1-opencv": "gaitprep.backends.tvl1_opencv:TVL1OpenCVBackend",
        "tvl1-fused": "gaitprep.backends.tvl1_fused:TVL1FusedBackend",
        "tvl1-torch": "gaitprep.backends.tvl1_torch:TVL1TorchBackend",
        "gmflow": "gaitprep.backends.gmflow:GMFlowBackend",
    },
}

#: flow backend -> output folder (``optical_flow/<PID>/<GT>/<METHOD>/``)
FLOW_METHOD = {"tvl1-opencv": "TVL1", "tvl1-fused": "TVL1", "tvl1-torch": "TVL1", "gmflow": "GMFLOW"}
#: backends that run a torch model on the configured device (they ask for a GPU)
GPU_BACKENDS = {"yolov8-pose", "yolov8-seg", "alphapose", "alphapose-topdown", "densepose", "tvl1-torch", "gmflow"}
#: backends that compute on one thread: their jobs ask for 1 (N clips side by side on N cores)
ONE_THREAD_BACKENDS = {"tvl1-fused"}


def backend_names(modality: str) -> list[str]:
    """Valid backend names of a modality."""
    if modality not in REGISTRY:
        raise InputError(f"unknown modality {modality!r} (expected one of {', '.join(REGISTRY)})")
    return sorted(REGISTRY[modality])


def get_backend_class(modality: str, name: str):
    """Import and return the backend class registered as ``name`` for ``modality``.

    Raises:
        InputError: unknown modality or backend name (the message lists the valid ones).
    """
    names = backend_names(modality)
    if name not in REGISTRY[modality]:
        raise InputError(f"unknown {modality} backend {name!r}; valid: {', '.join(names)}")
    module, cls = REGISTRY[modality][name].split(":")
    return getattr(importlib.import_module(module), cls)
