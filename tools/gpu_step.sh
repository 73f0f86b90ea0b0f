#!/usr/bin/env bash
# The prepared GPU command (tools/gpu_step.py run), from the repository root, on an image with torch but without this
# project installed: the library from the checkout, CIFAR-10 from the carried folder (python tools/gpu_slice.py prepare).
#   run(command="OUT=$OUT bash tools/gpu_step.sh", carry=[".carry"], timeout_s=570)
#   CPU check:   bash tools/gpu_step.sh --device cpu --subset 1000 --budget 2 --steps 3 --quick
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY="${CARRY:-.carry}"; case "$CARRY" in /*) ;; *) CARRY="$PWD/$CARRY";; esac
OUT="${OUT:-gpu-step-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$CARRY/site${PYTHONPATH:+:$PYTHONPATH}"
export DEEPCLUST_DATA="$CARRY/data"
export DEEPCLUST_CACHE="${DEEPCLUST_CACHE:-$PWD/gpu-slice-cache}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python tools/gpu_step.py run --out "$OUT" "$@" 2>&1 | tee "$OUT/step.log"
