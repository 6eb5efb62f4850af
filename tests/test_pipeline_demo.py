"""Integration: the default config on a fresh clone — render the synthetic demo walker and
run every modality on it, no data and no download needed."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from gaitprep.healthgait.naming import ClipId, flow_dir, pose_path, segmentation_dir, silhouette_dir

from conftest import snakemake, write_config

pytestmark = pytest.mark.slow
CLIP = ClipId.from_key("PA000/UGS/NW-WoJ_1")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    cfg = write_config(d / "config.yaml", output_dir=str(d / "results"),
                       demo={"enabled": True, "dir": str(d / "demo"),
                             "clips": [{"id": CLIP.key, "walker": {"direction": "right_to_left", "cadence": 110,
                                                                   "step_length": 65, "seed": 0}}]})  # fmt: skip
    snakemake("--cores", "2", "--configfile", cfg, cwd=d)
    return d


def test_demo_tree_is_complete(demo_run):
    out = demo_run / "results"
    truth = json.loads((demo_run / "demo" / "PA000_UGS_NW-WoJ_1.truth.json").read_text())
    n = truth["n_frames"]
    pose = json.loads(pose_path(out, CLIP).read_text())
    assert [r["frame"] for r in pose] == list(range(n))
    visible = set(truth["fully_visible_frames"])
    found = {r["frame"] for r in pose if r["joints"] is not None}
    rate = len(found & visible) / len(visible)
    print(f"demo: BlazePose finds the walker in {rate:.1%} of {len(visible)} fully visible frames, "
          f"{len(found)}/{n} frames overall")  # fmt: skip
    assert rate >= 0.95
    sil = sorted(silhouette_dir(out, CLIP).glob("*.jpg"))
    seg = sorted(segmentation_dir(out, CLIP).glob("*.png"))
    assert len(sil) >= 0.9 * len(visible) and len(seg) >= 0.9 * len(visible)
    assert len(list(flow_dir(out, CLIP, "TVL1").glob("*.png"))) == n - 1
    img = cv2.imread(str(seg[len(seg) // 2]))
    assert img.shape == (540, 960, 3)
    cols = {tuple(c) for c in np.unique(img.reshape(-1, 3), axis=0)}
    assert (0, 255, 255) in cols or (0, 0, 128) in cols  # a foot colour (BGR) is present
    assert (out / "gait_parameters_estimation.csv").exists()


#: every file the spec allows inside the Health&Gait folders (relative to the tree root)
SPEC_FILES = re.compile(
    r"pose/PA\d{3,}/(UGS|FGS)/(NW|FW)-(WJ|WoJ)_[12]_AlphaPose\.json"
    r"|silhouette/PA\d{3,}/(UGS|FGS)/(NW|FW)-(WJ|WoJ)_[12]_YOLOV8/\d{3,}\.jpg"
    r"|semantic_segmentation/PA\d{3,}/(UGS|FGS)/(NW|FW)-(WJ|WoJ)_[12]_DensePose/\d{3,}\.png"
    r"|optical_flow/PA\d{3,}/(UGS|FGS)/(TVL1|GMFLOW)/(NW|FW)-(WJ|WoJ)_[12]/\d{3,}\.png"
)


def test_tree_holds_only_spec_files(demo_run):
    """No Snakemake marker (.snakemake_timestamp), temporary or cache file inside the
    Health&Gait folders after a run: code that lists a folder and reads every entry works."""
    out = demo_run / "results"
    foreign = [str(p.relative_to(out)) for top in ("pose", "silhouette", "semantic_segmentation", "optical_flow")
               for p in (out / top).rglob("*") if p.is_file() and not SPEC_FILES.fullmatch(str(p.relative_to(out)))]  # fmt: skip
    assert foreign == []
    assert (out / "intermediate" / "blazepose" / "PA000" / "UGS" / "NW-WoJ_1.npz").is_file()
