"""The jobs that run no model import only what they use (issue 14: their CPU is mostly
start-up): a silhouette job from the shared BlazePose intermediate and a pose-parts
segmentation job, each run as the rule runs it (``python -m gaitprep run ...``) in a fresh
interpreter, on a small synthetic tree."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import cv2
import numpy as np
import pytest

from gaitprep.backends.blazepose import BlazePoseParams
from gaitprep.backends.blazepose_cache import IntermediateWriter
from gaitprep.healthgait.naming import ClipId, pose_path, provenance_path, segmentation_dir, silhouette_dir

CLIP = ClipId.from_key("PA000/UGS/NW-WJ_1")
W, H = 200, 240
#: modules a no-model job must not import: model libraries, heavy scientific stacks, and the
#: parts of gaitprep that are other subcommands (the CLI builds only the `run` parser)
NOT_NEEDED = ("mediapipe", "torch", "ultralytics", "detectron2", "scipy", "pandas", "matplotlib", "pyarrow",
              "sklearn", "jsonschema", "pydantic", "gaitprep.synth", "gaitprep.gait", "gaitprep.healthgait.validate",
              "gaitprep.reporting", "gaitprep.export", "gaitprep.flow")  # fmt: skip

#: run the job in-process after `python -m gaitprep`'s own start (the rule's command), then
#: print the top-level and gaitprep modules it left imported
RUNNER = """
import json, runpy, sys
sys.argv = ["gaitprep", *json.loads(sys.argv[1])]
try:
    runpy.run_module("gaitprep", run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps(sorted(sys.modules)))
"""


def _stick(cx=100.0, top=20.0) -> dict:
    J = {"nose": (cx + 8, top), "l_ear": (cx, top), "r_ear": (cx, top), "l_shoulder": (cx, top + 30),
         "r_shoulder": (cx, top + 30), "l_elbow": (cx, top + 60), "r_elbow": (cx, top + 60), "l_wrist": (cx, top + 85),
         "r_wrist": (cx, top + 85), "l_hip": (cx, top + 95), "r_hip": (cx, top + 95), "l_knee": (cx, top + 140),
         "r_knee": (cx, top + 140), "l_ankle": (cx, top + 185), "r_ankle": (cx, top + 185)}  # fmt: skip
    return {k: {"x": x, "y": y, "score": 0.9} for k, (x, y) in J.items()}


def _tree(root):
    """A pose JSON + provenance and the shared intermediate of a 2-frame clip (no model)."""
    pose_path(root, CLIP).parent.mkdir(parents=True)
    pose_path(root, CLIP).write_text(json.dumps([{"frame": 0, "joints": _stick()}, {"frame": 1, "joints": None}]))
    video = {"path": "v.mp4", "width": W, "height": H, "fps": 30.0, "frame_count": 2, "start": None, "end": None,
             "rotation": 0, "auto_rotated": False}  # fmt: skip
    provenance_path(root, CLIP, "pose").parent.mkdir(parents=True, exist_ok=True)
    provenance_path(root, CLIP, "pose").write_text(json.dumps({"video": video, "stats": {"frames_decoded": 2, "frames_skipped": []}}))
    inter = root / "intermediate" / "x.npz"
    inter.parent.mkdir()
    soft = np.zeros((H, W), np.float32)
    soft[15:215, 85:125] = 0.9
    iw = IntermediateWriter(inter)
    iw.add(0, np.random.default_rng(0).uniform(0, 100, (33, 4)).astype(np.float32), soft)
    iw.add(1, None, None)
    iw.close({"clip": CLIP.key, "video": video, "frames_decoded": 2, "frames_skipped": [],
              "params": asdict(BlazePoseParams()), "model": "mediapipe x BlazePose GHUM 3D (test) + segmentation"})  # fmt: skip
    return inter


def _run_job(root, modality: str, spec: dict) -> set[str]:
    argv = ["run", modality, "--clip", CLIP.key, "--video", "v.mp4", "--root", str(root), "--spec", json.dumps(spec)]
    p = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(argv)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    return set(json.loads(p.stdout.splitlines()[-1]))


def _imported(mods: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in mods)


@pytest.mark.parametrize("modality", ["silhouette", "segmentation"])
def test_no_model_job_imports_only_what_it_needs(tmp_path, modality):
    root = tmp_path / "t"
    inter = _tree(root)
    mods = _run_job(root, "silhouette", {"backend": "blazepose-mask", "intermediate": str(inter), "progress": False})
    if modality == "segmentation":
        assert not segmentation_dir(root, CLIP).exists()
        mods = _run_job(root, "segmentation", {"backend": "pose-parts", "progress": False})
        out = segmentation_dir(root, CLIP)
        assert sorted(p.name for p in out.iterdir()) == ["000.png"]
        assert cv2.imread(str(out / "000.png")).any()
    else:
        assert sorted(p.name for p in silhouette_dir(root, CLIP).iterdir()) == ["000.jpg"]
        rec = json.loads(provenance_path(root, CLIP, "silhouette").read_text())
        assert rec["model"] == "mediapipe x BlazePose GHUM 3D (test) + segmentation"  # the intermediate's
        assert rec["intermediate"] == str(inter)
    assert {"numpy", "cv2", "gaitprep.runner"} <= mods
    assert [m for m in NOT_NEEDED if _imported(mods, m)] == []


def test_mediapipe_import_leaves_out_plotting_and_audio():
    """The BlazePose jobs import mediapipe without matplotlib (its landmark plotting) and
    sounddevice (its audio tasks, whose PortAudio lookup runs ldconfig/gcc/ld); mediapipe's
    drawing helpers still work (the real pyplot on first use) and a later `import
    matplotlib.pyplot` is the real module."""
    code = """
import sys
from gaitprep.backends.blazepose import import_mediapipe
mp = import_mediapipe()
assert mp is sys.modules["mediapipe"] and mp.solutions.pose.Pose
assert import_mediapipe() is mp
left = [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "sounddevice")]
assert left == [], left
from mediapipe.python.solutions import drawing_utils
fig = drawing_utils.plt.figure  # first use: the real pyplot
import matplotlib.pyplot as plt
assert fig is plt.figure and type(plt).__name__ == "module" and type(sys.modules["matplotlib"]).__name__ == "module"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
