#pragma once
#include <torch/types.h>

#include <string>

namespace rcnn::engine {

// "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N".
// Throws std::invalid_argument naming the spec when it is malformed or CUDA
// is not available.
torch::Device resolve_device(const std::string& spec);

// Debian's LibTorch starts with one intra-op thread; use every core unless
// $RCNN_THREADS or `threads` (> 0) says otherwise. Returns the count set.
int init_threads(int threads = 0);

// Which BLAS the process loaded (from /proc/self/maps), for benchmarks/logs.
std::string blas_name();

}  // namespace rcnn::engine
