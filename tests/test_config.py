"""The config: layering that cannot leak, every key checked before any job, the shipped
configs (config/config.yaml, config/healthgait.yaml) as users combine them with their own."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from gaitprep.config import config_problems, fill_defaults, load_schema, merge_layers, prepare_config
from gaitprep.errors import InputError

from conftest import REPO, SAMPLES_TSV, snakemake

SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
HEALTHGAIT = REPO / "config" / "healthgait.yaml"


def jobs_of(out: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job in a `snakemake -n -p` output."""
    return re.findall(r"^rule (\w+):\n(?:.*\n)*?Shell command: (.*)$", out, flags=re.M)


def spec_of(cmd: str) -> dict:
    return json.loads(re.search(r"--spec '(\{.*?\})'", cmd).group(1))


def my_yaml(tmp_path, **keys):
    pm = tmp_path / "participants_measures.csv"
    pm.write_text("ID,Height\n" + "".join(f"{p},170\n" for p in ("PA000", "PA900", "PA901", "PA902", "PA903", "S-0042")))
    cfg = {"samples": str(SAMPLES_TSV), "output_dir": str(tmp_path / "out"), "participants_measures": str(pm), **keys}
    p = tmp_path / "my.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def test_another_backend_starts_from_its_own_defaults():
    base = {"pose": {"backend": "blazepose", "params": {"model_complexity": 1}}, "silhouette": {"backend": "blazepose-mask", "params": {"mask_threshold": 0.5}}}
    user = {"pose": {"backend": "alphapose", "params": {"tracking": "none"}}, "silhouette": {"params": {"mask_threshold": 0.7}}}
    cfg = merge_layers([base, user])
    assert cfg["pose"] == {"backend": "alphapose", "params": {"tracking": "none"}}
    assert cfg["silhouette"] == {"backend": "blazepose-mask", "params": {"mask_threshold": 0.7}}  # same backend: merged


def test_defaults_fill_what_is_unset():
    cfg = fill_defaults({"gait": {"method": "ankle-distance"}}, SCHEMA)
    assert cfg["gait"] == {"method": "ankle-distance", "lengths": "contacts", "event_overrides": None, "event_offsets_s": None,
                           "calibration": {"default": {"method": "height"}, "clips": {}}}  # fmt: skip
    assert cfg["pose"] == {"backend": "blazepose"} and cfg["demo"] == {"enabled": False, "dir": "demo", "clips": []}
    assert cfg["flow"]["engines"] == [{"backend": "tvl1-fused", "params": {"scale": 0.5, "nscales": 3, "warps": 2}}]
    assert config_problems(cfg, SCHEMA) == []


def test_a_nose_to_ankle_fraction_is_a_calibration_key_in_range():
    ok = {"gait": {"calibration": {"default": {"method": "height", "nose_ankle_fraction": 0.85}}}}
    assert config_problems(fill_defaults(ok, SCHEMA), SCHEMA) == []
    bad = {"gait": {"calibration": {"clips": {"PA001/UGS/NW-WJ_1": {"nose_ankle_fraction": 84}}}}}
    probs = config_problems(fill_defaults(bad, SCHEMA), SCHEMA)
    assert any("nose_ankle_fraction" in p for p in probs), probs


def test_every_problem_listed_with_its_key_path():
    user = {
        "gait": {"methd": "ankle-distance", "calibration": {"clips": {"PA001/UGS/NW-WJ_1": {"px_per_cn": 2}}}},
        "resources": {"flow": {"runtim": 600}},
        "pose": {"backend": "blazepose", "params": {"model_complexty": 1}},
        "silhouette": {"backend": "alphapose"},
        "flow": {"engines": [{"backend": "gmflow", "params": {"scale": 2}}, {"backend": "gmflow"}]},
        "modalities": ["pose", "silhuette"],
    }
    with pytest.raises(InputError) as e:
        prepare_config([user], SCHEMA)
    msg = str(e.value)
    for needle in (
        "gait: Additional properties are not allowed ('methd' was unexpected) (known keys: calibration, event_offsets_s, event_overrides, lengths, method)",
        "gait.calibration.clips.PA001/UGS/NW-WJ_1: Additional properties are not allowed ('px_per_cn' was unexpected)",
        "resources.flow: Additional properties are not allowed ('runtim' was unexpected) (known keys: mem_mb, runtime, threads)",
        "pose.params (blazepose): unknown parameter(s) ['model_complexty']",
        "silhouette.backend: unknown silhouette backend 'alphapose'; valid: blazepose-mask, yolov8-seg",
        "flow.engines[0].params (gmflow): scale must be in (0, 1], got 2",
        "flow.engines: two engines write the same folder GMFLOW",
        "modalities[1]: 'silhuette' is not one of pose, silhouette, segmentation, flow, gait, qc",
    ):
        assert needle in msg, f"{needle!r} not in:\n{msg}"
    assert msg.startswith("config has 8 problem(s)")


