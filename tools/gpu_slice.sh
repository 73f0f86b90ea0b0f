#!/usr/bin/env bash
# The GPU slice (tools/gpu_slice.py run), from the repository root, on an image with torch but without this project
# installed: the library from the checkout, the EfficientNet-Lite0 packages and the CIFAR-10 archive from the carried
# folder. Results and the log go to $OUT (default: gpu-slice-out); slice.json is rewritten after every step.
#
# Here, once (the data do not travel otherwise: ../shared is not copied to the device machine):
#   python tools/gpu_slice.py prepare             # .carry/: cifar10-jpeg.tar.gz (19 MiB) + the two EfficientNet
#                                                 # packages (18 MiB); .carry is git-ignored, so it travels only by carry
# Then the device call (≈ 6 min of command time by the estimate in tools/gpu_slice.py; the limit leaves room, and a
# second attempt fits in the session's 15 device-minutes):
#   run(command="OUT=$OUT bash tools/gpu_slice.sh", carry=[".carry"], timeout_s=480)
# A rerun on the still-warm machine skips decoding: gpu-slice-cache/ (git-ignored, not carried) is kept there.
# A part only: run(command="OUT=$OUT bash tools/gpu_slice.sh --methods nncc,icbpl", carry=[".carry"], timeout_s=300)
# Back here: python tools/gpu_slice.py package <files_at> (result files for results/gpu, protocols included).
#   CPU check:   bash tools/gpu_slice.sh --device cpu --subset 2000 --budget 2 --quick
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY="${CARRY:-.carry}"; case "$CARRY" in /*) ;; *) CARRY="$PWD/$CARRY";; esac
OUT="${OUT:-gpu-slice-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$CARRY/site${PYTHONPATH:+:$PYTHONPATH}"
export DEEPCLUST_DATA="$CARRY/data"
export DEEPCLUST_CACHE="${DEEPCLUST_CACHE:-$PWD/gpu-slice-cache}"     # fixed: a rerun on a warm machine skips decoding
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python tools/gpu_slice.py run --out "$OUT" "$@" 2>&1 | tee "$OUT/slice.log"
