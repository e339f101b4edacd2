// RoIAlign as an autograd Function over the CPU kernels (gradient to the
// features only, as torchvision's).
#include "ops/autograd/roi_align_autograd.h"

#include <torch/torch.h>

#include "ops/cpu/roi_align_kernel.h"

namespace rcnn::ops::autograd {
namespace {

class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& features,
                               const torch::Tensor& rois, int64_t ph, int64_t pw, double scale, int64_t sampling,
                               bool aligned) {
    RoIAlignParams p{ph, pw, scale, sampling, aligned};
    ctx->save_for_backward({rois});
    ctx->saved_data["shape"] = features.sizes().vec();
    ctx->saved_data["ph"] = ph;
    ctx->saved_data["pw"] = pw;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["sampling"] = sampling;
    ctx->saved_data["aligned"] = aligned;
    return cpu::roi_align_forward_kernel(features, rois, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto rois = ctx->get_saved_variables()[0];
    RoIAlignParams p{ctx->saved_data["ph"].toInt(), ctx->saved_data["pw"].toInt(), ctx->saved_data["scale"].toDouble(),
                     ctx->saved_data["sampling"].toInt(), ctx->saved_data["aligned"].toBool()};
    auto shape = ctx->saved_data["shape"].toIntVector();
    auto gin = cpu::roi_align_backward_kernel(grads[0], rois, shape, p);
    return {gin, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor roi_align_autograd(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p) {
  return RoIAlignFunction::apply(features, rois, p.pooled_h, p.pooled_w, p.spatial_scale, p.sampling_ratio, p.aligned);
}

}  // namespace rcnn::ops::autograd
