#!/usr/bin/env bash
# Quick start 2: install, build and run the whole test suite (GUI tests under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export RCNN_THREADS="${RCNN_THREADS:-$(nproc)}"
xvfb-run -a -s "-screen 0 1600x1000x24" ctest --test-dir build --output-on-failure --timeout 1200 -j1
