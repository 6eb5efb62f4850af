"""run_report: provenance records + failed jobs -> <root>/run_report.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gaitprep.healthgait import naming
from gaitprep.reporting import run_report

C = naming.ClipId("PA000", "UGS", "NW-WJ", "1")
C2 = naming.ClipId("PA001", "FGS", "FW-WoJ", "2")
SRC = Path(__file__).resolve().parents[1] / "src"

SMK_LOG = """\
Building DAG of jobs...
[Sat Nov 21 15:19:51 2026]
localrule pose:
    output: res/pose/PA001/FGS/FW-WoJ_2_AlphaPose.json
    log: res/logs/pose/PA001/FGS/FW-WoJ_2.log
    jobid: 1
RuleException:
CalledProcessError in file "Snakefile", line 6:
[Sat Nov 21 15:19:51 2026]
Error in rule pose:
    message: None
    jobid: 1
    output: res/pose/PA001/FGS/FW-WoJ_2_AlphaPose.json
    log: res/logs/pose/PA001/FGS/FW-WoJ_2.log (check log file(s) for error details)
    shell:
        gaitprep run pose --clip PA001/FGS/FW-WoJ_2 ...
        (command exited with non-zero exit code)
Error in rule flow_tvl1:
    jobid: 7
    output: res/optical_flow/PA001/FGS/TVL1/FW-WoJ_2
    log: res/logs/flow/PA001/FGS/FW-WoJ_2.TVL1.log (check log file(s) for error details)
