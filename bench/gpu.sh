#!/usr/bin/env bash
# gaitprep's GPU benchmark in one command (bench/gpu.py does the measuring; docs/flow.md).
#
#   bench/gpu.sh                 # fresh venv + README's install, then the benchmark on CUDA
#   bench/gpu.sh --no-install    # use the ambient python3 as it is (a GPU machine without network)
#   bench/gpu.sh --dry           # CPU dry run: same code, tiny sizes, well under a minute
#
# Options (anything not listed is passed to bench/gpu.py, e.g. --compile, --budget 300,
# --stages tvl1 yolo, --reference ref.npz, --start 50):
#   --no-install        do not create a venv or install; run with $PYTHON (default python3)
#   --venv DIR          venv to create/use for the install (default $TMPDIR/gaitprep-bench-venv, outside the clone)
#   --wheels DIR        offline: with the install, pip install --no-index --find-links DIR;
#                       with --no-install, pip install --no-deps --target <tmp> DIR/*.whl and
#                       put <tmp> on PYTHONPATH (packages the machine's python3 lacks)
#   --dry               = --device cpu --tiny (implies --no-install unless --venv is given)
#   --device D          auto (default) | cuda | cuda:N | cpu
#   --out DIR           results folder (default $OUT, else results/bench_gpu)
#   --video PATH        frames to use (default <data>/videos/gait_normal_01.mp4, where <data>
#                       is $GAITPREP_SHARED/data, else ../shared/data beside the repo)
#   --timeout S         hard limit of the whole benchmark run (default 470 s; install not counted)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
INSTALL=1
VENV=""
WHEELS=""
DRY=0
TIMEOUT=470
PYTHON="${PYTHON:-python3}"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-install) INSTALL=0 ;;
    --venv) VENV="$2"; shift ;;
    --wheels) WHEELS="$2"; shift ;;
    --dry) DRY=1 ;;
    --timeout) TIMEOUT="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
if [[ $DRY == 1 ]]; then
  ARGS=(--device cpu --tiny "${ARGS[@]}")
  [[ -z "$VENV" ]] && INSTALL=0
fi
if [[ -z "${GAITPREP_SHARED:-}" && -d "$REPO/../shared" ]]; then
  export GAITPREP_SHARED="$REPO/../shared"
fi

if [[ $INSTALL == 1 ]]; then
  VENV="${VENV:-${TMPDIR:-/tmp}/gaitprep-bench-venv}"
  echo "== install into $VENV (README's command)" >&2
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
  fi
  PIP=("$VENV/bin/python" -m pip install -q)
  [[ -n "$WHEELS" ]] && PIP+=(--no-index --find-links "$WHEELS")
  if ! { "${PIP[@]}" -e ".[dev]" && "${PIP[@]}" --no-deps --force-reinstall "opencv-contrib-python<4.14"; }; then
    echo "bench/gpu.sh: the install failed (no network? then rerun with --no-install to use the machine's" \
         "python3 and its torch, or --wheels DIR with wheels carried there)" >&2
    exit 2
  fi
  PYTHON="$VENV/bin/python"
fi

if [[ $INSTALL == 0 && -n "$WHEELS" ]]; then
  # no venv, no network: wheels carried in DIR go to a private folder on PYTHONPATH
  SITE="$(mktemp -d)/site"
  echo "== pip install --no-index --no-deps --target $SITE $WHEELS/*.whl" >&2
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl || exit 2
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

# what is missing, said up front without importing anything (bench/gpu.py repeats it per stage)
"$PYTHON" - <<'EOF' >&2 || exit 2
import importlib.util, sys
if importlib.util.find_spec("torch") is None:
    sys.exit(f"bench/gpu.sh: {sys.executable} cannot import torch: drop --no-install (installs README's "
             "command), or set PYTHON=/path/to/a/python/with/torch")
need = {"cv2": "opencv-contrib-python<4.14 (OpenCV reference + EPE)", "ptlflow": "ptlflow==0.4.2 (GMFlow)",
        "ultralytics": "ultralytics (YOLOv8)"}
for mod, what in need.items():
    if importlib.util.find_spec(mod) is None:
        print(f"bench/gpu.sh: missing package {what}: its stage will be reported as skipped")
EOF
export PYTHONPATH="$REPO/src:$REPO/bench${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
echo "== $PYTHON bench/gpu.py ${ARGS[*]}" >&2
exec timeout --kill-after=10 "$TIMEOUT" "$PYTHON" "$REPO/bench/gpu.py" "${ARGS[@]}"
