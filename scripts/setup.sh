#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks (as root, via apt-get) and
# builds RCNN Studio in ./build (Release, Ninja, ccache). Idempotent: a
# second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake ninja-build ccache pkg-config python3
  libtorch-dev libgloo-dev libopenblas0-pthread python3-torchvision
  qt6-base-dev libqt6opengl6-dev qt6-charts-dev qt6-qpa-plugins libgl-dev libgl1-mesa-dri
  libopencv-dev libimgui-dev libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libpugixml-dev zlib1g-dev libzip-dev
  dataset-fashion-mnist
  xvfb xauth
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's LibTorch calls the generic BLAS; make sure the alternative points
# at OpenBLAS (the reference BLAS is ~30x slower).
if command -v update-alternatives >/dev/null; then
  ob=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
  [ -e "$ob" ] && update-alternatives --set libblas.so.3-x86_64-linux-gnu "$ob" >/dev/null 2>&1 || true
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# BUILD_DIR / CMAKE_ARGS: another build (scripts/run-tests.sh --sanitize uses build-asan).
BUILD_DIR="${BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # shellcheck disable=SC2086
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
