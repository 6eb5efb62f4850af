#!/usr/bin/env bash
# Run inside the environment of densepose.yaml (Snakemake does so after creating it).
# Builds detectron2 and DensePose from GitHub against the torch already installed, then
# installs gaitprep itself. See docs/paper_models.md.
set -euo pipefail

python -c "import torch" || { echo "densepose post-deploy: torch is not installed in this environment" >&2; exit 1; }

python -m pip install --no-build-isolation "git+https://github.com/facebookresearch/detectron2.git"
# --no-deps: DensePose's setup.py requires detectron2 again by URL and opencv-python-headless,
# which would shadow opencv-contrib-python (cv2.optflow); its other needs (av, scipy) are in
# densepose.yaml.
python -m pip install --no-build-isolation --no-deps \
    "git+https://github.com/facebookresearch/detectron2@main#subdirectory=projects/DensePose"

# gaitprep itself: from $GAITPREP_SRC, else the working directory Snakemake runs in
src="${GAITPREP_SRC:-$PWD}"
if [ -f "$src/pyproject.toml" ] && grep -q '^name = "gaitprep"' "$src/pyproject.toml"; then
    python -m pip install --no-deps -e "$src"
else
    echo "densepose post-deploy: gaitprep not found in $src (set GAITPREP_SRC to the repository); skipped" >&2
fi

python - <<'PY'
import cv2, detectron2, densepose, torch
assert hasattr(cv2, "optflow"), "cv2 has no optflow: reinstall opencv-contrib-python"
print(f"detectron2 {detectron2.__version__}, DensePose ok, torch {torch.__version__}, CUDA {torch.cuda.is_available()}")
PY
