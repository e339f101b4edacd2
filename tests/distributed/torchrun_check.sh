#!/usr/bin/env bash
# torchrun (Debian's python3-torch) starts `rcnn train` as two ranks
# (--no_python: the binary itself, RANK / WORLD_SIZE / MASTER_ADDR /
# MASTER_PORT from torchrun's agent), for the seed's detector and for a
# torchvision model: both ranks complete, rank 0 reports a world of 2 and
# writes the run, metrics.jsonl logs world_size 2.
# Python 3.11's IntFlag no longer iterates Std.NONE, so torch 1.13's
# torchrun crashes on its defaults --redirects 0 / --tee 0; --redirects 1 --tee 2 (each rank's
# stdout to --log_dir) avoids that path.
# Usage: torchrun_check.sh RCNN_BINARY WORK_DIR
set -euo pipefail
rcnn=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
for family in default torchvision_mobilenet_v3_large_fpn; do
  run="$work/$family"
  extra=()
  [[ $family == torchvision_* ]] && extra=(--set torchvision.min_size=128 --set torchvision.max_size=128)
  timeout 600 torchrun --standalone --nproc_per_node=2 --redirects 1 --tee 2 --log_dir "$work/logs_$family" --no_python \
    "$rcnn" train --config "$family" --run-dir "$run" --iters 2 --set solver.batch_size=1 \
    --set solver.eval_period=0 --set solver.log_period=1 "${extra[@]}" > "$work/$family.log" 2>&1 ||
    { cat "$work/$family.log"; find "$work/logs_$family" -name '*.log' -exec tail -20 {} +; exit 1; }
  out0=$(find "$work/logs_$family" -path '*/0/stdout.log')
  out1=$(find "$work/logs_$family" -path '*/1/stdout.log')
  grep -q "data parallel: 2 processes (gloo), global batch 2" "$out0" || { cat "$out0"; exit 1; }
  grep -q "completed 2 iterations" "$out1" || { cat "$out1"; exit 1; }
  grep -q '"world_size":2' "$run/metrics.jsonl" || { cat "$run/metrics.jsonl"; exit 1; }
  [[ -f $run/last.pt ]]
  if [[ $family == torchvision_* ]]; then
    grep -q "the torchvision detector's losses" "$out0" || { cat "$out0"; exit 1; }
    [[ -f $run/last.pth ]]
  fi
  echo "torchrun: $family trained on 2 ranks ($(grep -c '"type":"train"' "$run/metrics.jsonl") logged iterations)"
done
