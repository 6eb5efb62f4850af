#!/usr/bin/env bash
# Run by Snakemake inside the environment of gaitprep.yaml after creating it.
set -euo pipefail
# ultralytics/ptlflow pull opencv-python, whose cv2 lacks optflow (TV-L1): put contrib back
python -m pip install --no-deps --force-reinstall "opencv-contrib-python<4.14"
src="${GAITPREP_SRC:-$PWD}"
if [ -f "$src/pyproject.toml" ] && grep -q '^name = "gaitprep"' "$src/pyproject.toml"; then
    python -m pip install --no-deps -e "$src"
else
    echo "gaitprep post-deploy: gaitprep not found in $src (set GAITPREP_SRC to the repository)" >&2
    exit 1
fi
python -c "import cv2, gaitprep; assert hasattr(cv2, 'optflow')"
