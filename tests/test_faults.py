"""The fault matrix (docs/faults.md): bad input and failures give a clear error naming the
file and the problem, leave no partial output, and with ``--keep-going`` the other clips
still complete.

Video fixtures are made in tmp: a 12-frame 320x180 person clip re-encoded from the shared
``gait_normal_01.mp4`` and derived broken files. One module-scoped ``--keep-going`` run
processes every per-clip fault together (pose + flow, the cheapest backends); input
problems (sheet, config) are checked with dry runs; disk-full and missing weights call the
runner in-process; kill/resume runs Snakemake in the background and kills it mid-write.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import REPO, shared_video, snakemake, write_config
from mp4edit import frame_duration_ticks, set_frame_durations, set_rotation
from gaitprep.healthgait import naming, validate
from gaitprep.errors import VideoError, WeightsNotFoundError
from gaitprep.healthgait.naming import ClipId
from gaitprep.healthgait.writers import TMP_TAG

HEADER = "participant\tgait_type\twalk_class\tclip\tpath\n"
POSE = {"backend": "blazepose", "params": {"model_complexity": 1}}
FLOW = {"engines": [{"backend": "tvl1-opencv", "params": {"scale": 0.25}}], "coding": {"normalize": "fixed", "max_magnitude": 16.0}}


# --------------------------------------------------------------------------- fixtures


def person_frames(n: int, size=(320, 180), first: int = 50) -> list[np.ndarray]:
    """``n`` frames of the shared normal-gait video from ``first`` on, resized to ``size``."""
    cap = cv2.VideoCapture(str(shared_video("gait_normal_01.mp4")))
    out, i = [], 0
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        if i >= first:
            out.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
        i += 1
    cap.release()
    assert len(out) == n
    return out


def write_video(path: Path, frames, fps: float = 30.0, fourcc: str = "mp4v", size=None) -> Path:
    size = size or (frames[0].shape[1], frames[0].shape[0])
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert w.isOpened(), f"cannot write {path}"
    for f in frames:
        w.write(f)
    w.release()
    return path


def corrupt_mjpeg_frames(src: Path, dst: Path, frames: tuple[int, ...]) -> Path:
    """Copy an MJPG AVI, zeroing the JPEG payload of ``frames`` (they no longer decode)."""
    b = bytearray(src.read_bytes())
    soi = [i for i in range(len(b) - 2) if b[i] == 0xFF and b[i + 1] == 0xD8 and b[i + 2] == 0xFF]
    for k in frames:
        s, e = soi[k], soi[k + 1]
        b[s : e - 16] = bytes(e - 16 - s)
    dst.write_bytes(bytes(b))
    return dst


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    person = person_frames(12)
    v = {"person": write_video(d / "person.mp4", person)}
    v["walk"] = write_video(d / "walk.mp4", person_frames(45, first=35))  # 1.5 s: enough for the gait step
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    v["corrupt"] = d / "corrupt.mp4"
    b = v["person"].read_bytes()
    (d / "truncated.mp4").write_bytes(b[: len(b) // 2])
    v["truncated"] = d / "truncated.mp4"
    w = cv2.VideoWriter(str(d / "zero.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    w.release()
    v["zero"] = d / "zero.mp4"
    rng = np.random.default_rng(1)
    v["noperson"] = write_video(d / "noperson.mp4", [np.full((90, 160, 3), 90, np.uint8) + rng.integers(0, 20, (90, 160, 3), dtype=np.uint8) for _ in range(10)])
    v["oneframe"] = write_video(d / "oneframe.mp4", person[:1])
    v["big"] = write_video(d / "big.mp4", [cv2.resize(f, (1280, 720)) for f in person[:8]], fps=24.0)
    mj = write_video(d / "mjpeg.avi", person, fourcc="MJPG")
    v["midcorrupt"] = corrupt_mjpeg_frames(mj, d / "midcorrupt.avi", (5, 6))
    b = mj.read_bytes()
    (d / "truncated.avi").write_bytes(b[: len(b) // 2])
    v["truncated_avi"] = d / "truncated.avi"
    # a phone held upright: landscape pixels stored with a 90-degree display rotation
    v["portrait"] = write_video(d / "portrait.mp4", person[:8])
    set_rotation(v["portrait"], 90)
    v["vfr"] = vfr_video(d / "vfr.mp4", person_frames(24, first=35))
    return v


def vfr_video(path: Path, frames30: list, fps: float = 30.0) -> Path:
    """A variable-frame-rate MP4 with real time preserved: the first half of ``frames30``
    (recorded at ``fps``) at ``fps``, then every other frame of the second half at ``fps / 2``
    (each shown twice as long), as phones do in low light. Frame ``i`` of the file is at the
    time of the source frame it came from."""
    half = len(frames30) // 2
    kept = list(frames30[:half]) + list(frames30[half::2])
    write_video(path, kept, fps=fps)
    ts, d, n = frame_duration_ticks(path)
    set_frame_durations(path, [d] * half + [2 * d] * (n - half))
    return path


def clip(i: int) -> ClipId:
    return ClipId(f"PA{100 + i:03d}", "UGS", "NW-WJ", "1")


def write_sheet(path: Path, rows, header=HEADER) -> Path:
    path.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def config(path: Path, sheet: Path, **over) -> Path:
    base = dict(samples=str(sheet), demo={"enabled": False}, output_dir="res", device="cpu",
                modalities=["pose", "flow"], pose=POSE, flow=FLOW)  # fmt: skip
    base.update(over)
    return write_config(path, **base)


def tree_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{TMP_TAG}*")] if root.exists() else []


# --------------------------------------------------------------------------- one keep-going run

#: name -> (clip number, video fixture)
BATCH = {
    "person": 0, "corrupt": 1, "truncated": 2, "zero": 3, "noperson": 4, "oneframe": 5,
    "big": 6, "midcorrupt": 7, "truncated_avi": 8,
}  # fmt: skip


#: sheet-sanity rows of the batch: name -> (clip number, video fixture, end_frame)
BATCH_SHEET = {
    "past_end": (10, "person", 20),  # end_frame 20 of a 12-frame video; also the same video as clip 0
    "portrait": (12, "portrait", ""),  # phone video: rotation metadata 90 degrees
    "vfr": (13, "vfr", ""),  # 30 fps then 15 fps; walks left-to-right but is clip 1 (right-to-left)
}


@pytest.fixture(scope="module")
def batch(videos, tmp_path_factory):
    """All per-clip faults in one ``snakemake --keep-going`` run (pose + flow), with
    ``end_frame_past_end: warn`` for the sheet-sanity rows."""
    wd = tmp_path_factory.mktemp("batch")
    rows = [(c.participant, c.gait_type, c.walk_class, c.clip, videos[name], "") for name, i in BATCH.items() for c in [clip(i)]]
    rows += [(c.participant, c.gait_type, c.walk_class, c.clip, videos[v], end) for i, v, end in BATCH_SHEET.values() for c in [clip(i)]]
    sheet = write_sheet(wd / "samples.tsv", rows, header=HEADER.rstrip("\n") + "\tend_frame\n")
    cfg = config(wd / "config.yaml", sheet, end_frame_past_end="warn")
    t0 = time.time()
    p = snakemake("--configfile", cfg, "--cores", "2", "--keep-going", cwd=wd, check=False, timeout=900)
    root = wd / "res"
    report = json.loads((root / "run_report.json").read_text())
    return {"proc": p, "root": root, "report": report, "wd": wd, "wall_s": time.time() - t0, "videos": videos}


def _failure(batch, name):
    key = clip(BATCH[name]).key
    return [f for f in batch["report"]["failures"] if f["clip"] == key]


def _job_log(batch, name, job="pose"):
    c = clip(BATCH[name])
    rule = "pose_clip" if job == "pose" else "flow_clip"
    sub = "" if job == "pose" else "TVL1/"
    return (batch["root"] / "logs" / rule / c.participant / c.gait_type / f"{sub}{c.stem}.log").read_text()


def _assert_nothing_written(root: Path, c: ClipId):
    for m, method in (("pose", None), ("flow", "TVL1")):
        assert not naming.output_path(root, c, m, method).exists()
        assert not naming.provenance_path(root, c, m, method).exists()
    assert not [p for p in tree_leftovers(root) if c.participant in str(p)]


@pytest.mark.slow
def test_batch_other_clips_complete(batch):
    """--keep-going: every clip that can be processed is, whatever the others do."""
    p, root, rep = batch["proc"], batch["root"], batch["report"]
    assert p.returncode != 0  # some jobs failed
    assert rep["status"] == "error"
    for name in ("person", "noperson", "big", "midcorrupt", "truncated_avi"):
        c = clip(BATCH[name])
        assert naming.pose_path(root, c).is_file(), name
        assert naming.flow_dir(root, c, "TVL1").is_dir(), name
        assert rep["clips"][c.key]["status"] == "complete", name
    assert not tree_leftovers(root)
    # the tree that was written is valid (failed clips simply absent)
    v = validate.validate_tree(root)
    assert v.ok(), v.format()
    print(f"batch run: {batch['wall_s']:.0f} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, message",
    [
        ("corrupt", "cannot open video (corrupt file or unsupported codec)"),
        ("truncated", "cannot open video (corrupt file or unsupported codec)"),
        ("zero", "cannot open video (corrupt file or unsupported codec)"),
    ],
)
def test_unreadable_videos_fail_clearly(batch, name, message):
    path = str(batch["videos"][name])
    expected = f"{path}: {message}"
    fails = _failure(batch, name)
    assert {f["job"] for f in fails} == {"pose", "flow.TVL1"}
    assert all(f["reason"] == expected for f in fails), fails
    assert f"gaitprep: error: {expected}" in _job_log(batch, name)  # the job log
    assert f"FAILED {clip(BATCH[name]).key} pose: {expected}" in batch["proc"].stderr  # the summary
    _assert_nothing_written(batch["root"], clip(BATCH[name]))


@pytest.mark.slow
def test_no_person(batch):
    c = clip(BATCH["noperson"])
    data = json.loads(naming.pose_path(batch["root"], c).read_text())
    assert len(data) == 10 and all(e["joints"] is None for e in data)
    assert len(list(naming.flow_dir(batch["root"], c, "TVL1").glob("*.png"))) == 9
    warn = [w for w in batch["report"]["warnings"] if w["clip"] == c.key]
    assert any("no person found in any of the 10 frames" in w["message"] for w in warn), warn
    assert f"WARNING {c.key} pose: no person found in any of the 10 frames" in batch["proc"].stderr


@pytest.mark.slow
def test_one_frame_clip(batch):
    """A clip too short for flow: pose is written; flow fails naming the video and the cause."""
    c = clip(BATCH["oneframe"])
    assert len(json.loads(naming.pose_path(batch["root"], c).read_text())) == 1
    fails = _failure(batch, "oneframe")
    assert [f["job"] for f in fails] == ["flow.TVL1"]
    assert f"{batch['videos']['oneframe']}: " in fails[0]["reason"] and "at least 2 frames" in fails[0]["reason"]
    assert not naming.flow_dir(batch["root"], c, "TVL1").exists()


@pytest.mark.slow
def test_short_clip_is_processed_with_warning(batch):
    c = clip(BATCH["person"])  # 12 frames at 30 fps = 0.4 s
    rep = batch["report"]
    assert rep["clips"][c.key]["jobs"]["pose"]["frames"] == 12
    assert len(list(naming.flow_dir(batch["root"], c, "TVL1").glob("*.png"))) == 11
    assert any(w["clip"] == c.key and "0.40 s long (12 frame(s) at 30 fps" in w["message"] and "shorter than 1 s" in w["message"] for w in rep["warnings"])


@pytest.mark.slow
def test_other_resolution_and_fps(batch):
    """1280x720 at 24 fps: outputs keep the source size; provenance records the real fps."""
    c = clip(BATCH["big"])
    root = batch["root"]
    flows = sorted(naming.flow_dir(root, c, "TVL1").glob("*.png"))
    assert len(flows) == 7
    assert cv2.imread(str(flows[0])).shape == (720, 1280, 3)
    data = json.loads(naming.pose_path(root, c).read_text())
    xs = [j["x"] for e in data if e["joints"] for j in e["joints"].values()]
    assert xs and max(xs) <= 1280 and max(xs) > 320  # full-frame px of the 1280-wide source
    prov = json.loads(naming.provenance_path(root, c, "pose").read_text())
    assert prov["video"]["fps"] == pytest.approx(24.0) and (prov["video"]["width"], prov["video"]["height"]) == (1280, 720)


@pytest.mark.slow
def test_undecodable_frames_in_the_middle(batch):
    """Recoverable: the rest is processed; the skipped frames are in the log and run_report.json."""
    c = clip(BATCH["midcorrupt"])
    rep = batch["report"]
    assert rep["clips"][c.key]["status"] == "complete"
    assert rep["clips"][c.key]["jobs"]["pose"]["frames_skipped"] == [5, 6]
    assert rep["clips"][c.key]["jobs"]["flow.TVL1"]["frames_skipped"] == [5, 6]
    assert rep["totals"]["frames_skipped"] >= 4
    log = _job_log(batch, "midcorrupt")
    assert "frames [5, 6] could not be decoded and were skipped" in log
    assert f"skipped frames {c.key} pose: [5, 6]" in batch["proc"].stderr


@pytest.mark.slow
def test_undecodable_frames_keep_frame_timing(batch):
    """Pose keeps one element per source frame (null joints where undecodable); no flow
    image spans the gap (flow NNN is always frame NNN -> NNN+1)."""
    c = clip(BATCH["midcorrupt"])
    data = json.loads(naming.pose_path(batch["root"], c).read_text())
    assert [e["frame"] for e in data] == list(range(12))
    assert data[5]["joints"] is None and data[6]["joints"] is None
    flows = sorted(int(p.stem) for p in naming.flow_dir(batch["root"], c, "TVL1").glob("*.png"))
    assert flows == [0, 1, 2, 3, 7, 8, 9, 10]


@pytest.mark.slow
def test_truncated_avi_decodes_what_is_there(batch):
    """An AVI cut in half still opens: its first frames are processed and the shortfall is reported."""
    c = clip(BATCH["truncated_avi"])
    rep = batch["report"]
    frames = rep["clips"][c.key]["jobs"]["pose"]["frames"]
    assert 0 < frames < 12
    msgs = [w["message"] for w in rep["warnings"] if w["clip"] == c.key]
    assert any(f"decoded {frames} of the 12 frames the container reports" in m for m in msgs), msgs


# --------------------------------------------------------------------------- timing, orientation, sheet sanity (issue 16)


def _warnings(batch, i):
    return [w["message"] for w in batch["report"]["warnings"] if w["clip"] == clip(i).key]


@pytest.mark.slow
def test_variable_frame_rate_timed_by_container(batch):
    """30 fps then 15 fps (real time kept): provenance keeps each frame's container timestamp
    (what gait times steps with); the header rate that disagrees and, for flow, the uneven
    spacing are warnings in the job log, the provenance and the run report."""
    i = BATCH_SHEET["vfr"][0]
    c, root, path = clip(i), batch["root"], batch["videos"]["vfr"]
    tm = json.loads(naming.provenance_path(root, c, "pose").read_text())["timing"]
    assert tm["frames"] == list(range(18))
    want = [k / 30 for k in range(12)] + [(12 + 2 * k) / 30 for k in range(6)]
    assert tm["t_s"] == pytest.approx(want, abs=1e-4)
    assert tm["median_fps"] == pytest.approx(30.0, rel=1e-3) and not tm["uniform"] and tm["max_jitter_ms"] == pytest.approx(33.3, abs=0.2)
    assert tm["header_fps"] == pytest.approx(18 / 0.8, rel=0.01)  # the container's average
    msgs = _warnings(batch, i)
    header = f"{path}: the header frame rate {tm['header_fps']:g} fps disagrees with the frame timestamps (30.000 fps"
    assert any(m.startswith(header) for m in msgs), msgs
    flow = [m for m in msgs if "frame timing is not uniform: 5 of 17 frame intervals" in m]
    assert flow and "rate 15.00-30.00 fps" in flow[0] and "optical flow assumes a constant frame rate" in flow[0]
    flow_rec = json.loads(naming.provenance_path(root, c, "flow", "TVL1").read_text())
    assert flow[0] in flow_rec["warnings"]
    assert header in (root / "logs" / "pose_clip" / c.participant / c.gait_type / f"{c.stem}.log").read_text()
    assert len(list(naming.flow_dir(root, c, "TVL1").glob("*.png"))) == 17


@pytest.mark.slow
def test_portrait_video_is_named_sideways(batch):
    i = BATCH_SHEET["portrait"][0]
    c, root = clip(i), batch["root"]
    msgs = _warnings(batch, i)
    want = f"{batch['videos']['portrait']}: portrait video (180x320 px, taller than wide; rotation metadata 90 degrees, auto-rotated upright by the decoder)"
    assert any(m.startswith(want) for m in msgs), msgs
    assert [ln for ln in batch["proc"].stderr.splitlines() if ln.startswith(f"  WARNING {c.key} ") and want in ln], batch["proc"].stderr[-3000:]
    assert cv2.imread(str(next(naming.flow_dir(root, c, "TVL1").glob("*.png")))).shape == (320, 180, 3)


@pytest.mark.slow
def test_end_frame_past_end_as_warning(batch):
    """``end_frame_past_end: warn``: the clip is processed to the video's end; the sheet check
    names the container's length and the run report the frames actually read."""
    i = BATCH_SHEET["past_end"][0]
    c, v = clip(i), batch["videos"]["person"]
    msgs = _warnings(batch, i)
    assert f"{c.key}: end_frame 20 is past the end of {v}, which has 12 frames (the container's count; end_frame is exclusive, at most 12); the clip is processed to frame 11" in msgs, msgs
    assert f"end_frame 20 is past the end of {v}: the container reports 12 frames and 12 were read from frame 0 (the clip ends at frame 11)" in msgs
    assert len(json.loads(naming.pose_path(batch["root"], c).read_text())) == 12