def test_healthgait_yaml_with_a_user_config_gives_each_job_its_exact_spec(tmp_path):
    """The paper configuration + a user's my.yaml, as README prints it: no parameter of the
    demo's backends reaches AlphaPose, YOLOv8 or DensePose (they failed at job start before)."""
    my = my_yaml(tmp_path, models_dir="/data/models")
    p = snakemake("-n", "-p", "--configfile", HEALTHGAIT, my, cwd=tmp_path)
    specs = {}
    for rule, cmd in jobs_of(p.stdout):
        if rule in ("pose_clip", "silhouette_clip", "segmentation_clip", "flow_clip"):
            key = rule if rule != "flow_clip" else "flow_" + spec_of(cmd)["backend"]
            assert specs.setdefault(key, spec_of(cmd)) == spec_of(cmd)  # the same for every clip
    common = {"allow_download": False, "device": "auto", "models_dir": "/data/models"}
    coding = {"coding": {"max_magnitude": 16.0, "normalize": "fixed"}}
    assert specs == {
        "pose_clip": {**common, "backend": "alphapose", "params": {
            "alphapose_root": "/opt/AlphaPose", "python": "/opt/conda/envs/alphapose/bin/python",
            "cfg": "configs/halpe_26/resnet/256x192_res50_lr1e-3_1x.yaml",
            "checkpoint": "pretrained_models/halpe26_fast_res50_256x192.pth", "tracking": "pose_track"}},
        "silhouette_clip": {**common, "backend": "yolov8-seg", "params": {"weights": "yolov8x-seg.pt"}},
        "segmentation_clip": {**common, "backend": "densepose", "params": {
            "model": "densepose_rcnn_R_50_FPN_s1x", "densepose_dir": "/opt/detectron2/projects/DensePose",
            "weights": "model_final_162be9.pkl", "min_score": 0.8, "batch_size": 4}},
        "flow_tvl1-fused": {**common, **coding, "backend": "tvl1-fused", "params": {"scale": 1.0}},
        "flow_gmflow": {**common, **coding, "backend": "gmflow", "params": {"checkpoint": "gmflow_sintel-0c07dcb3.pth"}},
    }  # fmt: skip
    n_clips = len(SAMPLES_TSV.read_text().strip().splitlines()) - 1
    assert sum(r == "pose_clip" for r, _ in jobs_of(p.stdout)) == n_clips


def test_a_real_clip_named_like_the_demo_gets_no_demo_calibration(tmp_path):
    video = next(l.split("\t")[4] for l in SAMPLES_TSV.read_text().splitlines()[1:])
    sheet = tmp_path / "s.tsv"
    sheet.write_text(f"participant\tgait_type\twalk_class\tclip\tpath\nPA000\tUGS\tNW-WoJ\t1\t{SAMPLES_TSV.parent / video}\n")
    p = snakemake("-n", "-p", "gait", "--configfile", my_yaml(tmp_path, samples=str(sheet)), cwd=tmp_path)
    (cmd,) = [c for r, c in jobs_of(p.stdout) if r == "gait_clip"]
    cal = json.loads(re.search(r"--calibration '(\{.*?\})'", cmd).group(1))
    assert cal == {"method": "height", "participants_measures": str(tmp_path / "participants_measures.csv")}
    # the demo run itself (no --configfile) calibrates its clip with the renderer's scale
    demo = tmp_path / "demo_run"
    shutil.copytree(REPO / "config", demo / "config")
    p = snakemake("-n", "-p", "gait", cwd=demo)
    (cmd,) = [c for r, c in jobs_of(p.stdout) if r == "gait_clip"]
    assert "--calibration '{\"method\": \"px_per_cm\", \"px_per_cm\": 2.0}'" in cmd


def test_height_calibration_without_a_stature_is_named_before_any_job(tmp_path):
    p = snakemake("-n", "--configfile", my_yaml(tmp_path, participants_measures=None), cwd=tmp_path)
    msg = "config gait.calibration: 4 clip(s) use the height method but no stature is given, their gait jobs will fail"
    assert msg in p.stdout + p.stderr


