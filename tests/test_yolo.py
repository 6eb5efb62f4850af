"""YOLOv8 backends (ultralytics), offline, with random-weight checkpoints.

No real YOLOv8 weights are available here (no download), so:

- the *loading path* is the users' one: weights by file name + ``models_dir``;
- the checkpoints are ``yolov8n-seg.yaml`` / ``yolov8n-pose.yaml`` models with random
  weights, saved as ``.pt``; one pair is "rigged" (class logits raised) so every frame has
  confident, meaningless person boxes and the mask/keypoint paths run; a plain random model
  detects nothing. These tests check well-formedness only (types, shapes, dtypes, frame
  count), never that a mask or a keypoint lies on the person;
- main-subject selection is tested with a stubbed predictor returning two people crossing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

if importlib.util.find_spec("ultralytics") is None:  # not importorskip: it would import ultralytics
    pytest.skip("ultralytics is not installed", allow_module_level=True)  # before gaitprep's offline settings
import torch  # noqa: E402

from gaitprep.backends import get_backend_class  # noqa: E402
from gaitprep.backends.base import Context  # noqa: E402
from gaitprep.errors import InputError, WeightsNotFoundError  # noqa: E402
from gaitprep.results import COCO17, Frame, MaskResult, PoseResult  # noqa: E402
from gaitprep.video import VideoReader  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAITPREP_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "data" / "videos"
VIDEO = VIDEOS / "gait_normal_01.mp4"
needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} not found")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A models folder with random-weight checkpoints under the real file names."""
    from gaitprep.backends.yolo import save_random_checkpoint

    d = tmp_path_factory.mktemp("models")
    save_random_checkpoint("yolov8n-seg.yaml", d / "yolov8n-seg.pt", detect_everything=True)
    save_random_checkpoint("yolov8n-pose.yaml", d / "yolov8n-pose.pt", detect_everything=True)
    save_random_checkpoint("yolov8n-seg.yaml", d / "plain-yolov8n-seg.pt")
    return d


def _frames(start=40, n=5, path=VIDEO):
    return list(VideoReader(path, start=start, end=start + n, prefetch=0))


