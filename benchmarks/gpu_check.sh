#!/usr/bin/env bash
# GPU check: the engine-speed comparison on a CUDA device, plus resnet8x4 train-step images/s (fp32, bf16,
# bf16 channels_last) and a calibrated hardware profile (resnet8x4, resnet32x4), in one JSON with the GPU named.
#
# Usage: benchmarks/gpu_check.sh [CIFAR10_DIR] [--smoke]
#   CIFAR10_DIR  a directory with CIFAR-10 in any layout uniads-bench reads (the full 50k train split);
#                else the shared CIFAR-10 JPEG parquet if this checkout can see it, else random pixels.
#   --smoke      a few batches on whatever device is present (CPU here), to test the script itself.
# Writes $OUT/gpu_check.json when OUT is set (the device machine), else benchmarks/results/gpu_check.json
# (gpu_check_smoke.json with --smoke). Sized to finish within 5 minutes on one recent GPU (2 epochs of 50k
# images per arm); a hard limit of GPU_CHECK_TIMEOUT seconds (default 300) stops it regardless.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # the package, installed or not
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"

SMOKE=0
DATA=""
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) DATA="$arg" ;;
  esac
done
if [ -z "$DATA" ]; then
  for candidate in "$ROOT/shared/data/cifar10-jpeg" "$ROOT/../shared/data/cifar10-jpeg"; do
    if [ -d "$candidate" ]; then DATA="$candidate"; break; fi
  done
fi
DATA_ARGS=(--no-data)
if [ -n "$DATA" ]; then DATA_ARGS=(--data "$DATA"); fi

if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  DEVICE=cuda
elif [ "$SMOKE" = 1 ]; then
  DEVICE=cpu
else
  echo "gpu_check: no CUDA device visible to torch; run with --smoke to test the script on CPU" >&2
  exit 2
fi

OUT_DIR="${OUT:-$ROOT/benchmarks/results}"
mkdir -p "$OUT_DIR"
if [ "$SMOKE" = 1 ]; then
  SIZE=(--images 128 --val-images 64 --epochs 1 --step-steps 1 --step-batches 64 --threads 2)
  RESULT="$OUT_DIR/gpu_check_smoke.json"
else
  SIZE=(--images 50000 --val-images 10000 --epochs 2 --step-steps 50 --threads "$(nproc)")
  RESULT="$OUT_DIR/gpu_check.json"
fi

if [ "$DEVICE" = cuda ]; then nvidia-smi || true; fi
timeout "${GPU_CHECK_TIMEOUT:-300}" "$PYTHON" benchmarks/engine_speed.py --device "$DEVICE" "${DATA_ARGS[@]}" \
  "${SIZE[@]}" --workers 2 --device-figures --out "$RESULT"
