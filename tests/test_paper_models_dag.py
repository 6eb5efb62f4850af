"""The paper's configuration (``config/healthgait.yaml``) through the whole workflow on CPU,
as a user runs it from the repository root (``snakemake --configfile config/healthgait.yaml
my.yaml``), with random-weight checkpoints under the released file names in a test
``models_dir``: one shared clip trimmed to 5 frames by the sample sheet, every model job of
the paper family that runs on CPU, then ``gaitprep validate`` on the tree.

Jobs run: silhouette (``yolov8-seg``, ``yolov8x-seg.pt``: YOLOv8x-seg with random weights
made to detect), segmentation (``densepose``, the real detectron2 DensePose
``densepose_rcnn_R_50_FPN_s1x`` with random weights, ``model_final_162be9.pkl``), flow
(``tvl1-opencv`` and ``gmflow``, ``gmflow_sintel-0c07dcb3.pth``: ptlflow's GMFlow with
random weights in the official layout), pose with the in-process ``alphapose-topdown``
(AlphaPose's own FastPose Halpe-26 network built from its config, random weights, over a
random YOLOv8n detector) chosen in the user's config over the shipped ``alphapose``, and gait
on its Halpe-26 heels and toes (5 frames: the gait job must end with a stated reason, not
numbers). The shipped subprocess ``alphapose`` is not run: ``demo_inference.py`` needs
AlphaPose's compiled CUDA extensions (docs/paper_models.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from conftest import REPO, VIDEOS, shared_video, snakemake
from fixtures.alphapose_real import DETECTOR, HALPE26_CKPT, alphapose_root, require_alphapose
from fixtures.alphapose_real import random_models_dir as alphapose_models_dir
from fixtures.densepose_real import densepose_dir, random_models_dir, require_detectron2
from gaitprep.healthgait.naming import ClipId, flow_dir, provenance_path, segmentation_dir, silhouette_dir
from gaitprep.healthgait.palette import ALLOWED_RGB

VIDEO = "gait_normal_01.mp4"
START, END = 40, 45  # 5 frames, 4 flow pairs (GMFlow and TV-L1 at full size dominate: ~25 s a pair here)
CLIP = ClipId("PA900", "UGS", "NW-WoJ", "2")


@pytest.fixture(scope="module")
def paper_models():
    """The random DensePose checkpoint's folder, with the YOLOv8 and GMFlow ones added."""
    require_detectron2()
    import torch

    ptlflow = pytest.importorskip("ptlflow")
    from gaitprep.backends.yolo import save_random_checkpoint

    require_alphapose()
    d = random_models_dir()  # model_final_162be9.pkl
    for name in (HALPE26_CKPT, DETECTOR):  # AlphaPose's SPPE and its person detector
        if not (d / name).exists():
            (d / name).symlink_to(alphapose_models_dir() / name)
    save_random_checkpoint("yolov8x-seg.yaml", d / "yolov8x-seg.pt", detect_everything=True)
    torch.manual_seed(0)
    torch.save({"model": ptlflow.get_model("gmflow").state_dict()}, d / "gmflow_sintel-0c07dcb3.pth")
    return d


