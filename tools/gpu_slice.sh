#!/usr/bin/env bash
# The GPU slice (tools/gpu_slice.py run), from the repository root, on an image with torch but without this project
# installed: the library from the checkout, the EfficientNet-Lite0 packages and the CIFAR-10 archive from the carried
# folder (made here by `python tools/gpu_slice.py prepare`). Results and the log go to $OUT (default: gpu-slice-out).
#   device run:  bash tools/gpu_slice.sh                      (carry: .carry)
#   CPU check:   bash tools/gpu_slice.sh --device cpu --subset 2000 --budget 2 --quick
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY="${CARRY:-.carry}"; case "$CARRY" in /*) ;; *) CARRY="$PWD/$CARRY";; esac
OUT="${OUT:-gpu-slice-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$CARRY/site${PYTHONPATH:+:$PYTHONPATH}"
export DEEPCLUST_DATA="$CARRY/data"
export DEEPCLUST_CACHE="${DEEPCLUST_CACHE:-$(mktemp -d)}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python tools/gpu_slice.py run --out "$OUT" "$@" 2>&1 | tee "$OUT/slice.log"
