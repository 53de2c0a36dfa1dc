#!/usr/bin/env bash
# GPU check: the whole job on one GPU, timed (duckbert/benchmarks/gpu_check.py).
#
#   bash bench/gpu_check.sh                 # on a CUDA machine: 200,000 sessions, < 8 min on one H200
#   bash bench/gpu_check.sh --dry-run       # every step on the CPU at tiny sizes (the test suite runs it)
#   bash bench/gpu_check.sh --sessions 500000 [other `duckbert bench gpu` options]
#
# Generates a warehouse, loads and `dbt build`s it, trains a head and one fine-tuning epoch on a
# sample, then scores every distinct session text in SQL at the approved precision, against fp32
# and a plain torch forward on the same GPU: sessions/s, utilisation, peak memory, flag
# agreement with fp32. Writes docs/BENCHMARKS.md (GPU section) and $OUT/gpu_check.json when $OUT
# is set. Without a CUDA GPU (and without --dry-run) it fails and says why.
# Uses .venv when it exists; otherwise creates it, keeping a CUDA torch that the system Python
# already has (never replacing it by the CPU wheel).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${1:-}" in -h|--help) sed -n '2,14p' "$0"; exit 0 ;; esac

SYSTEM_PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    if "$SYSTEM_PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
            2>/dev/null; then
        echo "gpu_check: creating .venv on the system's CUDA torch (--system-site-packages)"
        "$SYSTEM_PYTHON" -m venv --system-site-packages .venv
    else
        echo "gpu_check: creating .venv with the CPU torch build (${TORCH_SPEC:-torch==2.13.0})"
        "$SYSTEM_PYTHON" -m venv .venv
        .venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
    fi
    .venv/bin/python -m pip install -q -e . || {
        echo "gpu_check: could not install duckbert's dependencies into .venv" >&2
        exit 1
    }
fi

ARGS=()
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    ARGS+=(--out "$OUT/gpu_check.json")
fi
START=$(date +%s)
.venv/bin/python -c "from duckbert.cli import main; main()" bench gpu ${ARGS[@]+"${ARGS[@]}"} "$@"
echo "gpu_check: finished in $(( $(date +%s) - START ))s"