def test_config_problems_stop_the_run_before_any_job(tmp_path):
    my = my_yaml(tmp_path, gait={"methd": "ankle-distance", "calibration": {"clips": {"PA999/UGS/NW-WJ_1": {"method": "px_per_cm", "px_per_cm": 2}}}})
    p = snakemake("--cores", "1", "--configfile", my, cwd=tmp_path, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "gait: Additional properties are not allowed ('methd' was unexpected)" in out
    assert not (tmp_path / "out").exists()
    my = my_yaml(tmp_path, gait={"calibration": {"clips": {"PA999/UGS/NW-WJ_1": {"method": "px_per_cm", "px_per_cm": 2}}}})
    p = snakemake("-n", "--configfile", my, cwd=tmp_path, check=False)
    assert p.returncode != 0 and "config gait.calibration.clips: no input clip PA999/UGS/NW-WJ_1" in p.stdout + p.stderr


def test_paths_tilde_and_relative_to_the_working_directory(tmp_path):
    home = tmp_path / "home"
    (home / "proj").mkdir(parents=True)
    shutil.copy(SAMPLES_TSV, home / "proj" / "s.tsv")
    text = (home / "proj" / "s.tsv").read_text().replace("\tvideos/", f"\t{SAMPLES_TSV.parent}/videos/")
    (home / "proj" / "s.tsv").write_text(text)
    cfg = home / "proj" / "my.yaml"
    (home / "proj" / "pm.csv").write_text("ID,Height\n" + "".join(f"PA90{i},170\n" for i in range(4)))
    cfg.write_text("samples: ~/proj/s.tsv\noutput_dir: ~/healthgait\nparticipants_measures: ~/proj/pm.csv\n")
    p = snakemake("-n", "-p", "pose", "--configfile", cfg, cwd=tmp_path, env={"HOME": str(home)})
    assert f"--root {home}/healthgait " in p.stdout
    p = snakemake("-n", "-p", "gait", "--configfile", cfg, cwd=tmp_path, env={"HOME": str(home)})
    assert f'"participants_measures": "{home}/proj/pm.csv"' in p.stdout
    # relative paths are relative to the working directory; the error says where the file is
    cfg.write_text("samples: s.tsv\nparticipants_measures: ~/proj/pm.csv\n")
    p = snakemake("-n", "--configfile", cfg, cwd=tmp_path, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "config samples: sample sheet s.tsv does not exist" in out
    assert f"did you mean {home}/proj/s.tsv, next to {cfg}?" in out


def test_participant_id_pattern(tmp_path):
    video = SAMPLES_TSV.parent / next(l.split("\t")[4] for l in SAMPLES_TSV.read_text().splitlines()[1:])
    sheet = tmp_path / "s.tsv"
    sheet.write_text(f"participant\tgait_type\twalk_class\tclip\tpath\nS-0042\tUGS\tNW-WoJ\t1\t{video}\n")
    p = snakemake("-n", "--configfile", my_yaml(tmp_path, samples=str(sheet)), cwd=tmp_path, check=False)
    assert p.returncode != 0 and "bad participant ID 'S-0042' (expected PA followed by 3 or more digits" in p.stdout + p.stderr
    my = my_yaml(tmp_path, samples=str(sheet), participant_id="S-[0-9][0-9][0-9][0-9]")
    p = snakemake("-n", "-p", "pose", "--configfile", my, cwd=tmp_path)
    assert "--clip S-0042/UGS/NW-WoJ_1 " in p.stdout


def test_yolo_recipe_over_the_demo_config_gets_no_blazepose_params(tmp_path):
    """README's YOLOv8 recipe layered over the demo config with blazepose-mask params: the
    silhouette block is replaced (no `mask_threshold`), the rest of the demo stays."""
    my = tmp_path / "yolo.yaml"
    my.write_text("silhouette: {backend: yolov8-seg, params: {weights: yolov8x-seg.pt}}\n")
    shutil.copytree(REPO / "config", tmp_path / "config")
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    base["silhouette"] = {"backend": "blazepose-mask", "params": {"mask_threshold": 0.5}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    p = snakemake("-n", "-p", "silhouette", "--configfile", "base.yaml", my, cwd=tmp_path)
    specs = [spec_of(c) for r, c in jobs_of(p.stdout) if r == "silhouette_clip"]
    assert [(s["backend"], s["params"]) for s in specs] == [("yolov8-seg", {"weights": "yolov8x-seg.pt"})]