@pytest.mark.slow
def test_same_video_under_two_participants(batch):
    v = batch["videos"]["person"].resolve()
    a, b = clip(0).key, clip(BATCH_SHEET["past_end"][0]).key
    want = f"video {v} is used by 2 clips (participants PA100, PA110): {a}, {b}"
    assert want in _warnings(batch, 0) and want in _warnings(batch, BATCH_SHEET["past_end"][0])
    assert f"WARNING {a} sheet: {want}" in batch["proc"].stderr


@pytest.mark.slow
def test_clip_number_contradicts_walking_direction(batch):
    i = BATCH_SHEET["vfr"][0]
    msgs = [m for m in _warnings(batch, i) if m.startswith("clip 1 should walk right-to-left")]
    assert msgs and "but the walker moves left-to-right (pelvis x" in msgs[0] and "clip numbers swapped in the sheet" in msgs[0], _warnings(batch, i)


@pytest.mark.slow
def test_end_frame_past_end_is_an_error(videos, tmp_path):
    """Default: an end_frame past the video's end stops the run before any job (dry run too)."""
    v = videos["person"]
    sheet = write_sheet(tmp_path / "s.tsv", [("PA100", "UGS", "NW-WJ", "1", v, 20)], header=HEADER.rstrip("\n") + "\tend_frame\n")
    r = _dry_run(tmp_path, config(tmp_path / "c.yaml", sheet))
    assert r.returncode != 0
    assert f"PA100/UGS/NW-WJ_1: end_frame 20 is past the end of {v}, which has 12 frames" in r.stdout + r.stderr
    assert "set end_frame_past_end: warn" in r.stdout + r.stderr
    assert not (tmp_path / "res").exists()