@pytest.mark.slow
def test_healthgait_config_through_the_dag_then_validate(paper_models, tmp_path):
    shared_video(VIDEO)
    shipped = yaml.safe_load((REPO / "config" / "healthgait.yaml").read_text())
    assert shipped["segmentation"]["params"]["weights"] == "model_final_162be9.pkl"
    assert shipped["silhouette"]["params"]["weights"] == "yolov8x-seg.pt"
    assert [e["backend"] for e in shipped["flow"]["engines"]] == ["tvl1-fused", "gmflow"]

    sheet = tmp_path / "samples.tsv"
    sheet.write_text("participant\tgait_type\twalk_class\tclip\tpath\tstart_frame\tend_frame\n"
                     f"PA900\tUGS\tNW-WoJ\t2\t{VIDEOS / VIDEO}\t{START}\t{END}\n")  # fmt: skip
    out = tmp_path / "tree"
    measures = tmp_path / "participants_measures.csv"
    measures.write_text("ID,Sex,Age,PA_level,Height,Weight,BMI,WaistC,HipC,NeckC,Percentage fat mass,Lean mass\n"
                        "PA900,1,30,2,172,70,23.7,80,95,38,18,55\n")  # fmt: skip
    mine = {
        "samples": str(sheet),
        "output_dir": str(out),
        "device": "cpu",
        "models_dir": str(paper_models),
        "modalities": ["pose", "silhouette", "segmentation", "flow", "gait"],
        "participants_measures": str(measures),
        # the in-process AlphaPose (the shipped subprocess backend needs AlphaPose's CUDA build)
        "pose": {"backend": "alphapose-topdown", "params": {
            "alphapose_root": str(alphapose_root()), "checkpoint": HALPE26_CKPT, "detector": DETECTOR, "det_imgsz": 320}},
        "segmentation": {"params": {
            "densepose_dir": str(densepose_dir()),
            # small test-time sizes on CPU (the released model runs at MIN_SIZE_TEST 800)
            "opts": ["INPUT.MIN_SIZE_TEST", 128, "INPUT.MAX_SIZE_TEST", 256, "TEST.DETECTIONS_PER_IMAGE", 3,
                     "MODEL.RPN.POST_NMS_TOPK_TEST", 50],
        }},  # fmt: skip
        "silhouette": {"params": {"imgsz": 320}},
    }
    user = tmp_path / "my.yaml"
    user.write_text(yaml.safe_dump(mine, sort_keys=False))
    p = snakemake("--cores", "2", "--configfile", REPO / "config" / "healthgait.yaml", user, cwd=REPO,
                  check=False, timeout=1800)  # fmt: skip
    log = p.stdout + p.stderr
    jobs = [ln.split()[-1].rstrip(":") for ln in log.splitlines() if ln.startswith(("rule ", "localrule "))]
    print("\nsnakemake jobs:", ", ".join(jobs) or "(none)")
    assert p.returncode == 0, f"snakemake failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-8000:]}"

    frames = [f"{i:03d}" for i in range(START, END)]
    sil = sorted(silhouette_dir(out, CLIP).glob("*.jpg"))
    assert [s.stem for s in sil] == frames
    seg = sorted(segmentation_dir(out, CLIP).glob("*.png"))
    assert [s.stem for s in seg] == frames
    img = cv2.imread(str(seg[0]), cv2.IMREAD_UNCHANGED)
    colours = {tuple(int(v) for v in c[::-1]) for c in np.unique(img.reshape(-1, 3), axis=0)}
    assert img.shape == (540, 960, 3) and colours <= ALLOWED_RGB and len(colours) > 3
    for method in ("TVL1", "GMFLOW"):
        pngs = sorted(flow_dir(out, CLIP, method).glob("*.png"))
        assert len(pngs) == END - START - 1, (method, [q.name for q in pngs])
    seg_prov = json.loads(provenance_path(out, CLIP, "segmentation").read_text())
    assert "model_final_162be9.pkl" in json.dumps(seg_prov)
    # the shipped params reached the backends without config/config.yaml's defaults for other
    # backends (e.g. blazepose-mask's mask_threshold) mixed in
    sil_prov = json.loads(provenance_path(out, CLIP, "silhouette").read_text())
    assert sil_prov["backend"] == "yolov8-seg" and sil_prov["params"]["weights"] == "yolov8x-seg.pt"
    assert "mask_threshold" not in sil_prov["params"]

    pose = json.loads((out / "pose" / "PA900" / "UGS" / "NW-WoJ_2_AlphaPose.json").read_text())
    assert [r["frame"] for r in pose] == list(range(START, END))
    joints = next(r["joints"] for r in pose if r["joints"])
    assert len(joints) == 26 and {"l_heel", "r_heel", "l_big_toe", "r_big_toe"} <= set(joints)
    summary = json.loads((out / "gait_steps" / "PA900" / "UGS" / "NW-WoJ_2.summary.json").read_text())
    assert summary["warnings"]  # 5 frames: no parameters, and the summary says why

    v = subprocess.run([sys.executable, "-m", "gaitprep", "validate", str(out)], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    print("gaitprep validate:\n" + v.stdout[-3000:] + v.stderr[-2000:])
    assert v.returncode == 0, v.stdout[-4000:] + v.stderr[-4000:]
