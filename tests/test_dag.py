"""The DAG: one BlazePose pass per clip shared by pose and silhouette, pose-parts from the
pose JSON and silhouettes, and reruns limited to what a changed setting touches.

The rerun matrix runs the workflow once on gait_normal_01 (pose, silhouette, segmentation,
gait; flow is independent of all three and left out to save time), then dry-runs with one
setting changed (Snakemake's default --rerun-triggers) and asserts exactly which jobs run.
"""

from __future__ import annotations

import re

import pytest

from conftest import shared_video, snakemake, write_config

CLIP = "PA900/UGS/NW-WoJ_2"


def scheduled(dry: str) -> dict[str, int]:
    """rule -> job count of a dry run's "Job stats" table (``all`` left out)."""
    if "Job stats:" not in dry:
        return {}
    rows = re.findall(r"^(\w+)\s+(\d+)$", dry.split("Job stats:")[1].split("total")[0], flags=re.M)
    return {k: int(v) for k, v in rows if k != "all"}


def _config(d, **over):
    sheet = d / "samples.tsv"
    sheet.write_text(f"participant\tgait_type\twalk_class\tclip\tpath\nPA900\tUGS\tNW-WoJ\t2\t{shared_video('gait_normal_01.mp4')}\n")
    base = dict(samples=str(sheet), demo={"enabled": False}, output_dir=str(d / "tree"), device="cpu",
                modalities=["pose", "silhouette", "segmentation", "gait"],
                gait={"method": "zeni", "calibration": {"default": {"method": "px_per_cm", "px_per_cm": 2.0}}})  # fmt: skip
    base.update(over)
    return write_config(d / "config.yaml", **base)


def _dry(d, **over) -> dict[str, int]:
    cfg = _config(d, **over)
    p = snakemake("-n", "--configfile", cfg, cwd=d)
    return scheduled(p.stdout)


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("dag")
    snakemake("--cores", "2", "--configfile", _config(d), cwd=d)
    yield d
    _config(d)  # leave the original config


@pytest.mark.slow
def test_first_run_is_one_blazepose_pass(done_run):
    import json

    prov = done_run / "tree" / "provenance" / "PA900" / "UGS"
    pose = json.loads((prov / "NW-WoJ_2.pose.json").read_text())
    sil = json.loads((prov / "NW-WoJ_2.silhouette.json").read_text())
    seg = json.loads((prov / "NW-WoJ_2.segmentation.json").read_text())
    assert pose["intermediate"]["frames"] == 124 and "segmentation" in pose["model"]
    assert sil["source"] == {"intermediate": pose["intermediate"]["path"], "shared_with": "pose"}
    assert set(seg["source"]) == {"pose", "silhouette"} and seg["backend"] == "pose-parts"
    assert pose["stats"]["frames_with_person"] == sil["stats"]["frames_with_person"] == seg["stats"]["frames_with_person"]
    # bounded intermediate: < 25 KB per frame with a person at 960x540
    npz = done_run / "tree" / "intermediate" / "blazepose" / "PA900" / "UGS" / "NW-WoJ_2.npz"
    assert npz.stat().st_size < 25_000 * pose["stats"]["frames_with_person"]
    assert _dry(done_run) == {}


@pytest.mark.slow
def test_rerun_silhouette_threshold(done_run):
    """mask_threshold: the silhouettes and the parts made from them, not pose nor gait."""
    jobs = _dry(done_run, silhouette={"backend": "blazepose-mask", "params": {"mask_threshold": 0.6}})
    assert jobs == {"silhouette_clip": 1, "segmentation_clip": 1}, jobs


@pytest.mark.slow
def test_rerun_pose_model_complexity(done_run):
    """The shared model changes: pose, the silhouettes from its mask, parts, gait."""
    jobs = _dry(done_run, pose={"backend": "blazepose", "params": {"model_complexity": 0}})
    assert jobs == {"pose_clip": 1, "silhouette_clip": 1, "segmentation_clip": 1, "gait_clip": 1, "gait_aggregate": 1}, jobs


