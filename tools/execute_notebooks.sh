#!/usr/bin/env bash
# Execute notebooks in place so they are committed with their outputs (figures, tables, results), then clean them
# with nbdev_clean (which keeps outputs). Default: the method notebooks and the index.
#   bash tools/execute_notebooks.sh [nbs/32_methods.dcsc.ipynb ...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d ../shared/data ] && [ -z "${DEEPCLUST_DATA:-}" ]; then export DEEPCLUST_DATA="$(cd ../shared/data && pwd)"; fi
export MPLBACKEND=module://matplotlib_inline.backend_inline DEEPCLUST_RUNS="${DEEPCLUST_RUNS:-$(mktemp -d)}"
nbs=("$@"); [ ${#nbs[@]} -eq 0 ] && nbs=(nbs/3*_methods.*.ipynb nbs/index.ipynb)
for nb in "${nbs[@]}"; do
  echo "== $nb"
  papermill "$nb" "$nb" --cwd nbs --no-progress-bar -k python3
  nbdev_clean --fname "$nb"
  python -c "import os,sys; s=os.path.getsize(sys.argv[1]); print(f'{sys.argv[1]}: {s/1e6:.2f} MB'); sys.exit(s >= 1e6)" "$nb"
done
