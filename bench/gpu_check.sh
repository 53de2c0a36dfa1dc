#!/usr/bin/env bash
# GPU check: anomaly_score in SQL on CUDA at bf16, 128-token session texts, against a plain
# batched transformers forward pass (fp32) on the same texts and the same model.
#
#   bash bench/gpu_check.sh                  # CUDA when torch sees a GPU, else a CPU smoke run
#   bash bench/gpu_check.sh --cpu-smoke      # force the small, slow CPU run
#   bash bench/gpu_check.sh --sessions 500000 [any other `duckbert bench speed` option]
#
# Prints rows/s, tokens/s, GPU memory (torch.cuda.max_memory_allocated), the ratio to the
# plain forward pass and the goal: >= 20,000 sessions/s for the default model (all-MiniLM-L6-v2)
# at 128 tokens on one H200-class GPU. Full results: $OUT/gpu_check.json (OUT defaults to
# $TMPDIR/duckbert-gpu-check). Uses .venv when it exists; otherwise creates it, keeping a CUDA torch that
# the system Python already has (never replacing it by the CPU wheel).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODE=auto
SESSIONS=""
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-smoke) MODE=cpu ;;
        --sessions) SESSIONS="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) EXTRA+=("$1") ;;
    esac
    shift
done

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
PY=.venv/bin/python

if [ "$MODE" = auto ]; then
    if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        MODE=cuda
    else
        MODE=cpu
        echo "gpu_check: torch sees no CUDA GPU; running the small CPU smoke instead"
    fi
fi

OUT_DIR="${OUT:-${TMPDIR:-/tmp}/duckbert-gpu-check}"
mkdir -p "$OUT_DIR"
JSON="$OUT_DIR/gpu_check.json"
if [ "$MODE" = cuda ]; then
    "$PY" -c "import torch; p = torch.cuda.get_device_properties(0); \
print(f'gpu_check: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}')"
    ARGS=(--device cuda --precision "${PRECISION:-bf16}" --sessions "${SESSIONS:-200000}"
          --sample 0 --rounds "${ROUNDS:-2}" --naive-rows 64)
else
    ARGS=(--device cpu --precision "${PRECISION:-auto}" --sessions "${SESSIONS:-96}"
          --sample 0 --rounds 1 --naive-rows 4)
fi
ARGS+=(--text-tokens 128 --skip-rebuild --no-docs --out "$JSON"
       --work-dir "$OUT_DIR/gpu_check_work")

START=$(date +%s)
"$PY" -c "from duckbert.cli import main; main()" bench speed "${ARGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"}
echo "gpu_check: finished in $(( $(date +%s) - START ))s"

"$PY" - "$JSON" <<'EOF'
import json, sys

r = json.load(open(sys.argv[1]))
t, m = r["throughput"], r["model"]
run, fp32, plain = t["sql_runtime"], t["sql_fp32"], t["plain"]
goal = 20_000
print()
print(f"== gpu_check summary ({r['machine'].get('gpu') or r['machine']['cpu']}) ==")
print(f"texts: {r['texts']['sessions']:,} distinct, mean {r['texts']['mean_tokens']:.0f} tokens")
print(f"anomaly_score in SQL, {run['precision']}:  {run['rows_per_s']:>12,.0f} rows/s  "
      f"{run['tokens_per_s']:>14,.0f} tokens/s")
if run["precision"] != "fp32":
    print(f"anomaly_score in SQL, fp32:  {fp32['rows_per_s']:>12,.0f} rows/s  "
          f"{fp32['tokens_per_s']:>14,.0f} tokens/s")
print(f"plain transformers forward, fp32, batch 64: {plain['rows_per_s']:,.0f} rows/s")
print(f"ratio to the plain forward pass: {run['vs_plain']:.2f}x ({run['precision']}), "
      f"{fp32['vs_plain']:.2f}x (fp32)")
for name, entry in (("runtime", run), ("plain", plain)):
    if "gpu_max_memory_mb" in entry:
        print(f"GPU memory, max allocated ({name}): {entry['gpu_max_memory_mb']:,.0f} MiB")
if "bf16_matmul_peak_gflops" in t:
    print(f"model FLOP utilisation vs measured bf16 matmul peak "
          f"({t['bf16_matmul_peak_gflops'] / 1000:,.0f} TFLOP/s): "
          f"{run['model_flop_utilisation_vs_bf16_peak']:.0%}")
met = run["rows_per_s"] >= goal
where = "" if r["machine"]["device"].startswith("cuda") else " (CPU smoke: not expected)"
print(f"goal >= {goal:,} sessions/s at 128 tokens on one H200-class GPU: "
      f"{'met' if met else 'NOT met'}{where}")
EOF
