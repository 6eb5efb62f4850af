"""The ``alphapose`` backend against a stand-in AlphaPose (tests/fixtures/fake_alphapose).

These tests prove gaitprep's adapter (command line, log capture, results parsing, subject
selection, failure handling), not AlphaPose itself.
"""

import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gaitprep.backends import get_backend_class
from gaitprep.backends.alphapose import (
    AlphaPoseBackend,
    AlphaPoseError,
    AlphaPoseResultsError,
    AlphaPoseRunError,
    gpus_arg,
    parse_results,
)
from gaitprep.backends.base import Context
from gaitprep.errors import GaitprepError, InputError, WeightsNotFoundError
from gaitprep.results import COCO17, HALPE26
from gaitprep.video import VideoReader, probe

FAKE_ROOT = Path(__file__).parent / "fixtures" / "fake_alphapose"
HALPE_CFG = "configs/halpe_26/resnet/256x192_res50_lr1e-3_1x.yaml"
N_FRAMES = 20


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48))
    for k in range(N_FRAMES):
        w.write(np.full((48, 64, 3), 10 * k % 255, np.uint8))
    w.release()
    assert probe(path).frame_count == N_FRAMES
    return path


@pytest.fixture
def checkpoint(tmp_path):
    p = tmp_path / "fast_res50_256x192.pth"
    p.write_bytes(b"not a real checkpoint")
    return p


@pytest.fixture
def logger():
    log = logging.getLogger("test-alphapose")
    log.setLevel(logging.INFO)
    return log


def make(video, checkpoint, logger, device="cpu", **params):
    params = {"alphapose_root": str(FAKE_ROOT), "checkpoint": str(checkpoint), "python": sys.executable, **params}
    return AlphaPoseBackend(params, Context(device=device, video=probe(video), log=logger))


def run(backend, video, start=0, end=None):
    return list(backend.run(VideoReader(video, start, end)))


def subject(k, n_kp):
    """The fake's subject keypoints in frame k: name -> (x, y, score)."""
    x, y = 5 + 2 * k, 4
    names = HALPE26 if n_kp == 26 else COCO17
    return {n: (x + 1 + 3 * (j % 5), y + 2 + j, 0.5 + 0.01 * j) for j, n in enumerate(names)}


def check_subject(results, n_kp):
    for r in results:
        if r.index % 7 == 3:
            assert r.joints is None, r.index
            continue
        assert r.joints is not None, r.index
        assert tuple(r.joints) == (HALPE26 if n_kp == 26 else COCO17)
        for name, (x, y, s) in subject(r.index, n_kp).items():
            j = r.joints[name]
            assert (j.x, j.y) == (x, y) and j.score == pytest.approx(s), (r.index, name)
        assert r.box == (5 + 2 * r.index, 4, 25 + 2 * r.index, 44)


def test_registry_names_the_backend():
    assert get_backend_class("pose", "alphapose") is AlphaPoseBackend


def test_coco17_whole_clip_follows_track_not_the_larger_bystander(video, checkpoint, logger, caplog):
    b = make(video, checkpoint, logger)
    with caplog.at_level(logging.INFO, logger="test-alphapose"):
        results = run(b, video)
    assert [r.index for r in results] == list(range(N_FRAMES))
    check_subject(results, 17)  # the bystander is larger from frame 6 on: the track id wins
    log = caplog.text
    assert "Results have been written to json." in log and "Loading pose model" in log
    # progress bars redrawn with \r are logged as their last state, not one line per redraw
    assert "20/20 frames" in log and "19/20 frames" not in log
    assert b.provenance()["keypoints_per_person"] == 17


def test_halpe26_and_frame_range(video, checkpoint, logger):
    b = make(video, checkpoint, logger, cfg=HALPE_CFG)
    results = run(b, video, 5, 15)
    assert [r.index for r in results] == list(range(5, 15))
    check_subject(results, 26)
    rec = results[0].to_record()
    assert rec["frame"] == 5 and rec["joints"]["r_heel"] == {"x": 16.0, "y": 31.0, "score": 0.75}


def test_range_starting_where_only_the_bystander_is_seen(video, checkpoint, logger):
    # frame 10: the subject is missed and the bystander (larger) is seen; the main track is
    # the one seen in most frames, so the bystander is never taken
    results = run(make(video, checkpoint, logger), video, 10, 20)
    assert [r.index for r in results] == list(range(10, 20))
    check_subject(results, 17)


