// A capture's RoI features pooled again from its FPN levels (api/capture.h:
// CaptureLevel): the same RoIAlign on the same floats as the RoI head
// (modeling/roi_heads.cpp: multilevel_roi_align), so bit for bit the same.
// read_capture and load_capture are here too: they pool (capture.cpp, the
// plain-C++ reader the fuzzer builds, does not).
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "api/capture.h"
#include "ops/roi_align.h"

namespace rcnn::api {

void pool_capture_features(Capture& c) {
  auto& t = c.trace;
  if (c.levels.empty() || !t.roi_features.empty()) return;
  if (c.levels.size() != t.levels.size())
    throw std::runtime_error("features/: " + std::to_string(c.levels.size()) + " levels, the trace has " +
                             std::to_string(t.levels.size()));
  const int64_t R = int64_t(t.kept.size()), S = t.roi_size, C = t.feature_channels;
  std::vector<torch::Tensor> maps;
  for (size_t l = 0; l < c.levels.size(); ++l) {
    auto& L = c.levels[l];
    if (L.channels != C || L.output_size != S || !(L.spatial_scale > 0))
      throw std::runtime_error("features/" + t.levels[l].name + ".npy does not fit the trace's RoIAlign (" +
                               std::to_string(C) + " channels, " + std::to_string(S) + "² bins)");
    maps.push_back(torch::from_blob(L.data.data(), {1, L.channels, L.height, L.width}, torch::kFloat));
  }
  if (R == 0) return;
  auto rois = torch::zeros({R, 5}, torch::kFloat);
  auto lv = torch::empty({R}, torch::kLong);
  for (int64_t r = 0; r < R; ++r) {
    const auto& b = t.proposals[size_t(t.kept[size_t(r)])].box;
    rois[r][1] = b.x1, rois[r][2] = b.y1, rois[r][3] = b.x2, rois[r][4] = b.y2;
    lv[r] = int64_t(t.roi_level[size_t(r)]);
  }
  auto out = torch::zeros({R, C, S, S}, torch::kFloat);
  for (size_t l = 0; l < maps.size(); ++l) {
    auto idx = (lv == int64_t(l)).nonzero().squeeze(1);
    if (idx.numel() == 0) continue;
    const auto& L = c.levels[l];
    ops::RoIAlignParams p{S, S, L.spatial_scale, L.sampling_ratio, L.aligned};
    out.index_copy_(0, idx, ops::roi_align(maps[l], rois.index_select(0, idx), p));
  }
  out = out.contiguous();
  t.roi_features.assign(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
}

Capture read_capture(std::string bytes, const std::string& origin) {
  auto c = read_capture_raw(std::move(bytes), origin);
  try {
    pool_capture_features(c);
  } catch (const std::exception& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
  return c;
}

Capture load_capture(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::ostringstream s;
  s << f.rdbuf();
  return read_capture(s.str(), path);
}

}  // namespace rcnn::api
