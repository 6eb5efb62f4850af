#!/usr/bin/env bash
# Install detectron2 and its DensePose project from the source snapshot in
# $GAITPREP_SHARED/vendor/detectron2-*.tar.gz (vendor/README.md: commit, licence) into the
# active environment, for tests/test_densepose_real.py and the DensePose runner test.
# Users install DensePose as docs/paper_models.md says; this is the offline CI path.
#
# detectron2's setup.py imports torch: --no-build-isolation, after torch (gaitprep's install).
# setuptools>=75: with the old setuptools of a fresh python3.11 venv (65.5) DensePose's setup.py
# gets a relative __file__ and fails (IndexError in get_detectron2_current_version).
# --no-deps: its pure-Python requirements are installed first, below, with detectron2's own
# pins (setup.py install_requires; tensorboard is left out: only training writes events),
# and DensePose's setup.py would otherwise clone detectron2 from GitHub and pull
# opencv-python-headless over opencv-contrib-python's cv2.
# Measured on a 2-core CI-like machine: ~2 min wall (105 CPU-s) for the detectron2 compile,
# ~5 s for DensePose, the requirements from PyPI in seconds.
set -euo pipefail
shared="${GAITPREP_SHARED:?set GAITPREP_SHARED to the shared/ folder}"
tarball="$(ls "$shared"/vendor/detectron2-*.tar.gz 2>/dev/null | sort | tail -n 1 || true)"
[ -n "$tarball" ] || { echo "install_detectron2: no detectron2-*.tar.gz in $shared/vendor" >&2; exit 1; }
python -c "import torch" || { echo "install_detectron2: torch must be installed first" >&2; exit 1; }

src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
tar xzf "$tarball" -C "$src"

t0=$SECONDS
python -m pip install -q "setuptools>=75" wheel \
    "Pillow>=7.1" matplotlib "pycocotools>=2.0.2" "termcolor>=1.1" "yacs>=0.1.8" tabulate cloudpickle \
    "tqdm>4.29.0" "fvcore>=0.1.5,<0.1.6" "iopath>=0.1.7,<0.1.10" "omegaconf>=2.1,<2.4" "hydra-core>=1.1" \
    black packaging "av>=8.0.3" scipy
# a wheel, built here unless $DETECTRON2_WHEELS already holds one (a cache kept between runs;
# it must have been built from the same snapshot against the same torch)
wheels="${DETECTRON2_WHEELS:-$src/wheels}"
whl="$(ls "$wheels"/detectron2-*.whl 2>/dev/null | tail -n 1 || true)"
if [ -z "$whl" ]; then
    MAX_JOBS="${MAX_JOBS:-2}" python -m pip wheel -q --no-build-isolation --no-deps -w "$wheels" "$src/detectron2"
    whl="$(ls "$wheels"/detectron2-*.whl | tail -n 1)"
    echo "install_detectron2: built $(basename "$whl") in $((SECONDS - t0)) s"
fi
python -m pip install -q --no-deps --force-reinstall "$whl"
# from inside the tree: DensePose's setup.py reads ../../detectron2/__init__.py for its version
(cd "$src/detectron2/projects/DensePose" && python -m pip install -q --no-build-isolation --no-deps .)
python -W ignore -c "
import cv2, detectron2, densepose
from detectron2 import _C
assert hasattr(cv2, 'optflow'), 'DensePose install replaced opencv-contrib-python'
print('detectron2', detectron2.__version__, 'with DensePose, from $(basename "$tarball")')"
echo "install_detectron2: $((SECONDS - t0)) s"
