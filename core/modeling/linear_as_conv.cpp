#include "modeling/linear_as_conv.h"

#include <ATen/autocast_mode.h>

namespace rcnn::modeling {

torch::Tensor LinearAsConv::operator()(const torch::nn::Linear& l, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) * x.size(2) * x.size(3) == l->weight.size(1), "LinearAsConv: features ",
              x.sizes(), " do not flatten to the layer's ", l->weight.size(1), " inputs");
  const auto& w = l->weight;
  if (impl_ != w.unsafeGetTensorImpl() || version_ != int64_t(w._version()) || !weight_.defined() ||
      weight_.size(1) != x.size(1)) {
    torch::NoGradGuard ng;
    weight_ = w.detach().view({w.size(0), x.size(1), x.size(2), x.size(3)}).contiguous(at::MemoryFormat::ChannelsLast);
    weight_bf16_ = torch::Tensor();
    impl_ = w.unsafeGetTensorImpl();
    version_ = int64_t(w._version());
  }
  const bool bf16 = at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
  if (bf16 && !weight_bf16_.defined()) {
    torch::NoGradGuard ng;
    weight_bf16_ = weight_.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    bias_bf16_ = l->bias.defined() ? l->bias.detach().to(at::kBFloat16) : torch::Tensor();
  }
  // Under autocast the bf16 operands pass through as they are: the weight's
  // cast is made once, not on every call.
  auto y = bf16 ? torch::conv2d(x.to(at::kBFloat16), weight_bf16_, bias_bf16_) : torch::conv2d(x, weight_, l->bias);
  return y.flatten(1);
}

}  // namespace rcnn::modeling