@pytest.mark.slow
def test_rerun_segmentation_backend(done_run):
    jobs = _dry(done_run, segmentation={"backend": "densepose", "params": {}})
    assert jobs == {"segmentation_clip": 1}, jobs


@pytest.mark.slow
def test_rerun_gait_event_offsets(done_run):
    """Own timing corrections (gait.event_offsets_s): the gait jobs only."""
    gait = {"method": "zeni", "calibration": {"default": {"method": "px_per_cm", "px_per_cm": 2.0}},
            "event_offsets_s": {"HS": -0.03, "TO": 0.01}}  # fmt: skip
    jobs = _dry(done_run, gait=gait)
    assert jobs == {"gait_clip": 1, "gait_aggregate": 1}, jobs
    dry = snakemake("-n", "-p", "--configfile", _config(done_run, gait=gait), cwd=done_run).stdout
    assert "--event-offsets -0.03,0.01" in dry


@pytest.mark.slow
def test_rerun_flow_added_runs_only_flow(done_run):
    jobs = _dry(done_run, modalities=["pose", "silhouette", "segmentation", "gait", "flow"])
    assert jobs == {"flow_clip": 1}, jobs


def _dag_jobs(tmp_path, **over) -> str:
    cfg = _config(tmp_path, **over)
    return snakemake("-n", "--configfile", cfg, cwd=tmp_path).stdout


def _rule_block(dry: str, rule: str) -> str:
    return next(b for b in re.split(r"\n(?=\[.*\]\n)", dry) if f"rule {rule}:" in b)


def test_shared_path_only_where_it_applies(tmp_path):
    """Other backend combinations keep their own decode and model (dry runs, no jobs)."""
    shared = _dag_jobs(tmp_path)
    assert "intermediate/blazepose" in _rule_block(shared, "silhouette_clip")
    # YOLOv8 silhouettes with BlazePose pose: no intermediate; pose-parts reads YOLO's silhouettes
    yolo = _dag_jobs(tmp_path, silhouette={"backend": "yolov8-seg", "params": {"weights": "yolov8x-seg.pt"}})
    assert "intermediate" not in yolo
    assert "gait_normal_01.mp4" in _rule_block(yolo, "silhouette_clip")
    assert "NW-WoJ_2.silhouette.json" in _rule_block(yolo, "segmentation_clip")
    # a silhouette model setting of its own that differs from the pose's: two BlazePose runs
    own = _dag_jobs(tmp_path, silhouette={"backend": "blazepose-mask", "params": {"model_complexity": 0}})
    assert "intermediate" not in own and "gait_normal_01.mp4" in _rule_block(own, "silhouette_clip")
    # AlphaPose pose, DensePose parts: every modality on the video
    paper = _dag_jobs(tmp_path, pose={"backend": "alphapose", "params": {}}, segmentation={"backend": "densepose", "params": {}})
    assert "intermediate" not in paper
    assert "gait_normal_01.mp4" in _rule_block(paper, "segmentation_clip")


def test_flow_job_threads_follow_the_engines(tmp_path):
    """The default engine (tvl1-fused) computes on one thread, so its flow jobs ask for one
    (two clips' flow run side by side on 2 cores); OpenCV's threaded solver keeps the
    default 2, and a user's `resources.flow.threads` wins (dry runs, no jobs)."""

    def threads(**over) -> str:
        dry = _dag_jobs(tmp_path, modalities=["flow"], **over)
        m = re.search(r"threads: (\d+)", _rule_block(dry, "flow_clip"))
        return m.group(1) if m else "1"  # Snakemake prints no threads line for 1

    assert threads() == "1"
    assert threads(flow={"engines": [{"backend": "tvl1-opencv", "params": {"scale": 0.5}}]}) == "2"
    assert threads(resources={"flow": {"threads": 3}}) == "3"