# --------------------------------------------------------------------------- input problems


def _dry_run(wd: Path, cfg: Path) -> subprocess.CompletedProcess:
    return snakemake("--configfile", cfg, "--cores", "1", "--dry-run", cwd=wd, check=False, timeout=300)


@pytest.mark.slow
def test_sample_sheet_problems_all_reported_before_any_job(videos, tmp_path):
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    p = videos["person"]
    rows = [
        ("PA100", "UGS", "NW-WJ", "1", p),
        ("PA10X", "UGS", "NW-WJ", "1", p),  # bad participant ID
        ("PA100", "UGS", "NW-WJ", "1", p),  # duplicate clip
        ("PA101", "UGS", "NW-WJ", "1", tmp_path / "nothere.mp4"),  # missing file
        ("PA102", "UGS", "NW-WJ", "1", tmp_path / "clip.gif"),  # unsupported extension
        ("PA103", "FGS", "NW-WJ", "1", p),  # walk class vs gait type
    ]
    sheet = write_sheet(tmp_path / "samples.tsv", rows)
    r = _dry_run(tmp_path, config(tmp_path / "c.yaml", sheet))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert f"sample sheet {sheet} has 5 problem(s):" in out
    for needle in (
        f"{sheet} line 3: bad participant ID 'PA10X' (expected PA followed by 3 or more digits",
        f"{sheet} line 4: duplicate clip PA100/UGS/NW-WJ_1 (also on line 2)",
        f"{sheet} line 5: file {tmp_path / 'nothere.mp4'} does not exist",
        f"{sheet} line 6: {tmp_path / 'clip.gif'}: unsupported extension '.gif' (expected one of .mp4, .avi, .mov, .mkv)",
        f"{sheet} line 7: walk class 'NW-WJ' is inconsistent with gait type 'FGS'",
    ):
        assert needle in out, needle
    assert not (tmp_path / "res").exists()


