// Session::capture: the current trace with the image, its GTs, the resolved
// config and the model's identity (api/capture.h).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "api/session.h"
#include "pipeline/session_impl.h"

namespace rcnn::api {

namespace {
// FNV-1a, 64 bits, over every parameter's and buffer's name and bytes in name order (the model's own order:
// named_parameters then named_buffers, as a state dict lists them).
std::string weights_hash(torch::nn::Module& m) {
  uint64_t h = 1469598103934665603ull;
  auto eat = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  auto tensor = [&](const std::string& name, const torch::Tensor& v) {
    eat(name.data(), name.size());
    const auto c = v.detach().to(torch::kCPU).contiguous();
    eat(c.data_ptr(), size_t(c.numel()) * c.element_size());
  };
  for (const auto& p : m.named_parameters(true)) tensor(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) tensor(b.key(), b.value());
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}
}  // namespace

Capture Session::capture(const std::string& view_json) {
  if (!d_->has_image) throw std::invalid_argument("capture: no image is open");
  Capture c;
  c.trace = run();
  c.image = d_->image;
  c.image_name = d_->image_path.empty() ? "" : std::filesystem::path(d_->image_path).filename().string();
  c.gt = d_->gt_orig;
  const auto& cfg = d_->cfg();
  c.config_json = config_to_json_string(cfg);
  c.model.family = d_->det->family();
  c.model.preset = cfg.is_torchvision() ? cfg.name : "";
  c.model.random_weights = d_->random;
  c.model.weight_seed = d_->random ? d_->weight_seed : 0;
  c.model.checkpoint = d_->random ? "" : std::filesystem::path(d_->checkpoint).filename().string();
  if (d_->weights_hash.empty()) d_->weights_hash = weights_hash(d_->det->module());
  c.model.weights_hash = d_->weights_hash;
  c.view_json = view_json;
  // The seed family's FPN levels are smaller than its pooled RoI features: the capture keeps the levels and
  // read_capture pools the features again, bit for bit (api/capture_pool.cpp).
  if (c.model.family == "seed" && !c.trace.roi_features.empty()) {
    const auto f = d_->det->features();
    size_t total = 0;
    bool fp32 = f.maps.size() == c.trace.levels.size();
    for (const auto& m : f.maps)
      total += size_t(m.numel()), fp32 = fp32 && m.scalar_type() == torch::kFloat && m.size(0) == 1;
    if (fp32 && total < c.trace.roi_features.size())
      for (size_t l = 0; l < f.maps.size(); ++l) {
        const auto m = f.maps[l].to(torch::kCPU).contiguous();
        const auto p = d_->det->pooling(int(l));
        CaptureLevel L;
        L.channels = int(m.size(1));
        L.height = int(m.size(2));
        L.width = int(m.size(3));
        L.data.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
        L.spatial_scale = p.spatial_scale;
        L.output_size = p.output_size;
        L.sampling_ratio = p.sampling_ratio;
        L.aligned = p.aligned;
        c.levels.push_back(std::move(L));
      }
  }
  return c;
}

}  // namespace rcnn::api
