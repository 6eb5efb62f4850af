"""The paper's configuration (``config/healthgait.yaml``) through the whole workflow on CPU,
as a user runs it (``snakemake --configfile config/healthgait.yaml my.yaml``; from outside the
repository for now: see the TODO(workflow layering) below), with
random-weight checkpoints under the released file names in a test ``models_dir``: one
shared clip trimmed to 5 frames by the sample sheet, every model job of the paper family
that runs on CPU, then ``gaitprep validate`` on the tree.

Jobs run: silhouette (``yolov8-seg``, ``yolov8x-seg.pt``: YOLOv8x-seg with random weights
made to detect), segmentation (``densepose``, the real detectron2 DensePose
``densepose_rcnn_R_50_FPN_s1x`` with random weights, ``model_final_162be9.pkl``), flow
(``tvl1-opencv`` and ``gmflow``, ``gmflow_sintel-0c07dcb3.pth``: ptlflow's GMFlow with
random weights in the official layout). Not run: pose (``alphapose`` calls AlphaPose's
``demo_inference.py``, which needs AlphaPose's compiled CUDA extensions: docs/paper_models.md)
and so gait (it needs the pose JSON).
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

    d = random_models_dir()  # model_final_162be9.pkl
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
    assert [e["backend"] for e in shipped["flow"]["engines"]] == ["tvl1-opencv", "gmflow"]

    sheet = tmp_path / "samples.tsv"
    sheet.write_text("participant\tgait_type\twalk_class\tclip\tpath\tstart_frame\tend_frame\n"
                     f"PA900\tUGS\tNW-WoJ\t2\t{VIDEOS / VIDEO}\t{START}\t{END}\n")  # fmt: skip
    out = tmp_path / "tree"
    mine = {
        "samples": str(sheet),
        "output_dir": str(out),
        "device": "cpu",
        "models_dir": str(paper_models),
        "modalities": ["silhouette", "segmentation", "flow"],
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
    # TODO(workflow layering): users run this from the repository root, where Snakemake merges
    # the --configfile files key by key *over* config/config.yaml (the Snakefile's
    # `configfile:`), so blazepose-mask's `mask_threshold` lands in yolov8-seg's params and the
    # silhouette job fails ("unknown parameter(s) ['mask_threshold']"). No overlay can remove
    # it (`params: {}` merges to no change; a `params: null` file before my.yaml is merged away
    # with the other --configfile files before they are applied). Until the layering fix, run
    # from a folder without config/config.yaml (the Snakefile by path, as the other workflow
    # tests do); then switch to cwd=REPO.
    p = snakemake("--cores", "2", "--configfile", REPO / "config" / "healthgait.yaml", user, cwd=tmp_path,
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

    v = subprocess.run([sys.executable, "-m", "gaitprep", "validate", str(out)], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    print("gaitprep validate:\n" + v.stdout[-3000:] + v.stderr[-2000:])
    assert v.returncode == 0, v.stdout[-4000:] + v.stderr[-4000:]