@pytest.mark.slow
def test_sample_sheet_missing_column(videos, tmp_path):
    sheet = write_sheet(tmp_path / "s.tsv", [("PA100", "UGS", "NW-WJ", videos["person"])], header="participant\tgait_type\twalk_class\tpath\n")
    r = _dry_run(tmp_path, config(tmp_path / "c.yaml", sheet))
    assert r.returncode != 0
    assert f"sample sheet {sheet}: missing column(s) clip (required: participant, gait_type, walk_class, clip, path" in r.stdout + r.stderr


@pytest.mark.slow
def test_config_fails_schema(videos, tmp_path):
    sheet = write_sheet(tmp_path / "s.tsv", [("PA100", "UGS", "NW-WJ", "1", videos["person"])])
    r = _dry_run(tmp_path, config(tmp_path / "c.yaml", sheet, device="gpu0"))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "'gpu0' does not match '^(auto|cpu|cuda(:[0-9]+)?)$'" in out and "device" in out
    r = _dry_run(tmp_path, config(tmp_path / "c2.yaml", sheet, modalities=["pose", "depth"]))
    assert r.returncode != 0 and "'depth' is not one of" in r.stdout + r.stderr


def _as_nobody_available() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def test_unreadable_video(videos):
    """chmod 000 does not stop root, so as root the check runs as user nobody (setpriv)."""
    d = Path(tempfile.mkdtemp(prefix="gaitprep-perm-"))
    try:
        os.chmod(d, 0o755)
        v = d / "locked.mp4"
        shutil.copy(videos["person"], v)
        os.chmod(v, 0)
        sheet = write_sheet(d / "s.tsv", [("PA100", "UGS", "NW-WJ", "1", v)])
        os.chmod(sheet, 0o644)
        cmd = [sys.executable, "-m", "gaitprep", "samples", "--sheet", str(sheet)]
        if os.geteuid() == 0:
            if not _as_nobody_available():
                pytest.skip("running as root (chmod 000 does not prevent reading) and setpriv is missing")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if os.geteuid() == 0 and "Permission denied" in r.stderr and "gaitprep:" not in r.stderr:
            pytest.skip(f"user nobody cannot run the venv's python here: {r.stderr[-300:]}")
        assert r.returncode == 1, r.stderr
        assert f"{sheet} line 2: {v}: permission denied (not readable)" in r.stderr
        # and a reader opening it directly names the file too
        if os.geteuid() != 0:
            with pytest.raises(VideoError, match="permission denied"):
                from gaitprep.video import probe

                probe(v)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- weights, disk, calibration


