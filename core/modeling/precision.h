#pragma once
// The end of a stage under engine::PrecisionScope(BF16): its outputs back
// to fp32 (anchors, decoding, NMS, RoIAlign and post-processing run in
// fp32). A no-op for fp32 tensors.
#include <torch/torch.h>

#include <vector>

namespace rcnn::modeling {

inline torch::Tensor fp32(const torch::Tensor& t) {
  return t.defined() && t.scalar_type() == torch::kBFloat16 ? t.to(torch::kFloat) : t;
}
inline void fp32(std::vector<torch::Tensor>& ts) {
  for (auto& t : ts) t = fp32(t);
}

}  // namespace rcnn::modeling
