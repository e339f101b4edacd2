#!/usr/bin/env bash
# Quick start 2: install, build and run the whole test suite (GUI tests under Xvfb).
#   scripts/run-tests.sh             the test command CI runs (build/)
#   scripts/run-tests.sh --sanitize  the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#                                    (build-asan/; the project's code only, libraries as packaged)
#   scripts/run-tests.sh --isa CAP [CTEST ARGS]
#                                    the suite with the CPU kernels capped at CAP (SSE41, AVX, AVX2,
#                                    AVX512_CORE, AVX512_CORE_VNNI, AVX512_CORE_BF16, AVX512_CORE_AMX or ALL):
#                                    oneDNN's ISA cap, OpenBLAS's core type and ATen's vector capability
#                                    together, so one machine runs the kernels another CPU would pick.
#                                    Extra arguments go to ctest, e.g. `-L numeric` for the numeric subset.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--isa" ]; then
  cap="${2:?--isa needs a cap: SSE41, AVX, AVX2, AVX512_CORE, AVX512_CORE_VNNI, AVX512_CORE_BF16, AVX512_CORE_AMX, ALL}"
  shift 2
  # OpenBLAS's kernels for the same instruction set (Debian's OpenBLAS is built for every core type) and
  # ATen's own vectorised kernels (default = no AVX).
  case "$cap" in
    SSE41)                      blas=Nehalem;     aten=default ;;
    AVX)                        blas=Sandybridge; aten=default ;;
    AVX2)                       blas=Haswell;     aten=avx2 ;;
    AVX512_CORE|AVX512_CORE_VNNI) blas=SkylakeX;  aten=avx512 ;;
    AVX512_CORE_BF16)           blas=Cooperlake;  aten=avx512 ;;
    AVX512_CORE_AMX)            blas=SapphireRapids; aten=avx512 ;;
    ALL)                        blas=""; aten="" ;;
    *) echo "run-tests: unknown ISA cap '$cap'" >&2; exit 2 ;;
  esac
  # A cap above the CPU would make OpenBLAS run instructions it lacks: refuse it.
  case "$cap" in
    AVX2) need=avx2 ;; AVX512_CORE) need=avx512bw ;; AVX512_CORE_VNNI) need=avx512_vnni ;;
    AVX512_CORE_BF16) need=avx512_bf16 ;; AVX512_CORE_AMX) need=amx_tile ;; AVX) need=avx ;; SSE41) need=sse4_1 ;;
    *) need="" ;;
  esac
  if [ -n "$need" ] && ! grep -qw "$need" /proc/cpuinfo; then
    echo "run-tests: this CPU lacks $need, so it cannot run the $cap kernels" >&2; exit 2
  fi
  scripts/setup.sh
  export ONEDNN_MAX_CPU_ISA="$cap" DNNL_MAX_CPU_ISA="$cap"
  if [ -n "$blas" ]; then export OPENBLAS_CORETYPE="$blas"; fi
  if [ -n "$aten" ]; then export ATEN_CPU_CAPABILITY="$aten"; fi
  export RCNN_THREADS="${RCNN_THREADS:-$(nproc)}"
  echo "run-tests: ONEDNN_MAX_CPU_ISA=$cap OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto} ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-auto}"
  xvfb-run -a -s "-screen 0 1600x1000x24" ctest --test-dir build --output-on-failure --timeout 1200 -j1 "$@"
  exit
fi
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
