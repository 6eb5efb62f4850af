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
