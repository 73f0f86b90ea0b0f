#!/usr/bin/env bash
# The ablation plan's runs on one GPU (tools/gpu_ablations.py run), from the repository root, on an image with torch
# but without this project installed: the library from the checkout, the MNIST and Fashion-MNIST test files from the
# carried folder. ablations.json and the log go to $OUT (default: gpu-ablations-out), rewritten after every run.
#
# Here, once:   python tools/gpu_ablations.py prepare            # .carry/data: the two test sets (6 MiB), git-ignored
# The device call (no run starts that would end after 550 s, by the longest run of its method so far):
#   run(command="OUT=$OUT bash tools/gpu_ablations.sh", carry=[".carry"], timeout_s=590)
# Back here:    python tools/gpu_ablations.py package <files_at>
# CPU check:    bash tools/gpu_ablations.sh --device cpu --epochs 1 --subset 200 --jobs 2 --only <run> --checks <run>   (tests/test_gpu_ablations.py)
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY="${CARRY:-.carry}"; case "$CARRY" in /*) ;; *) CARRY="$PWD/$CARRY";; esac
OUT="${OUT:-gpu-ablations-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DEEPCLUST_DATA="$CARRY/data"
export DEEPCLUST_CACHE="${DEEPCLUST_CACHE:-$PWD/gpu-ablations-cache}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python tools/gpu_ablations.py run --out "$OUT" "$@" 2>&1 | tee "$OUT/ablations.log"
