"""Pose for gait checks: MediaPipe BlazePose run directly, in the spec's pose JSON format.

Used by the gait tests and ``bench/gait_accuracy.py`` when the pipeline's own blazepose
backend (:mod:`gaitprep.backends.blazepose`) is not available. Landmarks are mapped to
the spec's names: COCO-17 plus ``l_heel``/``r_heel`` (BlazePose 29/30) and
``l_big_toe``/``r_big_toe`` (BlazePose "foot index" 31/32, the tip of the shoe). Scores
are BlazePose's per-landmark visibility in [0, 1]. Coordinates are full-frame px.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError, VideoError

#: spec name -> BlazePose landmark index (MediaPipe's left/right are the person's own)
BLAZEPOSE_TO_SPEC = {
    "nose": 0, "l_eye": 2, "r_eye": 5, "l_ear": 7, "r_ear": 8,
    "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15, "r_wrist": 16,
    "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28,
    "l_heel": 29, "r_heel": 30, "l_big_toe": 31, "r_big_toe": 32,
}  # fmt: skip


def blazepose_records(video: str | Path, model_complexity: int = 1) -> tuple[list[dict], dict]:
    """Run BlazePose (video mode, landmark smoothing on) over every frame of ``video``.

    Returns:
        ``(records, info)``: the spec's pose records ``[{"frame": i, "joints": {...}|None}]``
        and ``{"fps", "width", "height", "n_frames"}`` of the video.

    Raises:
        BackendUnavailableError: mediapipe is not installed.
        VideoError: the video cannot be opened.
    """
    try:
        import mediapipe as mp
    except ImportError as e:  # pragma: no cover
        raise BackendUnavailableError("mediapipe is not installed: pip install mediapipe==0.10.14") from e
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoError(f"{video}: cannot be opened")
    info = {
        "fps": float(cap.get(cv2.CAP_PROP_FPS)),
        "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    }
    records = []
    with mp.solutions.pose.Pose(
        static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=True, enable_segmentation=False
    ) as pose:
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            h, w = img.shape[:2]
            res = pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            if res.pose_landmarks is None:
                records.append({"frame": i, "joints": None})
            else:
                lm = res.pose_landmarks.landmark
                records.append(
                    {
                        "frame": i,
                        "joints": {
                            k: {
                                "x": round(float(lm[j].x * w), 2),
                                "y": round(float(lm[j].y * h), 2),
                                "score": round(float(np.clip(lm[j].visibility, 0, 1)), 4),
                            }
                            for k, j in BLAZEPOSE_TO_SPEC.items()
                        },
                    }
                )
            i += 1
    cap.release()
    info["n_frames"] = len(records)
    return records, info
