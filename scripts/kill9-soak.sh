#!/usr/bin/env bash
# kill -9 soak of training: `rcnn train` (fast preset, batch 2, a checkpoint
# every 3 iterations) is killed with SIGKILL KILLS times at random moments,
# every third time while a checkpoint is being written, and resumed each
# time; at the end the checkpoint must load, the iterations be continuous,
# metrics.jsonl hold every iteration once with no torn line, and the weights
# equal an uninterrupted run's bit for bit. Then a full disk and a read-only
# run directory (tmpfs mounts; needs root). The test suite runs the short
# version (4 kills, 40 iterations).
#   scripts/kill9-soak.sh [KILLS=20] [ITERS=200] [SEED=7]
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-20} ITERS=${2:-200} SEED=${3:-7}
[ -x build/tests/rcnn_reliability_tests ] || cmake --build build --target rcnn_reliability_tests
RCNN_SOAK_KILLS=$KILLS RCNN_SOAK_ITERS=$ITERS RCNN_SOAK_SEED=$SEED RCNN_RESOURCES=$PWD/resources \
  build/tests/rcnn_reliability_tests --gtest_color=no
