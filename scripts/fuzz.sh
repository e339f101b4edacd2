#!/usr/bin/env bash
# libFuzzer on the readers of untrusted files: VOC XML, COCO JSON, the
# config JSON with --set overrides, image decoding with its limits, the
# pickle reader and whole .pth files (torchvision checkpoints), our own
# checkpoints, and captures (.rcnncap).
# Installs clang and its fuzzer runtime if missing, builds tests/fuzz/ into
# build-fuzz/ (ASan + UBSan + coverage), runs each target SECONDS seconds
# from its checked-in corpus (tests/fuzz/corpus/<target>, new inputs go to
# build-fuzz/corpus/<target>) and prints executions and coverage. A crash
# fails the script; its input is left as build-fuzz/crash-<target>-* (add it
# to the corpus and a regression test when fixed).
#   scripts/fuzz.sh [SECONDS=60] [TARGET...]
#   (targets: voc coco config image pickle pth checkpoint capture)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(voc coco config image pickle pth checkpoint capture)
need=()
for p in clang libclang-rt-14-dev libopencv-dev libpugixml-dev nlohmann-json3-dev zlib1g-dev libzip-dev cmake ninja-build libtorch-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The checkpoint and .pth targets link the main build's librcnn_core.a.
[ -f build/build.ninja ] || cmake -G Ninja -S . -B build >/dev/null
cmake --build build --target rcnn_core
[ -f build-fuzz/build.ninja ] || cmake -G Ninja -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ \
  -DRCNN_CORE_LIB="$PWD/build/core/librcnn_core.a" >/dev/null
cmake --build build-fuzz
status=0
printf "%-8s %10s %9s %7s %7s %s\n" target executions exec/s cov ft result
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log="build-fuzz/fuzz_$t.log"
  set +e
  # LibTorch reads sizes from the checkpoint and .pth files and may ask for more memory than there is; without
  # ASan that is std::bad_alloc, which the readers turn into their error, but ASan aborts instead of throwing.
  # Those two targets run in fork mode, which counts such out-of-memory inputs and goes on.
  extra=()
  case $t in pth | checkpoint) extra=(-fork=1 -ignore_ooms=1) ;; esac
  ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "build-fuzz/fuzz_$t" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
    -max_total_time="$SECONDS_EACH" "${extra[@]}" \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" -rss_limit_mb=4096 >"$log" 2>&1
  rc=$?
  set -e
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' ||
    echo "$last" | grep -o '^#[0-9]*' | tr -d '#')
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  eps=$(echo "$last" | grep -oE 'exec/s:? [0-9]*' | grep -o '[0-9]*' || echo "?")
  result=ok
  ooms=$(echo "$last" | grep -o 'oom/timeout/crash: [0-9/]*' | cut -d' ' -f2 | cut -d/ -f1 || true)
  [ -z "$ooms" ] || [ "$ooms" = 0 ] || result="ok ($ooms inputs asked LibTorch for more memory than there is)"
  if [ $rc -ne 0 ]; then result="FAILED (see $log)"; status=1; fi
  printf "%-8s %10s %9s %7s %7s %s\n" "$t" "$runs" "$eps" "$cov" "$ft" "$result"
done
exit $status
