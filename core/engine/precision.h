#pragma once
// Inference precision: fp32 (the default, what every parity test checks) or
// the opt-in bf16 path for CPUs with AVX-512-BF16 or AMX-BF16, where
// oneDNN's bf16 convolutions and inner products run at several times fp32's
// rate. Within a PrecisionScope(BF16) LibTorch's CPU autocast runs this
// thread's convolutions and matrix products in bf16; the models cast each
// stage's outputs back to fp32 (modeling/precision.h), so anchors, decoding,
// NMS, RoIAlign's sampling and post-processing stay fp32.
#include <torch/types.h>

#include <string>

namespace rcnn::engine {

enum class Precision { FP32, BF16 };

// "fp32" or "bf16"; throws std::invalid_argument naming the value otherwise.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision p);

// Whether this CPU has bf16 arithmetic (the avx512_bf16 or amx_bf16 flag);
// `why` (when false) names the CPU and what it lacks.
bool cpu_has_bf16(std::string* why = nullptr);

// Throws std::invalid_argument with a clear message where `p` cannot run on
// `device` (bf16 on a CPU without it; bf16 on CUDA is not offered).
void check_precision(Precision p, const torch::Device& device);

// This thread's inference precision while it lives (nests).
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

}  // namespace rcnn::engine