def _crossing_frames(start=40, n=5):
    """Two real people crossing: gait_normal_01 (left to right) blended 50/50 with the
    mirrored slouch_posture clip (right to left). Source resolution 960x540."""
    other = VIDEOS / "gait_abnormal_01_slouch_posture.mp4"
    a, b = _frames(start, n), _frames(start, n, other)
    return [Frame(fa.index, ((fa.image.astype(np.uint16) + fb.image[:, ::-1]) // 2).astype(np.uint8)) for fa, fb in zip(a, b)]


def _seg(models, **params):
    cls = get_backend_class("silhouette", "yolov8-seg")
    return cls({"weights": "yolov8n-seg.pt", "imgsz": 320, **params}, Context(device="cpu", models_dir=str(models)))


def _pose(models, **params):
    cls = get_backend_class("pose", "yolov8-pose")
    return cls({"weights": "yolov8n-pose.pt", "imgsz": 320, **params}, Context(device="cpu", models_dir=str(models)))


# -- weights -------------------------------------------------------------------------------


def test_missing_weights_fails_fast_naming_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("GAITPREP_MODELS", raising=False)
    cls = get_backend_class("silhouette", "yolov8-seg")
    t = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as e:
        cls({"weights": "yolov8x-seg.pt"}, Context(models_dir=str(tmp_path)))
    assert time.perf_counter() - t < 5
    msg = str(e.value)
    assert "yolov8x-seg.pt" in msg and str(tmp_path) in msg
    # no models folder configured at all: the message says how to configure one
    with pytest.raises(WeightsNotFoundError, match="GAITPREP_MODELS") as e:
        get_backend_class("pose", "yolov8-pose")({}, Context())
    assert "yolov8x-pose.pt" in str(e.value)


def test_models_dir_from_environment(models, monkeypatch):
    monkeypatch.setenv("GAITPREP_MODELS", str(models))
    b = get_backend_class("pose", "yolov8-pose")({"weights": "yolov8n-pose.pt"}, Context())
    assert Path(b.weights_path) == models / "yolov8n-pose.pt"
    prov = b.provenance()
    json.dumps(prov)
    assert prov["model"] == "yolov8n-pose.pt" and len(prov["weights_sha256"]) == 64


def test_wrong_task_and_bad_params(models):
    with pytest.raises(InputError, match="'pose' model"):
        _seg(models, weights="yolov8n-pose.pt")
    with pytest.raises(InputError, match="half"):
        _seg(models, half="maybe")
    with pytest.raises(InputError, match="CUDA"):
        _seg(models, half=True)
    with pytest.raises(InputError, match="imgsz"):
        _seg(models, imgsz=300)
    with pytest.raises(InputError, match="unknown parameter"):
        _seg(models, retina=False)


# -- real frames, random weights: well-formedness only ----------------------------------------


@needs_video
def test_seg_backend_well_formed_on_real_frames(models):
    frames = _crossing_frames(n=5)
    b = _seg(models, batch_size=2)  # 5 frames -> batches of 2, 2, 1
    out = list(b.run(iter(frames)))
    assert [r.index for r in out] == [f.index for f in frames]
    for r in out:
        assert isinstance(r, MaskResult)
        # the rigged model "detects" a person everywhere: a mask is always there, meaningless
        assert r.mask is not None
        assert r.mask.dtype == np.bool_ and r.mask.shape == (540, 960)
        assert 0 < r.mask.sum() < r.mask.size
    b.close()


@needs_video
def test_seg_backend_random_model_detects_nothing(models):
    frames = _frames(n=3)
    out = list(_seg(models, weights="plain-yolov8n-seg.pt", batch_size=8).run(iter(frames)))
    assert [r.index for r in out] == [f.index for f in frames]
    assert all(isinstance(r, MaskResult) and r.mask is None for r in out)


@needs_video
def test_pose_backend_well_formed_on_real_frames(models):
    frames = _frames(n=4)
    out = list(_pose(models, batch_size=3).run(iter(frames)))
    assert [r.index for r in out] == [f.index for f in frames]
    for r in out:
        assert isinstance(r, PoseResult) and r.joints is not None
        assert tuple(r.joints) == COCO17
        xy = np.array([[j.x, j.y] for j in r.joints.values()])
        s = np.array([j.score for j in r.joints.values()])
        assert np.isfinite(xy).all() and (s >= 0).all() and (s <= 1).all()
        rec = r.to_record()
        assert rec["frame"] == r.index and set(rec["joints"]) == set(COCO17)
        json.dumps(rec)


# -- main-subject selection: stubbed predictor, two people crossing -------------------------


def _two_people(n=30, h=120, w=200, seed=0):
    """Boxes of subject A (left->right) and passer-by B (right->left, growing larger than A
    as it nears the camera); they overlap in the middle frames. Detection order shuffled."""
    rng = np.random.default_rng(seed)
    dets = []
    for t in range(n):
        ax = 10 + t * 5
        a = [ax, 30, ax + 30, 100]
        bx = 160 - t * 5
        b = [bx, 20, bx + 10 + t, 110]  # area 900 + 90 t: larger than A (2100) from t = 14
        pair = [("A", a), ("B", b)]
        dets.append([pair[i] for i in rng.permutation(2)])
    return dets


def _stub_results(dets, h, w, kind):
    out = []
    for frame_dets in dets:
        xyxy = torch.tensor([d[1] for d in frame_dets], dtype=torch.float32)
        conf = torch.tensor([0.9] * len(frame_dets))
        masks = torch.zeros((len(frame_dets), h, w), dtype=torch.uint8)
        kps = torch.zeros((len(frame_dets), 17, 3))
        for i, (who, (x0, y0, x1, y1)) in enumerate(frame_dets):
            masks[i, y0:y1, x0:x1] = 1
            kps[i, :, 0] = (x0 + x1) / 2
            kps[i, :, 1] = torch.linspace(y0, y1, 17)
            kps[i, :, 2] = 0.8 if who == "A" else 0.3  # tells the two apart in the output
        out.append(
            SimpleNamespace(
                boxes=SimpleNamespace(xyxy=xyxy, conf=conf),
                masks=SimpleNamespace(data=masks) if kind == "seg" else None,
                keypoints=SimpleNamespace(data=kps) if kind == "pose" else None,
            )
        )
    return out


@pytest.mark.parametrize("kind", ["seg", "pose"])
def test_main_subject_stays_on_same_person_when_two_cross(models, kind):
    h, w, n = 120, 200, 30
    dets = _two_people(n, h, w)
    backend = _seg(models, batch_size=4) if kind == "seg" else _pose(models, batch_size=4)
    calls = []

    def fake_predict(images):  # the stub: returns the boxes of the frames it is given
        start = sum(calls)
        calls.append(len(images))
        assert all(im.shape == (h, w, 3) for im in images)
        return _stub_results(dets[start : start + len(images)], h, w, kind)

    backend.predict = fake_predict
    frames = (Frame(i, np.zeros((h, w, 3), np.uint8)) for i in range(n))
    out = list(backend.run(frames))
    assert calls == [4] * 7 + [2]  # batched, streamed
    assert len(out) == n
    # B is the largest box in later frames and overlaps A at the crossing: a per-frame
    # "largest person" rule would switch; the tracker must stay on A throughout.
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])
    b_larger = [t for t in range(n) if area(dict(dets[t])["B"]) > area(dict(dets[t])["A"])]
    assert b_larger, "test data must make B the larger person in some frames"
    for t, r in enumerate(out):
        ax0, ay0, ax1, ay1 = dict(dets[t])["A"]
        if kind == "seg":
            ys, xs = np.nonzero(r.mask)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (ax0, ay0, ax1, ay1), t
        else:
            assert all(j.score == pytest.approx(0.8) for j in r.joints.values()), t
            assert r.box == (ax0, ay0, ax1, ay1)


# -- offline safety --------------------------------------------------------------------------


@needs_video
def test_no_network_and_no_home_writes(models, tmp_path):
    """In a fresh process (so ultralytics' import-time checks run): no socket / DNS call and
    nothing written under $HOME while loading local weights and predicting two frames."""
    home = tmp_path / "home"
    home.mkdir()
    code = textwrap.dedent(
        f"""
        import sys
        hits = []
        def hook(event, args):
            if event.startswith("socket.") :
                hits.append(event)
        sys.addaudithook(hook)
        from gaitprep.backends.base import Context
        from gaitprep.backends.yolo import YoloSegBackend
        from gaitprep.video import VideoReader
        b = YoloSegBackend({{"weights": "yolov8n-seg.pt", "imgsz": 320}}, Context(models_dir={str(models)!r}))
        out = list(b.run(iter(VideoReader({str(VIDEO)!r}, start=50, end=52, prefetch=0))))
        assert len(out) == 2
        print("SOCKET_EVENTS", hits)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), PYTHONPATH=str(REPO / "src"))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "SOCKET_EVENTS []" in p.stdout, p.stdout
    assert list(home.rglob("*")) == [], list(home.rglob("*"))


# -- the pipeline rule, through snakemake ----------------------------------------------------


@needs_video
@pytest.mark.slow
def test_pipeline_rules_with_yolo_backends(models, tmp_path):
    """pose + silhouette rules on frames 40..43 of one shared clip, backends yolov8-pose /
    yolov8-seg with the (rigged, random) weights found by name in ``models_dir``."""
    import cv2
    from conftest import snakemake, write_config

    from gaitprep.healthgait.naming import ClipId, pose_path, provenance_path, silhouette_dir

    sheet = tmp_path / "samples.tsv"
    sheet.write_text("participant\tgait_type\twalk_class\tclip\tpath\tstart_frame\tend_frame\n"
                     f"PA900\tUGS\tNW-WoJ\t2\t{VIDEO}\t40\t44\n")  # fmt: skip
    out = tmp_path / "tree"
    cfg = write_config(
        tmp_path / "config.yaml", samples=str(sheet), demo={"enabled": False}, output_dir=str(out),
        device="cpu", models_dir=str(models), allow_download=False, modalities=["pose", "silhouette"],
        pose={"backend": "yolov8-pose", "params": {"weights": "yolov8n-pose.pt", "imgsz": 320, "batch_size": 2}},
        silhouette={"backend": "yolov8-seg", "params": {"weights": "yolov8n-seg.pt", "imgsz": 320, "batch_size": 2}},
    )  # fmt: skip
    snakemake("--cores", "2", "--configfile", cfg, cwd=tmp_path)
    clip = ClipId("PA900", "UGS", "NW-WoJ", "2")
    jpgs = sorted(silhouette_dir(out, clip).glob("*.jpg"))
    assert [p.name for p in jpgs] == ["040.jpg", "041.jpg", "042.jpg", "043.jpg"]
    for p in jpgs:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        assert img.shape == (540, 960)
        assert ((img < 30) | (img > 225)).mean() > 0.99  # binary up to JPEG ringing
    prov = json.loads(provenance_path(out, clip, "silhouette").read_text())
    assert "yolov8-seg" in json.dumps(prov) and "yolov8n-seg.pt" in json.dumps(prov)
    pose = json.loads(pose_path(out, clip).read_text())
    assert [r["frame"] for r in pose] == [40, 41, 42, 43]
    assert all(set(r["joints"]) == set(COCO17) for r in pose)