def test_missing_model_weights_runner(videos, tmp_path):
    """Weights that are not installed: fail fast naming the file; nothing written."""
    from gaitprep.runner import JobSpec, run_modality

    c = clip(0)
    with pytest.raises(WeightsNotFoundError, match=r"pose_landmark_heavy\.tflite.*not installed.*does not download"):
        run_modality("pose", c, videos["person"], tmp_path, JobSpec(backend="blazepose", params={"model_complexity": 2}, device="cpu", progress=False))
    assert not any(tmp_path.rglob("*.json"))


def test_missing_model_weights_yolo(videos, tmp_path):
    pytest.importorskip("ultralytics")
    try:
        from gaitprep.backends import get_backend_class

        get_backend_class("silhouette", "yolov8-seg")
    except ImportError:
        pytest.skip("the yolov8-seg backend is not in this build yet")
    from gaitprep.runner import JobSpec, run_modality

    spec = JobSpec(backend="yolov8-seg", params={}, device="cpu", models_dir=str(tmp_path / "models"), progress=False)
    with pytest.raises(WeightsNotFoundError) as e:
        run_modality("silhouette", clip(0), videos["person"], tmp_path / "res", spec)
    assert ".pt" in str(e.value) and str(tmp_path / "models") in str(e.value)
    assert not (tmp_path / "res" / "silhouette").exists() or not any((tmp_path / "res" / "silhouette").rglob("*.jpg"))


def test_disk_full_while_writing_frames(videos, tmp_path, monkeypatch):
    """cv2.imwrite returns False when the disk is full: the job fails naming the folder, no
    partial folder, no temporaries, no provenance."""
    import gaitprep.healthgait.writers as writers
    from gaitprep.runner import JobSpec, run_modality

    real, n = cv2.imwrite, {"calls": 0}

    def full_after_3(path, img, params=None):
        n["calls"] += 1
        return False if n["calls"] > 3 else real(path, img, params or [])

    monkeypatch.setattr(writers.cv2, "imwrite", full_after_3)
    c = clip(0)
    spec = JobSpec(backend="tvl1-opencv", params={"scale": 0.25}, device="cpu", progress=False)
    with pytest.raises(OSError) as e:
        run_modality("flow", c, videos["person"], tmp_path, spec)
    out = naming.flow_dir(tmp_path, c, "TVL1")
    assert f"{out}: could not write frame 3 (disk full or not writable?)" in str(e.value)
    assert not out.exists() and not tree_leftovers(tmp_path)
    assert not naming.provenance_path(tmp_path, c, "flow", "TVL1").exists()


def test_disk_full_while_writing_json(videos, tmp_path, monkeypatch):
    import gaitprep.healthgait.writers as writers
    from gaitprep.runner import JobSpec, run_modality

    def enospc(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writers.json, "dump", enospc)
    c = clip(0)
    with pytest.raises(OSError) as e:
        run_modality("pose", c, videos["person"], tmp_path, JobSpec(backend="blazepose", device="cpu", progress=False))
    assert e.value.errno == errno.ENOSPC
    assert str(naming.pose_path(tmp_path, c)) in str(e.value) and "No space left on device" in str(e.value)
    assert not naming.pose_path(tmp_path, c).exists() and not tree_leftovers(tmp_path)


@pytest.fixture
def tiny_fs():
    """A 64 KiB tmpfs (root only); skipped where mounting is not allowed."""
    d = Path(tempfile.mkdtemp(prefix="gaitprep-full-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        d.rmdir()
        pytest.skip(f"cannot mount a tiny tmpfs here ({r.stderr.strip() or 'not root'})")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)
        d.rmdir()


@pytest.mark.slow
def test_disk_full_real(videos, tiny_fs):
    """A real ENOSPC: ``gaitprep run flow`` onto a 64 KiB filesystem."""
    c = clip(0)
    big = write_video(tiny_fs.parent / f"{tiny_fs.name}.mp4", [cv2.resize(f, (640, 360)) for f in person_frames(6)])
    try:
        spec = json.dumps({"backend": "tvl1-opencv", "params": {"scale": 0.25}, "device": "cpu", "progress": False})
        cmd = [sys.executable, "-m", "gaitprep", "run", "flow", "--clip", c.key, "--video", str(big), "--root", str(tiny_fs), "--spec", spec]
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "src")), timeout=300)
    finally:
        big.unlink()
    assert r.returncode == 1
    out = naming.flow_dir(tiny_fs, c, "TVL1")
    assert f"gaitprep: error: {out}" in r.stderr and ("disk full" in r.stderr or "No space left on device" in r.stderr), r.stderr[-2000:]
    assert not out.exists() and not tree_leftovers(tiny_fs)


