import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from gaitprep.errors import VideoError
from gaitprep.video import VideoReader, probe
from gaitprep.healthgait.writers import FrameDirWriter, atomic_path, write_json_atomic

from conftest import shared_video


def test_frame_dir_writer_is_atomic(tmp_path):
    final = tmp_path / "clip_YOLOV8"
    with pytest.raises(RuntimeError):
        with FrameDirWriter(final, ".png") as w:
            w.write(3, np.zeros((4, 4), np.uint8))
            raise RuntimeError("killed")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []  # no temp left either
    with FrameDirWriter(final, ".png") as w:
        for i in (5, 7, 12):
            w.write(i, np.zeros((4, 4), np.uint8))
    assert sorted(p.name for p in final.iterdir()) == ["005.png", "007.png", "012.png"]


def test_frame_dir_writer_widens_names_for_long_clips(tmp_path):
    with FrameDirWriter(tmp_path / "d", ".png") as w:
        for i in (0, 1000):
            w.write(i, np.zeros((2, 2), np.uint8))
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["0000.png", "1000.png"]


def test_atomic_file_keeps_old_output_on_failure(tmp_path):
    p = tmp_path / "x.json"
    write_json_atomic(p, [1])
    with pytest.raises(ValueError):
        with atomic_path(p) as tmp:
            tmp.write_text("partial")
            raise ValueError
    assert p.read_text() == "[1]"
    stale = tmp_path / "x.json.tmp-99999"
    stale.write_text("left by a killed job")
    write_json_atomic(p, [2])
    assert not stale.exists() and p.read_text() == "[2]"


def test_reader_streams_source_indices_in_range():
    v = shared_video("gait_normal_01.mp4")
    info = probe(v)
    assert (info.width, info.height, info.frame_count) == (960, 540, 124)
    assert abs(info.fps - 30.22) < 0.01
    r = VideoReader(v, start=100, end=110, prefetch=2)
    idx = [f.index for f in r]
    assert idx == list(range(100, 110))
    assert r.skipped == []
    assert len([f for f in VideoReader(v)]) == 124


def test_reader_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(5000))
    with pytest.raises(VideoError, match="bad.mp4"):
        list(VideoReader(bad))
    with pytest.raises(VideoError, match="does not exist"):
        probe(tmp_path / "none.mp4")
    (tmp_path / "x.webm").write_bytes(b"1")
    with pytest.raises(VideoError, match="unsupported extension"):
        probe(tmp_path / "x.webm")


# -- frame timing and orientation from the container (issue 16) ---------------------------

from gaitprep.video import frame_timing, orientation_warning  # noqa: E402
from mp4edit import frame_duration_ticks, set_frame_durations, set_rotation  # noqa: E402


def _mp4(path, n=20, fps=30.0, size=(64, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 10 * i % 250, np.uint8))
    w.release()
    return path


def test_reader_records_container_timestamps_of_a_vfr_file(tmp_path):
    """Frames 0-9 at 30 fps, 10-19 at 15 fps: ``Frame.t`` is each frame's real time, not i / fps."""
    v = _mp4(tmp_path / "vfr.mp4")
    ts, d, n = frame_duration_ticks(v)
    set_frame_durations(v, [d] * 10 + [2 * d] * 10)
    r = VideoReader(v, prefetch=2)
    t = [f.t for f in r]
    want = [i / 30 for i in range(10)] + [(10 + 2 * i) / 30 for i in range(10)]
    assert t == pytest.approx(want, abs=1e-6)
    timing, warnings = r.timing()
    assert timing["frames"] == list(range(20)) and timing["t_s"] == pytest.approx(want, abs=1e-6)
    assert timing["median_fps"] == pytest.approx(30.0) and timing["header_fps"] == pytest.approx(20.0)
    assert not timing["uniform"] and timing["max_jitter_ms"] == pytest.approx(33.333, abs=0.01)
    assert f"{v}: the header frame rate 20 fps disagrees with the frame timestamps (30.000 fps, median interval 33.33 ms)" in warnings[0]
    assert "frame timing is not uniform: 9 of 19 frame intervals differ from the median 33.33 ms by more than 10%" in warnings[1]
    assert "rate 15.00-30.00 fps" in warnings[1]


