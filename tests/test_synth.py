"""Synthetic walker: exact kinematics, truth consistency, video output, BlazePose detection."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gaitprep.results import HALPE26
from gaitprep.synth import (
    Walker, WalkerParams, events_in_view, random_params, render_walker, walker_keypoints, walker_truth,
)  # fmt: skip
from gaitprep.synth.cli import main as synth_main
from gaitprep.video import probe

TRUTH_KEYS = {
    "fps", "width", "height", "n_frames", "px_per_cm", "direction", "height_cm", "events",
    "fully_visible_frames", "step_length_cm", "stride_length_cm", "step_time_s", "stride_time_s",
    "cadence_steps_per_min", "speed_m_per_s", "stance_s", "swing_s", "double_support_s",
    "single_support_s", "params",
}  # fmt: skip

CASES = [
    WalkerParams(),
    WalkerParams(cadence=90, step_length_cm=50, double_support_fraction=0.15, direction="right_to_left", seed=3),
    WalkerParams(cadence=130, step_length_cm=80, double_support_fraction=0.075, height_cm=185, seed=7),
    random_params(11),
]


@pytest.mark.parametrize("params", CASES)
def test_stance_foot_does_not_slide(params):
    """While a foot is in stance its heel (until heel off) or its toe (from foot flat) is on
    the floor and does not move; in swing the foot is above the floor."""
    w = Walker(params)
    T = w.stride_time
    for side in ("l", "r"):
        hs = [e["time"] for e in w.events(0, w.duration) if e["foot"][0] == side and e["event"] == "HS"]
        t_hs = hs[1]
        ts = t_hs + np.linspace(0, 1, 401)[:-1] * T
        heel0 = w.body(t_hs)[f"{side}_heel"]
        toe_to = w.body(t_hs + w.stance)[f"{side}_big_toe"]
        for t in ts:
            b = w.body(t)
            heel, toe = b[f"{side}_heel"], b[f"{side}_big_toe"]
            if t - t_hs <= w.stance + 1e-9:
                on_heel, on_toe = abs(heel[1]) < 1e-9, abs(toe[1]) < 1e-9
                assert on_heel or on_toe, f"stance foot off the floor at t={t:.3f}"
                if on_heel:
                    assert np.allclose(heel, heel0, atol=1e-6), "heel slides"
                if on_toe:
                    assert np.allclose(toe, toe_to, atol=1e-6), "toe slides"
            else:
                assert heel[1] > 0 and toe[1] > 0, "swing foot touches the floor"
        # heel strikes of one foot are a stride apart
        assert np.isclose(w.body(t_hs + T)[f"{side}_heel"][0] - heel0[0], 2 * params.step_length_cm)


@pytest.mark.parametrize("params", CASES)
def test_events_and_keypoints_match_params(params):
    """Cadence, step length and double support measured from the truth events and the
    exact keypoints agree with the parameters within 1 %."""
    truth = walker_truth(params)
    kps = walker_keypoints(params)
    fps, ppc = truth["fps"], truth["px_per_cm"]
    hs = [e for e in truth["events"] if e["event"] == "HS"]
    assert len(hs) >= 4
    assert all(a["foot"] != b["foot"] for a, b in zip(hs, hs[1:])), "HS must alternate feet"
    step_t = np.diff([e["time"] for e in hs])
    assert np.allclose(60.0 / step_t, params.cadence, rtol=0.01)
    # step length from the heel keypoint in the first frame after each HS (heel is planted)
    xs = []
    for e in hs:
        i = int(np.ceil(e["frame"] - 1e-9))
        xs.append(kps[i]["joints"][f"{e['foot'][0]}_heel"]["x"])
    steps_cm = np.abs(np.diff(xs)) / ppc
    assert np.allclose(steps_cm, params.step_length_cm, rtol=0.01)
    # HS of one foot -> TO of the other = one double-support period
    ev = truth["events"]
    n_ds = 0
    for k, e in enumerate(ev):
        if e["event"] == "HS":
            nxt = [x for x in ev[k + 1 :] if x["foot"] != e["foot"]][:1]
            if nxt and nxt[0]["event"] == "TO":
                assert np.isclose(nxt[0]["time"] - e["time"], truth["double_support_s"], rtol=1e-6)
                n_ds += 1
    assert n_ds >= 3
    T = truth["stride_time_s"]
    assert np.isclose(truth["stance_s"], 2 * truth["double_support_s"] + truth["single_support_s"])
    assert np.isclose(truth["stance_s"] + truth["swing_s"], T)
    assert np.isclose(truth["double_support_s"], params.double_support_fraction * T)
    assert np.isclose(truth["speed_m_per_s"], params.step_length_cm / 100 * params.cadence / 60)
    assert all(abs(e["frame"] - e["time"] * fps) < 1e-9 for e in ev)
    assert [e["time"] for e in ev] == sorted(e["time"] for e in ev)


def test_truth_format_and_visibility():
    params = WalkerParams(seed=1)
    truth = walker_truth(params)
    assert set(truth) == TRUTH_KEYS
    json.dumps(truth)
    assert WalkerParams.from_dict({k: v for k, v in truth["params"].items()}).cadence == params.cadence
    kps = walker_keypoints(params)
    assert len(kps) == truth["n_frames"]
    # enters and leaves: empty first/last frames, a run of fully visible frames in between
    assert kps[0]["joints"] is None and kps[-1]["joints"] is None
    vis = truth["fully_visible_frames"]
    assert len(vis) > 60 and vis == list(range(vis[0], vis[-1] + 1))
    for i in vis:
        assert set(kps[i]["joints"]) == set(HALPE26)
    for e in truth["events"]:
        i = min(int(round(e["frame"])), truth["n_frames"] - 1)
        assert kps[i]["joints"] is not None and f"{e['foot'][0]}_heel" in kps[i]["joints"]


@pytest.mark.parametrize("direction", ["left_to_right", "right_to_left"])
@pytest.mark.parametrize("seed", [3, 7])
def test_events_in_view_adds_the_contacts_seen_by_their_own_point(direction, seed):
    # the truth's events need heel and toe inside; a contact is visible to a pose model when
    # its own point is (the heel for HS, the big toe for TO)
    params = WalkerParams(direction=direction, cadence=100, step_length_cm=60, seed=seed)
    key = lambda e: (e["foot"], e["event"], round(e["frame"], 6))  # noqa: E731
    strict = {key(e) for e in walker_truth(params)["events"]}
    seen = events_in_view(params)
    assert [e["time"] for e in seen] == sorted(e["time"] for e in seen)
    assert strict <= {key(e) for e in seen}
    extra = [e for e in seen if key(e) not in strict]
    # the last heel strike lands in view with the toe already past the border
    last_hs = max(x["time"] for x in seen if x["event"] == "HS")
    assert any(e["event"] == "HS" and e["time"] == last_hs for e in extra)


def test_right_to_left_is_mirror_with_sides_swapped():
    a = walker_keypoints(WalkerParams(phase0=0.2), include_outside=True)
    b = walker_keypoints(WalkerParams(phase0=0.2, direction="right_to_left"), include_outside=True)
    W = WalkerParams().width
    for fa, fb in zip(a[::10], b[::10]):
        for n in HALPE26:
            m = {"l": "r", "r": "l"}.get(n[0], n[0]) + n[1:] if n[1] == "_" else n
            assert np.isclose(fb["joints"][m]["x"], W - fa["joints"][n]["x"])
            assert np.isclose(fb["joints"][m]["y"], fa["joints"][n]["y"])


def test_random_params_in_typical_ranges():
    for seed in range(20):
        p = random_params(seed)
        assert 90 <= p.cadence <= 130 and 50 <= p.step_length_cm <= 80
        assert 0.075 <= p.double_support_fraction <= 0.15
        assert random_params(seed) == p
    assert random_params(0, cadence=100).cadence == 100


def test_bad_params_raise():
    with pytest.raises(ValueError, match="cadence"):
        Walker(WalkerParams(cadence=500))
    with pytest.raises(ValueError, match="direction"):
        Walker(WalkerParams(direction="up"))


def test_render_decodes(tmp_path):
    out = tmp_path / "w.mp4"
    rc = synth_main(["--out", str(out), "--seconds", "1", "--start-x", "150", "--pose-json", str(tmp_path / "p.json")])
    assert rc == 0
    truth = json.loads((tmp_path / "w.truth.json").read_text())
    assert truth["n_frames"] == 30
    cap = cv2.VideoCapture(str(out))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (540, 960, 3)
        n += 1
    cap.release()
    assert n == 30
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (960, 540, 30) and abs(info.fps - 30.0) < 1e-6
    assert len(json.loads((tmp_path / "p.json").read_text())) == 30


@pytest.mark.slow
def test_blazepose_detects_the_walker(tmp_path):
    """BlazePose (full model, video mode) finds the figure in >= 95 % of the frames where it
    is fully visible (2 s clip, both directions)."""
    mp = pytest.importorskip("mediapipe")
    for direction in ("left_to_right", "right_to_left"):
        params = WalkerParams(direction=direction, duration_s=1.5, start_x_cm=120, seed=2)
        out = tmp_path / f"{direction}.mp4"
        truth = render_walker(out, params)
        cap = cv2.VideoCapture(str(out))
        det = []
        with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                det.append(pose.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).pose_landmarks is not None)
        cap.release()
        vis = truth["fully_visible_frames"]
        assert len(vis) == truth["n_frames"] == len(det)
        rate = np.mean([det[i] for i in vis])
        assert rate >= 0.95, f"{direction}: BlazePose detection rate {rate:.2%} on fully visible frames"
