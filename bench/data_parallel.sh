#!/usr/bin/env bash
# Data-parallel training throughput on this machine: `rcnn train` with 1 and
# 2 processes (Gloo over loopback) on the embedded dataset, the same preset,
# the same global batch (strong scaling) and twice the global batch (weak
# scaling). Reads images/s and the time spent in all-reduces per iteration
# from each run's metrics.jsonl (the first 5 iterations are warm-up).
#   bench/data_parallel.sh [RCNN] [ITERS] [PRESET]
set -euo pipefail
RCNN=${1:-build/bin/rcnn}
ITERS=${2:-40}
PRESET=${3:-default}
OUT=$(mktemp -d /tmp/rcnn_dp_bench.XXXX)
trap 'rm -rf "$OUT"' EXIT
echo "machine: $(nproc) cores; preset $PRESET; $ITERS iterations per run; $("$RCNN" --version 2>/dev/null || true)"
run() {  # name nproc batch
  "$RCNN" train --config "$PRESET" --run-dir "$OUT/$1" --nproc "$2" --iters "$ITERS" \
    --set solver.batch_size="$3" --set solver.eval_period=0 --set solver.log_period=1 \
    --set solver.checkpoint_period=0 --eval-images 1 >"$OUT/$1.log" 2>&1
  /usr/bin/python3 - "$OUT/$1/metrics.jsonl" "$1" "$2" "$3" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
rows = [r for r in rows if r["iter"] > 5]
n, b = int(sys.argv[3]), int(sys.argv[4])
dt = rows[-1]["elapsed_s"] - rows[0]["elapsed_s"]
ips = (len(rows) - 1) * n * b / dt
ar = sum(r.get("allreduce_ms", 0.0) for r in rows[1:]) / (len(rows) - 1)
it = 1000 * dt / (len(rows) - 1)
print(f'{sys.argv[2]:<22} {n} x {b:<3} global {n*b:<3} {ips:7.1f} img/s  {it:7.1f} ms/iter  all-reduce {ar:6.1f} ms/iter')
with open(sys.argv[1] + ".ips", "w") as f: f.write(str(ips))
PY
}
run one_x16 1 16
run two_x8 2 8
run two_x16 2 16
/usr/bin/python3 - "$OUT" <<'PY'
import sys
d = sys.argv[1]
one, s, w = (float(open(f"{d}/{n}/metrics.jsonl.ips").read()) for n in ("one_x16", "two_x8", "two_x16"))
print(f"speed-up over 1 process: {s/one:.2f}x at the same global batch, {w/one:.2f}x at twice the global batch")
PY
