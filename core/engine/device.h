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
// Also calls tune_allocator() and tune_blas_threads() once.
int init_threads(int threads = 0);

// Keeps freed tensor memory in the process heap instead of returning it to
// the OS after every large free (glibc's default for blocks >= 32 MB and its
// heap trimming), which otherwise costs page faults on every iteration.
// Idempotent; RCNN_MALLOC=default in the environment turns it off.
void tune_allocator();

// Runs OpenBLAS single-threaded (LibTorch parallelizes around its BLAS
// calls; two thread pools on the same cores thrash) unless the user set
// OPENBLAS_NUM_THREADS or OMP_NUM_THREADS. No-op for other BLAS libraries.
void tune_blas_threads();

// /proc/cpuinfo's model name ("this CPU" when it has none) and the vector
// flags that decide the kernels: avx2, avx512f, avx512_vnni, avx512_bf16,
// amx_tile, amx_bf16 (those present, space-separated).
std::string cpu_name();
std::string cpu_vector_flags();

// Which BLAS the process loaded (from /proc/self/maps), for benchmarks/logs.
std::string blas_name();

}  // namespace rcnn::engine
