// RoIAlign dispatcher (torchvision: ops/roi_align.cpp): checks the inputs,
// sends CPU tensors to the autograd-wrapped CPU kernel and other devices to
// the device-generic path; also the display helper built on the kernels'
// geometry.
#include "ops/roi_align.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "ops/autograd/roi_align_autograd.h"
#include "ops/roi_align_checks.h"
#include "ops/roi_align_common.h"

namespace rcnn::ops {

torch::Tensor roi_align(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p) {
  // Seen by ATen's profiling hooks (engine/op_cost.h) as one operator.
  RECORD_FUNCTION("rcnn::roi_align", std::vector<c10::IValue>({features, rois}));
  detail::check_roi_align_inputs(features, rois, p);
  auto out = features.device().is_cpu() ? autograd::roi_align_autograd(features, rois, p)
                                        : roi_align_generic(features, rois, p);
  if (guard.isActive() && guard.needsOutputs()) guard.setOutputs(std::vector<c10::IValue>{out});
  return out;
}

RoISamplingGrid roi_align_sampling_points(float x1, float y1, float x2, float y2, const RoIAlignParams& p) {
  RoISamplingGrid out;
  const auto g = detail::roi_geometry<double>(x1, y1, x2, y2, p);
  out.grid_h = std::max<int64_t>(g.grid_h, 0);
  out.grid_w = std::max<int64_t>(g.grid_w, 0);
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t iy = 0; iy < out.grid_h; ++iy)
      for (int64_t pw = 0; pw < p.pooled_w; ++pw)
        for (int64_t ix = 0; ix < out.grid_w; ++ix) {
          out.xy.push_back(static_cast<float>(g.sample_x(pw, ix)));
          out.xy.push_back(static_cast<float>(g.sample_y(ph, iy)));
        }
  return out;
}

}  // namespace rcnn::ops