Select jobs to execute...
"""


def _prov(root, clip, modality, method=None, frames=10, person=8, skipped=()):
    p = naming.provenance_path(root, clip, modality, method)
    p.parent.mkdir(parents=True, exist_ok=True)
    stats = {"frames": frames, "frames_with_person": person, "frames_decoded": frames, "frames_skipped": list(skipped)}
    if modality == "flow":
        stats = {"pairs": frames - 1, "frames_decoded": frames, "frames_skipped": list(skipped)}
    p.write_text(json.dumps({
        "clip": clip.key, "modality": modality, "method": method, "backend": "blazepose",
        "output": str(naming.output_path(root, clip, modality, method)), "stats": stats,
        "timing": {"wall_s": 1.5}, "finished": "2026-11-21T15:00:00+0000",
    }))  # fmt: skip


def test_parse_snakemake_log(tmp_path):
    log = tmp_path / "x.snakemake.log"
    log.write_text(SMK_LOG)
    blocks = run_report.parse_snakemake_log(log)
    assert [b["rule"] for b in blocks] == ["pose", "flow_tvl1"]
    assert blocks[0]["output"] == ["res/pose/PA001/FGS/FW-WoJ_2_AlphaPose.json"]
    assert blocks[0]["log"] == ["res/logs/pose/PA001/FGS/FW-WoJ_2.log"]
    assert blocks[1]["jobid"] == "7"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("INFO start\ngaitprep: error: /v/a.mp4: cannot open video\n", "/v/a.mp4: cannot open video"),
        (
            "gaitprep: error: sample sheet s.tsv has 2 problem(s):\n  s.tsv line 2: bad participant ID 'X'\n  s.tsv line 3: duplicate clip\n",
            "sample sheet s.tsv has 2 problem(s):\ns.tsv line 2: bad participant ID 'X'\ns.tsv line 3: duplicate clip",
        ),
        (
            'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n    f()\nOSError: [Errno 28] No space left on device: \'/out/a.png\'\n',
            "OSError: [Errno 28] No space left on device: '/out/a.png'",
        ),
        ("all fine\n", None),
        ("", None),
    ],
)
def test_job_log_reason(tmp_path, text, reason):
    p = tmp_path / "job.log"
    p.write_text(text)
    assert run_report.job_log_reason(p) == reason


def test_job_log_reason_missing_file(tmp_path):
    assert run_report.job_log_reason(tmp_path / "nope.log") is None


@pytest.mark.parametrize(
    "rel, clip, job",
    [
        ("pose/PA000/UGS/NW-WJ_1_AlphaPose.json", "PA000/UGS/NW-WJ_1", "pose"),
        ("silhouette/PA000/UGS/NW-WJ_1_YOLOV8", "PA000/UGS/NW-WJ_1", "silhouette"),
        ("semantic_segmentation/PA000/UGS/NW-WJ_1_DensePose", "PA000/UGS/NW-WJ_1", "segmentation"),
        ("optical_flow/PA000/UGS/GMFLOW/NW-WJ_1", "PA000/UGS/NW-WJ_1", "flow.GMFLOW"),
        ("logs/pose/PA000/UGS/NW-WJ_1.log", "PA000/UGS/NW-WJ_1", None),
        ("gait_parameters_estimation.csv", None, None),
    ],
)
def test_clip_of_path(tmp_path, rel, clip, job):
    assert run_report.clip_of_path(tmp_path, tmp_path / rel) == (clip, job)
    assert run_report.clip_of_path("res", f"res/{rel}") == (clip, job)


def test_build_report_joins_provenance_and_failures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = Path("res")
    _prov(root, C, "pose", skipped=[4, 5])
    _prov(root, C, "flow", "TVL1")
    _prov(root, C2, "silhouette")  # older complete output of a clip whose pose fails now
    log = tmp_path / ".snakemake" / "log" / "x.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(SMK_LOG)
    jl = root / "logs" / "pose" / "PA001" / "FGS" / "FW-WoJ_2.log"
    jl.parent.mkdir(parents=True)
    jl.write_text("gaitprep: error: /v/b.mp4: video has no frames\n")
    rep = run_report.write_run_report(root, [str(log)], status="error", quiet=True)
    on_disk = json.loads((root / "run_report.json").read_text())
    assert on_disk["totals"] == rep["totals"] == {
        "clips": 2, "clips_complete": 1, "clips_failed": 1, "jobs_done": 3, "jobs_failed": 2,
        "frames": 20, "frames_with_person": 16, "frames_skipped": 2,
    }  # fmt: skip
    a = on_disk["clips"]["PA000/UGS/NW-WJ_1"]
    assert a["status"] == "complete" and a["jobs"]["pose"]["frames_skipped"] == [4, 5]
    assert set(a["jobs"]) == {"pose", "flow.TVL1"}
    b = on_disk["clips"]["PA001/FGS/FW-WoJ_2"]
    assert b["status"] == "failed"
    fails = {f["job"]: f for f in b["failures"]}
    assert fails["pose"]["reason"] == "/v/b.mp4: video has no frames"
    assert "no error message in its log" in fails["flow.TVL1"]["reason"]
    s = run_report.format_summary(rep)
    assert "1 of 2 clips complete" in s
    assert "FAILED PA001/FGS/FW-WoJ_2 pose: /v/b.mp4: video has no frames (log: res/logs/pose/PA001/FGS/FW-WoJ_2.log)" in s
    assert "skipped frames PA000/UGS/NW-WJ_1 pose: [4, 5]" in s


def test_no_logs_no_provenance(tmp_path):
    rep = run_report.write_run_report(tmp_path / "out", None, quiet=True)
    assert rep["totals"]["clips"] == 0 and rep["failures"] == []
    assert (tmp_path / "out" / "run_report.json").is_file()


def test_cli(tmp_path, capsys):
    _prov(tmp_path, C, "pose")
    assert run_report.main(["--root", str(tmp_path), "--status", "success"]) == 0
    assert "1 of 1 clips complete" in capsys.readouterr().err


def _snakemake(workdir: Path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    cmd = [sys.executable, "-m", "snakemake", "-c1", "--keep-going", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("quiet", [False, True])
def test_handlers_in_a_workflow(tmp_path, quiet):
    """The rules file's onerror handler writes the report, also under --quiet (job-log fallback)."""
    smk = Path(__file__).resolve().parents[1] / "workflow" / "rules" / "run_report.smk"
    (tmp_path / "Snakefile").write_text(textwrap.dedent(f"""\
        config["output_dir"] = "res"
        rule all:
            input: expand("res/pose/{{p}}/UGS/NW-WJ_1_AlphaPose.json", p=["PA000", "PA001"])
        rule pose:
            output: "res/pose/{{pid}}/UGS/NW-WJ_1_AlphaPose.json"
            log: "res/logs/pose/{{pid}}/UGS/NW-WJ_1.log"
            shell: "if [ {{wildcards.pid}} = PA000 ]; then echo 'gaitprep: error: /v/a.mp4: cannot open video' > {{log}}; exit 1; fi; echo '[]' > {{output}}"
        include: "{smk}"
        """))
    r = _snakemake(tmp_path, *(["-q"] if quiet else []))
    assert r.returncode != 0
    assert "FAILED PA000/UGS/NW-WJ_1 pose: /v/a.mp4: cannot open video" in r.stderr
    rep = json.loads((tmp_path / "res" / "run_report.json").read_text())
    assert rep["status"] == "error" and rep["totals"]["jobs_failed"] == 1
    assert rep["failures"][0]["clip"] == "PA000/UGS/NW-WJ_1"
    assert (tmp_path / "res" / "pose" / "PA001" / "UGS" / "NW-WJ_1_AlphaPose.json").is_file()


