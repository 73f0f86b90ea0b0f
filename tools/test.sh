#!/usr/bin/env bash
# The whole test suite: every notebook's lesson cells (nbdev_test), then papermill runs and plain tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d ../shared/data ] && [ -z "${DEEPCLUST_DATA:-}" ]; then export DEEPCLUST_DATA="$(cd ../shared/data && pwd)"; fi
if [ -d ../shared/papers ] && [ -z "${DEEPCLUST_PAPERS:-}" ]; then export DEEPCLUST_PAPERS="$(cd ../shared/papers && pwd)"; fi
export MPLBACKEND=Agg
# unused imports and names first: seconds, and CI refuses a change that has them
ruff check --select F deepclust_nb tests tools
# two notebooks at a time, one torch thread each (two workers × N threads oversubscribe a 2-core machine)
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" nbdev_test --n_workers 2 --timing
python -m pytest -q --durations=10 tests "$@"
