"""The workflow deployed as a Snakemake module (what `snakedeploy deploy-workflow` writes):
a project folder with its own Snakefile and config/, the demo run there, the run report
written, and the default `snakemake --report` holding the QC pictures and the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow
CLIP = "PA000/UGS/NW-WoJ_1"
# a short small walker (2 s, 60 frames, 480x270) and only pose + gait + QC: the demo's flow
# and BlazePose-based image modalities would take minutes on 2 cores
WALKER = {"direction": "right_to_left", "cadence": 110, "step_length": 65, "seed": 0,
          "seconds": 2.0, "start_x": 120, "width": 480, "height": 270, "px_per_cm": 1.0}  # fmt: skip


def _snakemake(cwd, *args, timeout=900):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    p = subprocess.run([sys.executable, "-m", "snakemake", *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert p.returncode == 0, f"snakemake {' '.join(map(str, args))}:\n{p.stdout[-4000:]}\n{p.stderr[-6000:]}"
    return p


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    d = tmp_path_factory.mktemp("deployed")
    (d / "config").mkdir()
    (d / "config" / "config.yaml").write_text(yaml.safe_dump({
        "demo": {"enabled": True, "clips": [{"id": CLIP, "walker": WALKER,
                                             "calibration": {"method": "px_per_cm", "px_per_cm": 1.0}}]},
        "modalities": ["pose", "gait", "qc"],
    }))  # fmt: skip
    (d / "Snakefile").write_text(textwrap.dedent(f"""\
        configfile: "config/config.yaml"


        module gaitprep:
            snakefile:
                "{REPO / "workflow" / "Snakefile"}"
            config:
                config


        use rule * from gaitprep
        """))
    t = time.monotonic()
    p = _snakemake(d, "--cores", "2")
    print(f"module demo run: {time.monotonic() - t:.0f} s")
    return d, p


def test_demo_runs_as_a_module(deployed):
    d, p = deployed
    out = d / "results"
    assert (out / "pose" / "PA000" / "UGS" / "NW-WoJ_1_AlphaPose.json").is_file()
    assert (out / "gait_parameters_estimation.csv").is_file()
    rep = json.loads((out / "run_report.json").read_text())
    assert rep["status"] == "success"
    assert not (out / "optical_flow").exists()  # modalities as configured


def test_default_report_holds_qc_and_results(deployed):
    d, _ = deployed
    _snakemake(d, "--report", "report.zip")
    names = sorted(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(d / "report.zip").namelist() if "/data/raw/" in n)
    # the montage and the gait event plot (both NW-WoJ_1.png), the results table, the run summary
    assert names == ["NW-WoJ_1.png", "NW-WoJ_1.png", "gait_parameters_estimation.csv", "run_summary.csv", "run_summary.html"]
