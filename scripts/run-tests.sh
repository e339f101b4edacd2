#!/usr/bin/env bash
# Quick start 2: install, build and run the whole test suite (GUI tests under Xvfb).
#   scripts/run-tests.sh             the test command CI runs (build/)
#   scripts/run-tests.sh --sanitize  the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#                                    (build-asan/; the project's code only, libraries as packaged)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  BUILD_DIR=build-asan CMAKE_ARGS="-DRCNN_SANITIZE=ON" scripts/setup.sh
  # Leaks are reported except those of the packaged libraries (tests/sanitize/lsan.supp names only those);
  # the first error of any kind fails its test.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_odr_violation=0:verify_asan_link_order=0:${ASAN_OPTIONS:-}"
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitize/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
  # Plugins stay mapped until exit, so their leaks are named (tests/sanitize/keep_loaded.cpp). It comes before
  # ASan's runtime in the library list, which ASan accepts with verify_asan_link_order=0.
  export LD_PRELOAD="$PWD/build-asan/librcnn_keep_loaded.so"
  export RCNN_THREADS="${RCNN_THREADS:-$(nproc)}"
  xvfb-run -a -s "-screen 0 1600x1000x24" ctest --test-dir build-asan --output-on-failure --timeout 2400 -j1
  exit
fi
scripts/setup.sh
export RCNN_THREADS="${RCNN_THREADS:-$(nproc)}"
xvfb-run -a -s "-screen 0 1600x1000x24" ctest --test-dir build --output-on-failure --timeout 1200 -j1