def test_command_line(video, checkpoint, logger, tmp_path):
    b = make(video, checkpoint, logger, keep_outputs=True, workdir=str(tmp_path), extra_args=["--posebatch", "8"])
    run(b, video, 0, 3)
    (outdir,) = tmp_path.glob("gaitprep-alphapose-*")
    rec = json.loads((outdir / "fake-argv.json").read_text())
    argv = rec["argv"]
    assert Path(rec["cwd"]) == FAKE_ROOT.resolve()
    opt = lambda k: argv[argv.index(k) + 1]  # noqa: E731
    assert Path(opt("--video")) == video.resolve() and Path(opt("--outdir")) == outdir.resolve()
    assert opt("--gpus") == "-1" and opt("--checkpoint") == str(checkpoint.resolve())
    assert opt("--cfg") == str(FAKE_ROOT.resolve() / "configs/coco/resnet/256x192_res50_lr1e-3_1x.yaml")
    assert "--sp" in argv and "--pose_track" in argv and "--pose_flow" not in argv
    assert opt("--posebatch") == "8" and "--format" not in argv
    assert (outdir / "alphapose-results.json").is_file()


def test_outputs_removed_by_default(video, checkpoint, logger, tmp_path):
    run(make(video, checkpoint, logger, workdir=str(tmp_path)), video, 0, 2)
    assert list(tmp_path.glob("gaitprep-alphapose-*")) == []


@pytest.mark.parametrize("tracking", ["pose_flow", "none"])
def test_other_tracking_modes(video, checkpoint, logger, tracking):
    b = make(video, checkpoint, logger, tracking=tracking)
    assert (f"--{tracking}" in b.command("v.mp4", "o")) == (tracking != "none")
    # without tracking ids the subject is kept by box continuity alone
    check_subject(run(b, video), 17)


def test_gpus_argument():
    assert gpus_arg("cpu") == "-1" and gpus_arg("cuda:1") == "1" and gpus_arg("cuda") == "0"
    with pytest.raises(InputError):
        gpus_arg("mps")


@pytest.mark.parametrize(
    "mode, error, words",
    [
        ("exit1", AlphaPoseRunError, ["exited with status 1", "CUDA out of memory", "demo_inference.py"]),
        ("nomodule", AlphaPoseRunError, ["No module named 'alphapose'", "set the backend's `python`"]),
        ("swallow", AlphaPoseRunError, ["reported an error", "An error as above occurs", "--video"]),
        ("noresults", AlphaPoseResultsError, ["alphapose-results.json", "wrote no results file", "demo_inference.py"]),
        ("malformed", AlphaPoseResultsError, ["alphapose-results.json", "not valid JSON"]),
    ],
)
def test_failures_are_clear_errors(video, checkpoint, logger, monkeypatch, mode, error, words):
    monkeypatch.setenv("FAKE_ALPHAPOSE_MODE", mode)
    with pytest.raises(error) as e:
        run(make(video, checkpoint, logger), video)
    assert isinstance(e.value, AlphaPoseError) and isinstance(e.value, GaitprepError)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_timeout_kills_alphapose(video, checkpoint, logger, monkeypatch):
    monkeypatch.setenv("FAKE_ALPHAPOSE_MODE", "hang")
    with pytest.raises(AlphaPoseRunError, match="longer than 1.5 s and was killed"):
        run(make(video, checkpoint, logger, timeout_s=1.5), video)


def test_nobody_anywhere_gives_null_joints(video, checkpoint, logger, monkeypatch):
    monkeypatch.setenv("FAKE_ALPHAPOSE_MODE", "empty")
    results = run(make(video, checkpoint, logger), video, 2, 6)
    assert [(r.index, r.joints) for r in results] == [(i, None) for i in range(2, 6)]


