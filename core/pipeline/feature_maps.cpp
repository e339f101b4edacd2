#include "pipeline/feature_maps.h"

#include <torch/torch.h>

#include "pipeline/tv_trace.h"
#include "ops/roi_align_common.h"

namespace rcnn::api {

void fill_feature_maps(PipelineTrace& t, const std::vector<at::Tensor>& feats, const std::vector<float>& steps,
                       float offset, int channel) {
  t.feature_maps.clear();
  for (size_t l = 0; l < feats.size(); ++l) {
    const auto f = feats[l][0].detach().to(torch::kCPU, torch::kFloat);  // (C, H, W)
    FeatureMap m;
    m.channels = int(f.size(0));
    m.height = int(f.size(1));
    m.width = int(f.size(2));
    m.step = l < steps.size() ? steps[l] : 0.f;
    m.offset = offset;
    m.mean = to_vec(f.mean(0));
    m.max = to_vec(std::get<0>(f.max(0)));
    m.channel = to_vec(f[std::clamp<int64_t>(channel, 0, f.size(0) - 1)]);
    t.feature_maps.push_back(std::move(m));
  }
  t.feature_channel = feats.empty() ? 0 : std::clamp<int>(channel, 0, int(feats[0].size(1)) - 1);
}

BilinearTap roi_align_tap(int H, int W, float x, float y) {
  // The kernel's own tap (ops/roi_align_common.h), in float as the kernel runs.
  const auto k = ops::detail::make_tap<float>(H, W, y, x);
  BilinearTap b;
  b.inside = k.inside;
  for (int i = 0; i < 4; ++i) {
    b.cell[i] = int(k.o[i]);
    b.weight[i] = k.w[i];
  }
  return b;
}

}  // namespace rcnn::api