def test_reader_timestamps_of_the_shared_videos():
    """A range keeps source times; the shared phone clips have a short first frame (its
    ``stts`` entry is 431 of 29973 ticks), which the timing reports as non-uniform."""
    v = shared_video("gait_normal_01.mp4")
    r = VideoReader(v, start=100, end=104)
    assert [f.t for f in r] == pytest.approx([(431 + 89 * 1000 + 999 + (k - 91) * 1000) / 29973 for k in range(100, 104)], abs=1e-4)
    assert r.timing()[0]["uniform"]
    r = VideoReader(v)
    list(r)
    timing, warnings = r.timing()
    assert timing["t_s"][1] == pytest.approx(431 / 29973, abs=1e-5)
    assert timing["median_fps"] == pytest.approx(29.973, abs=0.01) and timing["header_fps"] == pytest.approx(30.224, abs=0.01)
    assert not timing["uniform"] and timing["max_jitter_ms"] == pytest.approx(18.98, abs=0.05)
    assert len(warnings) == 1 and "1 of 123 frame intervals" in warnings[0]  # header within 2 %: no header warning


def test_frame_timing_skipped_frames_and_missing_timestamps():
    # an undecodable frame 3: the 2-frame gap counts as two intervals of the same rate
    t, w = frame_timing([0, 1, 2, 4, 5], [0, 0.04, 0.08, 0.16, 0.2], 25.0)
    assert t["uniform"] and t["median_fps"] == pytest.approx(25.0) and w == []
    t, w = frame_timing([0, 1, 2], [0.0, None, 0.08], 25.0, "v.mp4")
    assert t["source"] == "header" and t["t_s"] == [0.0, 0.04, 0.08]
    assert "v.mp4: the container's frame timestamps are missing or not increasing (first at frame 1); frames are timed as index / header rate 25 fps" in w[0]


def test_probe_reads_rotation_metadata(tmp_path):
    v = _mp4(tmp_path / "phone.mp4", n=3)
    set_rotation(v, 90)
    info = probe(v)
    assert (info.rotation, info.auto_rotated, info.width, info.height) == (90, True, 48, 64)
    assert next(iter(VideoReader(v))).image.shape == (64, 48, 3)  # decoded upright
    assert orientation_warning(info).startswith(f"{v}: portrait video (48x64 px, taller than wide; rotation metadata 90 degrees, auto-rotated upright by the decoder)")
    plain = probe(_mp4(tmp_path / "upright.mp4", n=3, size=(48, 64)))
    assert "no rotation metadata: if the camera was held sideways the picture is turned" in orientation_warning(plain)
    assert orientation_warning(probe(_mp4(tmp_path / "land.mp4", n=3))) is None
    from dataclasses import replace

    side = replace(info, width=64, height=48, auto_rotated=False)
    assert "stored sideways (rotation metadata 90 degrees, not applied by the decoder)" in orientation_warning(side)


# -- main-subject tracker: other persons in view -------------------------------------------


def test_tracker_counts_other_persons():
    from gaitprep.subject import MainSubjectTracker, crowd_stats, reset_crowd_stats

    reset_crowd_stats()
    tr = MainSubjectTracker()
    subject = np.array([[100, 50, 160, 250]])
    bystander = np.array([[400, 60, 450, 240]])
    duplicate = np.array([[102, 52, 161, 248]])  # same person detected twice: not another person
    for k in range(10):
        boxes = np.vstack([subject + [5 * k, 0, 5 * k, 0], bystander] if k < 3 else [subject + [5 * k, 0, 5 * k, 0], duplicate + [5 * k, 0, 5 * k, 0]])
        assert tr.select(boxes, np.array([0.9, 0.8])) == 0
    tr.select(np.array([[0, 0, 10, 10]]), np.array([0.1]))  # nobody confident: not counted
    assert tr.crowd.to_dict() == {"frames": 10, "frames_with_others": 3, "max_persons": 2}
    assert crowd_stats() == tr.crowd.to_dict()
    reset_crowd_stats()
    assert crowd_stats() is None