def test_provenance_warnings_are_shown_once_per_clip(tmp_path, capsys):
    """A record's own ``warnings`` (timing, orientation, second person) reach the report;
    the same message from several jobs of a clip is listed once with the jobs joined."""
    for m, method in (("pose", None), ("flow", "TVL1")):
        _prov(tmp_path, C, m, method)
        p = naming.provenance_path(tmp_path, C, m, method)
        rec = json.loads(p.read_text())
        rec["warnings"] = ["v.mp4: the header frame rate 60 fps disagrees with the frame timestamps (30.000 fps, median interval 33.33 ms)"]
        p.write_text(json.dumps(rec))
    rep = run_report.write_run_report(tmp_path, status="success")
    hits = [w for w in rep["warnings"] if "header frame rate 60 fps" in w["message"]]
    assert len(hits) == 1 and hits[0]["job"] == "pose, flow.TVL1"
    assert f"WARNING {C.key} pose, flow.TVL1: v.mp4: the header frame rate 60 fps disagrees" in capsys.readouterr().err


def test_sheet_warnings_and_direction_in_report(tmp_path):
    from gaitprep import sanity

    _prov(tmp_path, C, "pose")
    sanity.write_sheet_warnings(tmp_path, [{"clip": C.key, "job": "sheet", "message": "video /v.mp4 is used by 2 clips: a, b"}])
    s = naming.gait_summary_path(tmp_path, C)  # clip 1 should walk right-to-left
    s.parent.mkdir(parents=True)
    s.write_text(json.dumps({"clip": C.key, "means": {}, "passes": [{"start_frame": 0, "end_frame": 80, "direction": "left-to-right"}]}))
    rep = run_report.build_report(tmp_path)
    msgs = [w["message"] for w in rep["warnings"] if w["clip"] == C.key]
    assert "video /v.mp4 is used by 2 clips: a, b" in msgs
    assert any(m.startswith("clip 1 should walk right-to-left (Health&Gait: clip 1 right-to-left, clip 2 left-to-right), but the walker moves left-to-right (gait summary") for m in msgs), msgs


def test_pose_direction():
    from gaitprep.sanity import pose_direction

    def pose(xs):
        return [{"frame": i, "joints": {"l_hip": {"x": x, "y": 1, "score": 1}, "r_hip": {"x": x + 4, "y": 1, "score": 1}}} for i, x in enumerate(xs)]

    assert pose_direction(pose(range(800, 100, -20)), 960)[0] == "right-to-left"
    assert pose_direction(pose(range(100, 800, 20)), 960)[0] == "left-to-right"
    assert pose_direction(pose([400 + (i % 3) for i in range(40)]), 960) is None  # standing
    assert pose_direction(pose(range(100, 800, 100)), 960) is None  # too few frames


def test_failed_pose_job_drops_the_stale_estimation_table(tmp_path, capsys):
    """A clip's pose job failing (after an earlier good run) means its gait job never starts and
    so cannot remove the old gait_parameters_estimation.csv: the error handler does."""
    est = tmp_path / naming.ESTIMATION_CSV
    est.write_text("ID\nPA000\n")
    flow_only = {"failures": [{"rule": "flow_clip", "clip": "PA000/UGS/NW-WoJ_1"}]}
    assert run_report.drop_stale_estimation(tmp_path, flow_only) is None and est.exists()
    pose = {"failures": [{"rule": "pose_clip", "clip": "PA000/UGS/NW-WoJ_1"}]}
    msg = run_report.drop_stale_estimation(tmp_path, pose)
    assert not est.exists() and "PA000/UGS/NW-WoJ_1" in msg and "rerun to rebuild it" in capsys.readouterr().err