def _has_gait_rules() -> bool:
    return "rule gait_clip" in (REPO / "workflow" / "rules" / "gait.smk").read_text()


@pytest.fixture(scope="module")
def gait_run(videos, tmp_path_factory):
    """pose + gait for A (1.5 s, px_per_cm), B (1.5 s, no calibration: height method without
    participants_measures) and C (0.4 s, px_per_cm), with --keep-going."""
    if not _has_gait_rules():
        pytest.skip("the gait rules (gait_clip) are not merged yet")
    wd = tmp_path_factory.mktemp("gait")
    a, b, c = clip(0), clip(1), clip(2)
    rows = [(x.participant, x.gait_type, x.walk_class, x.clip, videos[v]) for x, v in ((a, "walk"), (b, "walk"), (c, "person"))]
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    gait = dict(base.get("gait") or {})
    px = {"method": "px_per_cm", "px_per_cm": 2.0}
    gait["calibration"] = {"default": {"method": "height"}, "clips": {a.key: px, c.key: px}}
    cfg = config(wd / "c.yaml", write_sheet(wd / "s.tsv", rows), modalities=["pose", "gait"], gait=gait, participants_measures=None)
    r = snakemake("--configfile", cfg, "--cores", "2", "--keep-going", cwd=wd, check=False)
    root = wd / "res"
    return {"proc": r, "root": root, "report": json.loads((root / "run_report.json").read_text())}


@pytest.mark.slow
def test_missing_calibration_for_gait(gait_run):
    """B's gait job fails naming what is missing; A completes; no estimation table."""
    r, root, rep = gait_run["proc"], gait_run["root"], gait_run["report"]
    a, b = clip(0), clip(1)
    assert r.returncode != 0
    fails = [f for f in rep["failures"] if f["clip"] == b.key]
    assert len(fails) == 1 and fails[0]["rule"] == "gait_clip", rep["failures"]
    msg = "height calibration: neither 'height_cm' nor a 'participants_measures' CSV is given"
    assert msg in fails[0]["reason"]
    assert f"FAILED {b.key} gait_clip: {msg}" in r.stderr
    assert naming.gait_summary_path(root, a).is_file() and not naming.gait_summary_path(root, b).exists()
    assert not (root / naming.ESTIMATION_CSV).exists()
    assert not [f for f in rep["failures"] if f["clip"] == a.key]


@pytest.mark.slow
def test_gait_on_clip_shorter_than_one_second(gait_run):
    """Degenerate data is not an error for the gait step: a 0.4 s clip gets a summary (NaN parameters)."""
    c = clip(2)
    assert not [f for f in gait_run["report"]["failures"] if f["clip"] == c.key], gait_run["report"]["failures"]
    assert naming.gait_summary_path(gait_run["root"], c).is_file()


# --------------------------------------------------------------------------- killed, resumed


@pytest.mark.slow
def test_killed_mid_write_then_resumed(videos, tmp_path):
    """A run finishes clip A; a second run (A + B) is killed (SIGKILL, whole process group)
    while B's flow folder is being written: B's final folder does not exist (only a
    ``.tmp-<pid>`` sibling, which ``validate`` flags); after ``--unlock`` a rerun with
    ``--rerun-incomplete`` completes B, removes the temporary and does not redo A."""
    long = write_video(tmp_path / "long.mp4", person_frames(20))
    row_a = ("PA100", "UGS", "NW-WJ", "1", videos["person"])
    row_b = ("PA101", "UGS", "NW-WJ", "1", long)
    cfg = config(tmp_path / "c.yaml", write_sheet(tmp_path / "s.tsv", [row_a]), modalities=["flow"])
    root = tmp_path / "res"
    a, b = naming.flow_dir(root, clip(0), "TVL1"), naming.flow_dir(root, clip(1), "TVL1")
    snakemake("--configfile", cfg, "--cores", "1", cwd=tmp_path)
    assert a.is_dir()
    a_prov = naming.provenance_path(root, clip(0), "flow", "TVL1")
    a_stamp = (a_prov.stat().st_mtime_ns, a_prov.read_text())
    write_sheet(tmp_path / "s.tsv", [row_a, row_b])
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(cfg), "--cores", "1", "--keep-going"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            tmps = list(b.parent.glob(f"{b.name}{TMP_TAG}*")) if b.parent.exists() else []
            if tmps and len(list(tmps[0].glob("*.png"))) >= 2:
                break
            time.sleep(0.05)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    if b.exists():
        pytest.fail("clip B finished before it could be killed (machine too fast for this clip length?)")
    assert tree_leftovers(root), "no temporary found: the kill came before B started writing"
    v = validate.validate_tree(root)
    assert any("leftover temporary from an interrupted job" in i.message for i in v.errors)
    # the lock of the killed run stays: Snakemake asks for --unlock
    r = snakemake("--configfile", cfg, "--cores", "1", cwd=tmp_path, check=False)
    assert r.returncode != 0 and "--unlock" in r.stdout + r.stderr
    snakemake("--configfile", cfg, "--unlock", cwd=tmp_path)
    snakemake("--configfile", cfg, "--cores", "1", "--rerun-incomplete", cwd=tmp_path)
    assert b.is_dir() and len(list(b.glob("*.png"))) == 19
    assert not tree_leftovers(root)
    assert (a_prov.stat().st_mtime_ns, a_prov.read_text()) == a_stamp  # A not redone
    assert validate.validate_tree(root).ok()
    rep = json.loads((root / "run_report.json").read_text())
    assert rep["status"] == "success" and rep["totals"]["clips_complete"] == 2


# --------------------------------------------------------------------------- concurrency

