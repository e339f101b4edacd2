#!/usr/bin/env bash
# Quick start 1: install, build and launch the studio on the embedded dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run-studio: no display; starting under Xvfb (screenshots only). Set DISPLAY to see the window." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" build/bin/rcnn-studio "$@"
fi
exec build/bin/rcnn-studio "$@"
