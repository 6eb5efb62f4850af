"""The install must leave the contrib OpenCV (cv2.optflow) and the pinned torch in place."""

import cv2


def test_cv2_optflow_survives_install():
    # several packages pull opencv-python / -headless, which overwrite cv2 without optflow
    assert hasattr(cv2, "optflow"), f"cv2 {cv2.__version__} at {cv2.__file__} lacks optflow"
    assert hasattr(cv2.optflow, "DualTVL1OpticalFlow_create")
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    assert tvl1.getTau() == 0.25


def test_pinned_torch_and_mediapipe():
    import mediapipe as mp
    import torch
    import torchvision

    assert torch.__version__.startswith("2.14.1")
    assert torchvision.__version__.startswith("0.29.1")
    assert mp.__version__ == "0.10.14"
    assert hasattr(mp.solutions, "pose")