def test_construction_errors(video, checkpoint, logger, tmp_path, monkeypatch):
    monkeypatch.delenv("GAITPREP_ALPHAPOSE_ROOT", raising=False)
    ctx = Context(video=probe(video), log=logger)
    with pytest.raises(InputError, match="alphapose_root"):
        AlphaPoseBackend({"checkpoint": str(checkpoint)}, ctx)
    with pytest.raises(InputError, match="demo_inference.py not found"):
        AlphaPoseBackend({"alphapose_root": str(tmp_path), "checkpoint": str(checkpoint)}, ctx)
    with pytest.raises(InputError, match="config .* not found"):
        make(video, checkpoint, logger, cfg="configs/nope.yaml")
    with pytest.raises(WeightsNotFoundError, match="halpe26_fast_res50_256x192.pth"):
        make(video, "pretrained_models/halpe26_fast_res50_256x192.pth", logger)
    with pytest.raises(InputError, match="tracking"):
        make(video, checkpoint, logger, tracking="deepsort")
    with pytest.raises(InputError, match="--outdir"):
        make(video, checkpoint, logger, extra_args=["--outdir", "x"])
    b = AlphaPoseBackend({"alphapose_root": str(FAKE_ROOT), "checkpoint": str(checkpoint)}, Context())
    with pytest.raises(InputError, match="ctx.video"):
        list(b.run(iter([])))


def test_checkpoint_found_in_models_dir(video, checkpoint, logger):
    b = AlphaPoseBackend(
        {"alphapose_root": str(FAKE_ROOT), "checkpoint": checkpoint.name},
        Context(models_dir=str(checkpoint.parent), video=probe(video), log=logger),
    )
    assert b.checkpoint_path == str(checkpoint.resolve())


# --- parse_results on hand-written files ------------------------------------------------


def write(tmp_path, obj, text=None):
    p = tmp_path / "alphapose-results.json"
    p.write_text(text if text is not None else json.dumps(obj))
    return p


def el(image_id, k=17, **kw):
    kp = []
    for j in range(k):
        kp += [10.0 + j, 20.0 + j, 0.8]
    return {"image_id": image_id, "category_id": 1, "keypoints": kp, "score": 2.7, **kw}


def test_parse_eval_ids_missing_box_and_untracked_idx(tmp_path):
    frames, k = parse_results(write(tmp_path, [el(3), el("7.jpg", idx=[[0.0], [1.0]]), el("7.jpg", idx=4.0)]))
    assert k == 17 and sorted(frames) == [3, 7]
    d = frames[3][0]
    assert d.box == (10.0, 20.0, 26.0, 36.0)  # the keypoints' extent when there is no "box"
    assert d.track_id is None and d.keypoint_score == pytest.approx(0.8)
    assert [d.track_id for d in frames[7]] == [None, 4]


def test_id_switch_is_bridged_by_continuity():
    from gaitprep.backends.alphapose import Detection, main_track, select_subject
    from gaitprep.subject import MainSubjectTracker

    def det(x, tid, size=20.0):
        kp = np.tile([x + 1.0, 5.0, 0.8], (17, 1))
        return Detection(kp, (x, 0.0, x + size, 2 * size), 2.5, tid)

    # the subject walks right as track 1, then (after an occlusion) as track 7;
    # a larger bystander, track 2, stands still in every other frame
    frames = {k: [det(2.0 * k, 1 if k < 5 else 7)] + ([det(200.0, 2, 60.0)] if k % 2 else []) for k in range(10)}
    assert main_track(frames, range(10)) == 1
    results = list(select_subject(frames, range(10), MainSubjectTracker()))
    assert [r.box[0] for r in results] == [2.0 * k for k in range(10)]


def test_parse_wholebody_layouts_keep_the_body(tmp_path):
    from gaitprep.backends.alphapose import joints_from_keypoints

    frames, k = parse_results(write(tmp_path, [el("0.jpg", k=136)]))
    assert k == 136 and tuple(joints_from_keypoints(frames[0][0].keypoints)) == HALPE26


@pytest.mark.parametrize(
    "obj, text, match",
    [
        ({"0.jpg": {"version": "AlphaPose v0.3", "people": []}}, None, "--format"),
        ([el("0.jpg", k=5)], None, "5 keypoints"),
        ([el("0.jpg"), el("1.jpg", k=26)], None, "earlier elements have 17"),
        ([{"image_id": "0.jpg"}], None, "'keypoints'"),
        ([el("frame.jpg")], None, "not a video frame name"),
        ([{"image_id": "0.jpg", "keypoints": [1, 2]}], None, "flat list"),
        (None, "[{", "not valid JSON"),
        (None, '"x"', "expected a JSON list"),
    ],
)
def test_parse_rejects_bad_files(tmp_path, obj, text, match):
    with pytest.raises(AlphaPoseResultsError, match=match):
        parse_results(write(tmp_path, obj, text))


def test_parse_missing_file(tmp_path):
    with pytest.raises(AlphaPoseResultsError, match="does not exist"):
        parse_results(tmp_path / "alphapose-results.json")
