#!/usr/bin/env bash
# The first GPU call: one script that proves and measures every CUDA path, in order of value, writing each
# step's figures to its own JSON the moment they are measured, so a call cut short still returns them.
#
# Usage: benchmarks/gpu_check.sh [CIFAR10_DIR] [--smoke]
#   CIFAR10_DIR  CIFAR-10 in the parquet layout (train/test.parquet); else .gpu-data/cifar10 (the carried subset
#                of the shared copy: benchmarks/gpu_data.py), else the shared copy if this checkout can see it,
#                else images generated into the work directory (learnable, not CIFAR-10).
#   --smoke      every step at toy size on whatever device is present (CPU here): tests the script (CI).
# PYTHON: the interpreter to use (default .venv/bin/python, else python3).
# Wheels: a .whl/ folder (benchmarks/gpu_wheels.py) is installed first, offline, into /tmp/site.
# Writes into $OUT when set (the device machine), else benchmarks/results/gpu_check[_smoke]/:
#   0_env.json        interpreter, torch, CUDA, GPU, uniads-bench imports, nvidia-smi
#   1_digits.json     `uniads-bench digits` end to end on the device: kd + uniads, 2 workers on one GPU, the
#                     teacher cache on the device; board and journal checked like the CPU tests do
#   2_cifar10.json    `uniads-bench run cifar10_cpu` end to end on the device on CIFAR10_DIR (kd + uniads, 2 workers,
#                     data prepared first as a user would), checked like step 1
#   3_precision.json  the same KD training in fp32 and in bf16: top-1 of each and their difference
#   4_engine.json     engine speed: ours (cold/warm teacher cache) against a plain PyTorch KD loop, resnet8x4
#                     train-step images/s in fp32, bf16, bf16 + channels_last, and a measured hardware profile
#   5_cifar100.json   the 240-epoch CIFAR-100 KD run of resnet32x4 -> resnet8x4, extrapolated from step 4
#   6_compile.json    one cifar10_cpu KD final-phase training with and without --compile: seconds and top-1
#   summary.json      every step's exit code and seconds
# Each step has its own time limit; the whole is sized to finish within 8 minutes on one H100/H200.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SMOKE=0
DATA=""
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) DATA="$arg" ;;
  esac
done

PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
if ! "$PYTHON" -c 'import nevergrad, pymoo, datasets' 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || { echo "gpu_check: installing the carried wheels failed" >&2; exit 2; }
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # the package, installed or not
export PYTHONUNBUFFERED=1

if [ -z "$DATA" ]; then
  for candidate in "$ROOT/.gpu-data/cifar10" "$ROOT/shared/data/cifar10-jpeg" "$ROOT/../shared/data/cifar10-jpeg"; do
    if [ -f "$candidate/train.parquet" ]; then DATA="$candidate"; break; fi
  done
fi

if ! "$PYTHON" -c 'import torch, nevergrad, pymoo, datasets' 2>/dev/null; then
  echo "gpu_check: $PYTHON cannot import torch and the suite's packages; set PYTHON to an interpreter that can" >&2
  exit 2
fi
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  DEVICE=cuda
elif [ "$SMOKE" = 1 ]; then
  DEVICE=cpu
else
  echo "gpu_check: no CUDA device visible to torch; run with --smoke to test the script on CPU" >&2
  exit 2
fi

if [ "$SMOKE" = 1 ]; then
  RESULTS="${OUT:-$ROOT/benchmarks/results/gpu_check_smoke}"
  DIGITS=(--budget-scale 0.1 --seeds 0)
  CIFAR10=(--budget-scale 0.1 --seeds 0 --data-limit 1000)
  COMPILE=(--budget-scale 0.1 --seeds 0 --data-limit 1000)
  GENERATE=(--train 1200 --test 300)
  ENGINE=(--images 128 --val-images 64 --epochs 1 --step-steps 1 --step-batches 64 --threads 2)
  LIMITS=(60 400 400 400 400 10 400)  # a 2-core CPU shared with other jobs
else
  RESULTS="${OUT:-$ROOT/benchmarks/results/gpu_check}"
  DIGITS=(--budget-scale 0.3 --seeds 0)
  CIFAR10=(--budget-scale 0.2 --seeds 0 --data-limit 5000)
  COMPILE=(--budget-scale 0.5 --seeds 0 --data-limit 5000)  # a 10-epoch final phase, half the suite's recipe
  GENERATE=(--train 6000 --test 1200)
  ENGINE=(--images 20000 --val-images 2000 --epochs 3 --step-steps 50 --threads "$(nproc)")
  LIMITS=(30 100 80 60 130 10 60)  # 7.8 minutes in all: the device call stays under 8
fi
mkdir -p "$RESULTS"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
GENERATED=()
if [ -z "$DATA" ]; then
  DATA="$WORK/cifar10-generated"
  "$PYTHON" benchmarks/gpu_data.py --generate "${GENERATE[@]}" --out "$DATA" > /dev/null
  GENERATED=(--generated)
fi
STEPS="$WORK/steps.jsonl"
: > "$STEPS"

# step NAME SECONDS COMMAND...: run it under a limit, log to $RESULTS/NAME.log, record its exit code.
step() {
  local name="$1" limit="$2"
  shift 2
  local started=$SECONDS
  echo "== $name (limit ${limit}s)" >&2
  timeout "$limit" "$@" > "$RESULTS/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - started))}" >> "$STEPS"
  "$PYTHON" - "$STEPS" "$RESULTS/summary.json" "$DEVICE" "$SMOKE" <<'PY'
import json, sys
steps = [json.loads(line) for line in open(sys.argv[1])]
json.dump({"device": sys.argv[3], "smoke": sys.argv[4] == "1", "steps": steps}, open(sys.argv[2], "w"), indent=2)
PY
  tail -n 3 "$RESULTS/$name.log" >&2
  return 0
}

step 0_env "${LIMITS[0]}" "$PYTHON" benchmarks/gpu_check_steps.py env --out "$RESULTS/0_env.json"
step 1_digits "${LIMITS[1]}" "$PYTHON" benchmarks/gpu_check_steps.py digits --device "$DEVICE" --work "$WORK/digits" \
  --out "$RESULTS/1_digits.json" -- "${DIGITS[@]}"
step 2_cifar10 "${LIMITS[2]}" "$PYTHON" benchmarks/gpu_check_steps.py cifar10 --device "$DEVICE" --work "$WORK/cifar10" \
  --data "$DATA" "${GENERATED[@]}" --out "$RESULTS/2_cifar10.json" -- "${CIFAR10[@]}"
step 3_precision "${LIMITS[3]}" "$PYTHON" benchmarks/gpu_check_steps.py precision --device "$DEVICE" --work "$WORK/precision" \
  --out "$RESULTS/3_precision.json" -- "${DIGITS[@]}"
step 4_engine "${LIMITS[4]}" "$PYTHON" benchmarks/engine_speed.py --device "$DEVICE" --data "$DATA" "${ENGINE[@]}" \
  --workers 2 --device-figures --out "$RESULTS/4_engine.json"
step 5_cifar100 "${LIMITS[5]}" "$PYTHON" benchmarks/gpu_check_steps.py cifar100 --engine "$RESULTS/4_engine.json" \
  --out "$RESULTS/5_cifar100.json"
step 6_compile "${LIMITS[6]}" "$PYTHON" benchmarks/gpu_check_steps.py compile --device "$DEVICE" --work "$WORK/compile" \
  --cifar10-work "$WORK/cifar10" --out "$RESULTS/6_compile.json" -- "${COMPILE[@]}"
cat "$RESULTS/summary.json"
