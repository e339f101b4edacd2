#include "engine/precision.h"

#include <ATen/autocast_mode.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "engine/device.h"

namespace rcnn::engine {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  throw std::invalid_argument("precision '" + name + "': expected fp32 or bf16");
}

const char* precision_name(Precision p) {
  return p == Precision::BF16 ? "bf16" : "fp32";
}

namespace {
// oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA, or its older name DNNL_MAX_CPU_ISA)
// when it sits below the first ISA with bf16 kernels, else "".
std::string isa_cap_below_bf16() {
  for (const char* var : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    std::string isa = v;
    for (auto& c : isa) c = char(std::toupper(static_cast<unsigned char>(c)));
    const bool bf16 = isa == "ALL" || isa.rfind("AVX512_CORE_BF16", 0) == 0 || isa.rfind("AVX512_CORE_FP16", 0) == 0 ||
                      isa.rfind("AVX512_CORE_AMX", 0) == 0 || isa.rfind("AVX10", 0) == 0;
    if (!bf16) return std::string(var) + "=" + v;
  }
  return "";
}
}  // namespace

bool cpu_has_bf16(std::string* why) {
  const std::string flags = " " + cpu_vector_flags() + " ";
  const bool has = flags.find(" avx512_bf16 ") != std::string::npos || flags.find(" amx_bf16 ") != std::string::npos;
  if (!has && why)
    *why = cpu_name() +
           " has neither AVX-512-BF16 nor AMX-BF16 (its flags lack avx512_bf16 and amx_bf16): bf16 would be "
           "emulated, slower than fp32";
  if (has) {
    if (const auto cap = isa_cap_below_bf16(); !cap.empty()) {
      if (why)
        *why =
            cap + " caps oneDNN below AVX512_CORE_BF16: to its kernels this CPU has neither AVX-512-BF16 nor AMX-BF16";
      return false;
    }
  }
  return has;
}

void check_precision(Precision p, const torch::Device& device) {
  if (p == Precision::FP32) return;
  if (!device.is_cpu()) throw std::invalid_argument("--precision bf16 is the CPU's path (oneDNN); on CUDA use fp32");
  std::string why;
  if (!cpu_has_bf16(&why)) throw std::invalid_argument("--precision bf16: " + why + "; use --precision fp32");
}

PrecisionScope::PrecisionScope(Precision p) {
  if (p != Precision::BF16) return;
  active_ = true;
  was_enabled_ = at::autocast::is_cpu_enabled();
  was_dtype_ = at::autocast::get_autocast_cpu_dtype();
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(was_dtype_);
}

}  // namespace rcnn::engine
