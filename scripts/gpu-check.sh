#!/usr/bin/env bash
# The GPU check: builds the core against PyTorch's LibTorch on a CUDA machine and runs, in one pass, the ops,
# both detector families' inference and training step on CUDA against the CPU (build-gpu/bin/rcnn_gpu_tests,
# tests/gpu/test_gpu.cpp), `rcnn train --device cuda` with --resume where the CLI could be built, and
# rcnn_bench --device cuda beside torchvision on the same GPU; then a summary.
#
#   scripts/gpu-check.sh --fetch-deps   here (Debian, apt): the small libraries the GPU machine lacks, as .deb
#                                       files in .gpu-deps/ (GoogleTest, Google Benchmark, nlohmann-json), to
#                                       carry there (device tool: carry [".gpu-deps"])
#   scripts/gpu-check.sh --dry-run      prints every step with its command, runs nothing
#   scripts/gpu-check.sh --quick        on the GPU machine: configure, build the checks, run the ops check only
#                                       (a wrong assumption costs a minute, not ten)
#   scripts/gpu-check.sh                on the GPU machine: everything; OUT=dir keeps the logs and summary
#
# What the GPU machine has (device tool, nvidia-h200): CUDA, CMake, Ninja, Python with PyTorch 2.x (its
# LibTorch at torch.utils.cmake_prefix_path), no Qt, no OpenCV, no apt. So the build there is the core, the
# checks and the benchmark (RCNN_BUILD_UI=OFF; RCNN_BUILD_DATA=ON only where OpenCV is found, which brings
# the CLI and the Session).
set -uo pipefail
cd "$(dirname "$0")/.."
mode="full"
case "${1:-}" in
  --dry-run) mode="dry" ;;
  --quick) mode="quick" ;;
  --fetch-deps) mode="fetch" ;;
  "") ;;
  *) echo "gpu-check: unknown option '$1' (--dry-run, --quick, --fetch-deps)" >&2; exit 2 ;;
esac
OUT="${OUT:-build-gpu/check}"
DEPS_DEBS=(libgtest-dev googletest libbenchmark-dev libbenchmark1debian nlohmann-json3-dev)

if [ "$mode" = fetch ]; then
  mkdir -p .gpu-deps
  grep -qx '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >> .git/info/exclude
  (cd .gpu-deps && apt-get download "${DEPS_DEBS[@]}")
  ls -l .gpu-deps
  exit
fi

steps=()
summary=()
step() {  # step NAME COMMAND...: run it (or print it), log it, record the verdict
  local name="$1"
  shift
  if [ "$mode" = dry ]; then
    printf '%-28s %s\n' "$name" "$*"
    return 0
  fi
  local log="$OUT/$name.log"
  local t0=$SECONDS
  echo "== $name: $*"
  if bash -c "$*" > "$log" 2>&1; then
    summary+=("$(printf '%-28s PASS %4ds' "$name" $((SECONDS - t0)))")
  else
    summary+=("$(printf '%-28s FAIL %4ds  (%s)' "$name" $((SECONDS - t0)) "$log")")
    tail -20 "$log"
    return 1
  fi
}

if [ "$mode" != dry ]; then
  mkdir -p "$OUT"
fi
PY="${PYTHON:-python3}"
# The carried libraries, unpacked beside the build (dpkg -x: no root, no apt).
prefix_deps=""
if [ -d .gpu-deps ] && [ "$mode" != dry ]; then
  mkdir -p build-gpu/deps
  for d in .gpu-deps/*.deb; do dpkg -x "$d" build-gpu/deps; done
  prefix_deps="$PWD/build-gpu/deps/usr"
fi
torch_prefix='$('"$PY"' -c "import torch; print(torch.utils.cmake_prefix_path)")'
data=OFF
if pkg-config --exists opencv4 2>/dev/null; then data=ON; fi
nvcc_flag=""
if command -v nvcc >/dev/null; then nvcc_flag="-DCMAKE_CUDA_COMPILER=$(command -v nvcc)"; fi

step preflight "nvidia-smi -L && $PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0))'"
step configure "cmake -G Ninja -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=\"$torch_prefix;$prefix_deps\" \
  -DRCNN_BUILD_UI=OFF -DRCNN_BUILD_DATA=$data -DRCNN_WITH_GLOO=OFF -DRCNN_BUILD_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES=90 $nvcc_flag" || exit 1
step build-checks "cmake --build build-gpu --target rcnn_gpu_tests --parallel \$(nproc)" || exit 1
step ops "build-gpu/tests/rcnn_gpu_tests --gtest_filter=Gpu.OpsMatchTheCpu"
if [ "$mode" != quick ]; then
  step families "build-gpu/tests/rcnn_gpu_tests --gtest_filter=-Gpu.OpsMatchTheCpu"
  step build-bench "cmake --build build-gpu --target rcnn_bench --parallel \$(nproc)"
  # Ours and torchvision on the same GPU in the same run, case by case (a table with the ratios).
  step bench-vs-torchvision "$PY bench/compare_torchvision.py --build build-gpu --device cuda --reps 10 \
    --only BM_InferSeed/1 BM_InferSeed/16 BM_TvResNet50FPN BM_TrainStepSeed > $OUT/bench.md"
  if [ "$data" = ON ]; then
    step build-cli "cmake --build build-gpu --target rcnn --parallel \$(nproc)"
    step train-cuda "build-gpu/bin/rcnn train --config fast --device cuda --out $OUT/runs --name gpu --iters 6 --set solver.batch_size=4"
    step resume-cuda "build-gpu/bin/rcnn train --config fast --device cuda --out $OUT/runs --name gpu --iters 10 --resume"
    step train-nccl "build-gpu/bin/rcnn train --config fast --device cuda --nproc 1 --out $OUT/runs --name nccl --iters 4"
  else
    summary+=("$(printf '%-28s SKIP       (no OpenCV on this machine: no CLI, no Session trace)' train-cuda)")
  fi
fi
if [ "$mode" = dry ]; then exit 0; fi
{
  echo "GPU check summary ($(date -u +%FT%TZ), $($PY -c 'import torch; print(torch.cuda.get_device_name(0))' 2>/dev/null))"
  printf '%s\n' "${summary[@]}"
  if [ -f "$OUT/bench.md" ]; then cat "$OUT/bench.md"; fi
} | tee "$OUT/summary.txt"
grep -q FAIL "$OUT/summary.txt" && exit 1
exit 0
