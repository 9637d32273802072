#!/usr/bin/env bash
# Runs the standard workloads W1-W5 on wengert (benches/src/bin/compare.rs) and, if a PyTorch
# environment exists at $PEERS (default /tmp/peers, made by ../shared/bench/setup_peers.sh), on
# PyTorch (../shared/bench/pytorch_workloads.py), then prints a markdown ratio table joined on
# (workload, threads). ratio = PyTorch median / wengert median (> 1: wengert is faster).
#
# Usage: benches/compare.sh [THREADS (default 1,2)] [extra compare args, e.g. --min-time 1]
# The JSON lines are kept in $OUT (default target/compare/{wengert,pytorch}.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${1:-1,2}"
shift || true
PEERS="${PEERS:-/tmp/peers}"
OUT="${OUT:-target/compare}"
mkdir -p "$OUT"
cargo build --release -q -p benches --bin compare
echo "wengert: target/release/compare --threads $THREADS $*" >&2
target/release/compare --threads "$THREADS" "$@" | tee "$OUT/wengert.jsonl" >&2
rm -f "$OUT/pytorch.jsonl"
PYSCRIPT="$(pwd)/../shared/bench/pytorch_workloads.py"
if [[ -x "$PEERS/bin/python" && -f "$PYSCRIPT" ]]; then
    echo "pytorch: $PEERS/bin/python $PYSCRIPT ${THREADS//,/ }" >&2
    # shellcheck disable=SC2086
    "$PEERS/bin/python" "$PYSCRIPT" ${THREADS//,/ } | tee "$OUT/pytorch.jsonl" >&2
    # Peak memory of 100 W4 steps, each thread count in a fresh process (as ours).
    for t in ${THREADS//,/ }; do
        "$PEERS/bin/python" benches/pytorch_lstm_maxrss.py "$t" fused | tee -a "$OUT/pytorch.jsonl" >&2
    done
else
    echo "pytorch: $PEERS/bin/python not found; wengert only (see ../shared/bench/WORKLOADS.md)" >&2
fi
python3 - "$OUT/wengert.jsonl" "$OUT/pytorch.jsonl" <<'PY'
import json, os, sys
def load(p):
    if not os.path.exists(p):
        return {}
    return {(r["workload"], r["threads"]): r for r in map(json.loads, open(p)) if r}
ours, torch = load(sys.argv[1]), load(sys.argv[2])
# Ours-only rows get a reference: raw sgemm for matmul, PyTorch's primitive LSTM for lstm.
print("| workload | threads | wengert median us | extra | PyTorch median us | PyTorch / wengert |")
print("|---|---|---|---|---|---|")
for (w, t), r in ours.items():
    keys = ("gflops", "ns_per_op", "max_rss_kib", "max_rss_growth_kib")
    extra = ", ".join(f"{k} {r[k]}" for k in keys if k in r)
    p = torch.get((w, t))
    pm = f"{p['median_us']:.1f}" if p else ""
    ratio = f"{p['median_us'] / r['median_us']:.2f}" if p else ""
    if p and "max_rss_kib" in p:
        pm += f" (max_rss_kib {p['max_rss_kib']}, growth {p['max_rss_growth_kib']})"
    print(f"| {w} | {t} | {r['median_us']:.1f} | {extra} | {pm} | {ratio} |")
    if w == "lstm" and (w + "_primitive", t) in torch:
        q = torch[(w + "_primitive", t)]
        print(f"| lstm vs lstm_primitive | {t} | {r['median_us']:.1f} | | {q['median_us']:.1f} | "
              f"{q['median_us'] / r['median_us']:.2f} |")
# Ratios to raw sgemm in the same run (the W1 targets).
rows = [(w, t) for (w, t) in ours if w.startswith("matmul_")]
if rows:
    print("\n| workload | threads | wengert / raw sgemm (speed) |")
    print("|---|---|---|")
    for w, t in rows:
        raw = ours.get((w.replace("matmul_", "sgemm_"), t))
        if raw:
            print(f"| {w} | {t} | {raw['median_us'] / ours[(w, t)]['median_us']:.2f} |")
PY