_WRITER_A = """
import sys, time
from pathlib import Path
import numpy as np
from gaitprep.healthgait.writers import FrameDirWriter
final, d = Path(sys.argv[1]), Path(sys.argv[2])
with FrameDirWriter(final, ".png") as w:
    w.write(0, np.zeros((8, 8), np.uint8))
    (d / "a_started").touch()
    t = time.time() + 60
    while not (d / "b_done").exists() and time.time() < t:
        time.sleep(0.02)
    for i in range(1, 5):
        w.write(i, np.full((8, 8), 255, np.uint8))
print("A ok")
"""
_WRITER_B = """
import sys, time
from pathlib import Path
import numpy as np
from gaitprep.healthgait.writers import FrameDirWriter
final, d = Path(sys.argv[1]), Path(sys.argv[2])
t = time.time() + 60
while not (d / "a_started").exists() and time.time() < t:
    time.sleep(0.02)
with FrameDirWriter(final, ".png") as w:
    for i in range(3):
        w.write(i, np.zeros((8, 8), np.uint8))
(d / "b_done").touch()
print("B ok")
"""


def _py(code: str, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_same_output_written_by_two_live_processes(tmp_path):
    """Two processes write one output folder at once: the second one's stale-temp cleanup
    leaves the first one's live ``.tmp-<pid>`` alone (it used to delete it, and the first job
    then failed with 'could not write frame 1 (disk full or not writable?)')."""
    final = tmp_path / "res" / "NW-WJ_1_YOLOV8"
    a = _py(_WRITER_A, final, tmp_path)
    b = _py(_WRITER_B, final, tmp_path)
    out_b, err_b = b.communicate(timeout=120)
    out_a, err_a = a.communicate(timeout=120)
    assert a.returncode == 0 and "A ok" in out_a, err_a
    assert b.returncode == 0 and "B ok" in out_b, err_b
    assert f"another live process (pid {a.pid}) is writing this output now" in err_b
    assert sorted(p.name for p in final.iterdir()) == [f"{i:03d}.png" for i in range(5)]  # A finished last
    assert not tree_leftovers(tmp_path / "res")


def test_stale_temp_of_dead_process_is_removed(tmp_path):
    from gaitprep.healthgait.writers import write_json_atomic

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"x.json{TMP_TAG}{dead.pid}"
    stale.write_text("left by a killed job")
    write_json_atomic(tmp_path / "x.json", [1])
    assert not stale.exists() and (tmp_path / "x.json").read_text() == "[1]"


@pytest.mark.slow
def test_two_workflows_on_one_output_dir(videos, tmp_path):
    """Two checkouts (two Snakemake working directories) with one absolute ``output_dir``:
    while the first runs (held still with SIGSTOP once it has the lock, so that the test does
    not depend on the machine's speed), the second stops before any job, naming the first's
    host, pid and working directory; resumed, the first completes and releases the lock."""
    import socket

    from gaitprep.lock import LOCK_NAME

    root = tmp_path / "shared_out"
    wds = [tmp_path / "checkout_a", tmp_path / "checkout_b"]
    cfgs = []
    for wd in wds:
        wd.mkdir()
        sheet = write_sheet(wd / "s.tsv", [("PA100", "UGS", "NW-WJ", "1", videos["walk"])])
        cfgs.append(config(wd / "c.yaml", sheet, output_dir=str(root), modalities=["flow"]))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(wds[0]), "--configfile", str(cfgs[0]), "--cores", "1"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    a = subprocess.Popen(cmd, cwd=wds[0], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stopped = False
    try:
        deadline = time.time() + 120
        while not (root / LOCK_NAME).exists() and a.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        os.killpg(a.pid, signal.SIGSTOP)
        stopped = True
        assert (root / LOCK_NAME).exists(), "the first run never took the lock (or finished at once)"
        holder = json.loads((root / LOCK_NAME).read_text())
        b = snakemake("--configfile", cfgs[1], "--cores", "1", cwd=wds[1], check=False)
    finally:
        if stopped:
            os.killpg(a.pid, signal.SIGCONT)
        out_a, err_a = a.communicate(timeout=600)
    assert b.returncode != 0
    assert holder["pid"] == a.pid
    msg = f"gaitprep: error: {root}: output folder is in use by another gaitprep run (host {socket.gethostname()}, pid {a.pid}"
    assert msg in b.stderr and f"in {wds[0]}; lock file {root / LOCK_NAME})" in b.stderr, b.stderr[-3000:]
    assert a.returncode == 0, err_a[-3000:]
    assert len(list(naming.flow_dir(root, clip(0), "TVL1").glob("*.png"))) == 44
    assert not (root / LOCK_NAME).exists() and not tree_leftovers(root)
    assert json.loads((root / "run_report.json").read_text())["status"] == "success"


@pytest.mark.slow
def test_batch_tree_foreign_files_reported(batch):
    """Every hidden file Snakemake leaves inside the Health&Gait folders is reported by validate."""
    root = batch["root"]
    hidden = {str(p.relative_to(root)) for d in naming.MODALITY_DIRS.values() if (root / d).is_dir() for p in (root / d).rglob(".*")}
    v = validate.validate_tree(root)
    foreign = {i.path for i in v.issues if i.message.startswith("foreign file in the Health&Gait layout")}
    assert foreign == hidden
    assert v.ok()


_HOLDER = """
import sys, time
from gaitprep.lock import acquire
acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_second_run_on_same_output_dir_is_refused(videos, tmp_path):
    """A live run (here a real process holding the lock) owns output_dir: a second Snakemake
    run stops before any job, naming host, pid and the lock file, and leaves the lock alone;
    a ``--dry-run`` is not blocked and takes no lock."""
    import socket

    from gaitprep.lock import LOCK_NAME

    cfg = config(tmp_path / "c.yaml", write_sheet(tmp_path / "s.tsv", [("PA100", "UGS", "NW-WJ", "1", videos["person"])]), modalities=["flow"])
    root = tmp_path / "res"
    holder = _py(_HOLDER, root)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = root / LOCK_NAME
        before = lock.read_text()
        dry = _dry_run(tmp_path, cfg)
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert lock.read_text() == before
        r = snakemake("--configfile", cfg, "--cores", "1", cwd=tmp_path, check=False)
        assert r.returncode != 0
        msg = f"gaitprep: error: {root}: output folder is in use by another gaitprep run (host {socket.gethostname()}, pid {holder.pid}"
        assert msg in r.stderr and f"lock file {lock}" in r.stderr, r.stderr[-3000:]
        assert not (root / "optical_flow").exists() and not (root / "provenance").exists()
        assert lock.read_text() == before  # the holder's lock is not touched
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_is_taken_over(tmp_path, capsys):
    """The holder died (a killed run): the next run says so and takes the lock; a holder on
    another host is never taken over (its pid cannot be checked from here)."""
    import socket

    from gaitprep import lock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "started": "T0", "cwd": "/x"}))
    lock.acquire(tmp_path)
    err = capsys.readouterr().err
    assert f"{tmp_path / lock.LOCK_NAME}: removing the stale lock of a run that is no longer alive (host {socket.gethostname()}, pid {dead.pid}, started T0, in /x); taking it" in err
    assert lock.read_lock(tmp_path)["pid"] == os.getpid()
    assert lock.release(tmp_path) and not (tmp_path / lock.LOCK_NAME).exists()
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps({"host": "elsewhere", "pid": dead.pid, "started": "T0", "cwd": "/x"}))
    with pytest.raises(lock.LockError, match=r"in use by another gaitprep run \(host elsewhere, pid \d+"):
        lock.acquire(tmp_path)
    assert not lock.release(tmp_path) and (tmp_path / lock.LOCK_NAME).exists()  # not ours


# --------------------------------------------------------------------------- a second person


class TwoPersonSilhouette:
    """A stand-in for a multi-person backend (YOLOv8-seg, DensePose): it passes two
    detections per frame to gaitprep's :class:`~gaitprep.subject.MainSubjectTracker`, the
    bystander in ``share`` of the frames, and masks the subject's box."""

    modality, name = "silhouette", "two-person-test"

    def __init__(self, params, ctx):
        self.share = float((params or {}).get("share", 0.5))

    def run(self, frames):
        from gaitprep.results import MaskResult
        from gaitprep.subject import MainSubjectTracker

        tr = MainSubjectTracker()
        for k, f in enumerate(frames):
            h, w = f.image.shape[:2]
            subject = [w * 0.1 + k, h * 0.2, w * 0.3 + k, h * 0.9]
            boxes = [subject] + ([[w * 0.6, h * 0.3, w * 0.75, h * 0.8]] if k < self.share * 12 else [])
            i = tr.select(np.array(boxes), np.array([0.9] * len(boxes)))
            m = np.zeros((h, w), bool)
            x0, y0, x1, y1 = (int(v) for v in boxes[i])
            m[y0:y1, x0:x1] = True
            yield MaskResult(f.index, m)

    def provenance(self):
        return {"backend": self.name, "params": {"share": self.share}}

    def close(self):
        pass


def test_second_person_in_view_is_reported(videos, tmp_path, monkeypatch):
    """A tracker that sees another person in 6 of 12 frames: provenance ``stats.persons``
    counts it, the job warns and the run report shows it; a lone walker gives no warning."""
    from gaitprep.backends import REGISTRY
    from gaitprep.reporting.run_report import build_report
    from gaitprep.runner import JobSpec, run_modality

    monkeypatch.setitem(REGISTRY["silhouette"], "two-person-test", "test_faults:TwoPersonSilhouette")
    c, lone = clip(0), clip(1)
    rec = run_modality("silhouette", c, videos["person"], tmp_path, JobSpec(backend="two-person-test", params={"share": 0.5}, device="cpu", progress=False))
    assert rec["stats"]["persons"] == {"frames": 12, "frames_with_others": 6, "max_persons": 2}
    want = f"{videos['person']}: another person is in view in 6 of the 12 frames with a subject (50%; up to 2 persons in one frame)"
    assert any(w.startswith(want) for w in rec["warnings"]), rec["warnings"]
    rec = run_modality("silhouette", lone, videos["person"], tmp_path, JobSpec(backend="two-person-test", params={"share": 0}, device="cpu", progress=False))
    assert rec["stats"]["persons"]["frames_with_others"] == 0 and not [w for w in rec["warnings"] if "another person" in w]
    rep = build_report(tmp_path)
    assert [w["clip"] for w in rep["warnings"] if "another person is in view" in w["message"]] == [c.key]
    assert rep["clips"][c.key]["jobs"]["silhouette"]["persons"]["frames_with_others"] == 6
    assert len(list(naming.silhouette_dir(tmp_path, c).glob("*.jpg"))) == 12


def test_old_temp_of_a_reused_pid_is_removed(tmp_path):
    """A temporary named after a live pid but untouched for longer than STALE_TEMP_S is a
    killed job's whose pid was reused: removed."""
    from gaitprep.healthgait import writers

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        old = tmp_path / f"x.json{TMP_TAG}{live.pid}"
        old.write_text("left by a killed job")
        t = time.time() - writers.STALE_TEMP_S - 60
        os.utime(old, (t, t))
        assert writers.clean_stale_temps(tmp_path / "x.json") == [] and not old.exists()
        fresh = tmp_path / f"y.json{TMP_TAG}{live.pid}"
        fresh.write_text("being written")
        assert writers.clean_stale_temps(tmp_path / "y.json") == [fresh] and fresh.exists()
    finally:
        live.kill()
        live.wait()
