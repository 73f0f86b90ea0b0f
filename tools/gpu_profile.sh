#!/usr/bin/env bash
# Profiles of the GPU slice's runs that reach the smallest fraction of their bare loops (tools/gpu_profile.py), on the
# device like tools/gpu_slice.sh, each under its own time limit, the log line-buffered so a cut run still reports:
#   run(command="OUT=$OUT bash tools/gpu_profile.sh", carry=[".carry"], timeout_s=300)
# Measured on an H200: BSC-IC (3,200 images, one epoch) took 71 s of command time on a warm machine (data decoded).
# ICBPL (2,000 images at 224 px, its Barlow Twins epoch and one epoch of its own) did not finish in 240 s under the
# profiler; it runs last, on 500 images. On a fresh machine the three profiles all ran past their limits (340 s of
# command time, nothing written) when the CIFAR-10 decoding fell inside the first one's 120 s: the data are decoded
# first now, outside the profiles' limits (~40 s on 16 cores; nothing on a machine where gpu_slice.sh ran).
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY="${CARRY:-$PWD/.carry}"; OUT="${OUT:-gpu-profile-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD:$CARRY/site${PYTHONPATH:+:$PYTHONPATH}" DEEPCLUST_DATA="$CARRY/data"
export DEEPCLUST_CACHE="${DEEPCLUST_CACHE:-$PWD/gpu-slice-cache}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
{
python -c "from deepclust_nb.data import load_dataset; print('cifar10:', len(load_dataset('cifar10').x), 'images decoded')"
timeout 120 python tools/gpu_profile.py bscic --subset 3200 --epochs 1 --out "$OUT"
timeout 60 python tools/gpu_profile.py dcsc --subset 10000 --epochs 1 --param image_size=32 --out "$OUT"
timeout 100 python tools/gpu_profile.py icbpl --subset 500 --epochs 2 --param bt_epochs=1 --out "$OUT"
} 2>&1 | grep --line-buffered -v "^USDT" | tee "$OUT/profile.log"
