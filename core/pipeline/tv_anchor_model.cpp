// The torchvision family's anchors without weights: each image at its own
// resized and padded size (GeneralizedRCNNTransform, a batch of one), so its
// own grid on every level with per-axis strides; torchvision's
// AnchorGenerator and its RPN Matcher (a low-quality positive keeps its own
// best GT). What `rcnn anchors` covers a split with under a torchvision preset.
#include <torch/torch.h>

#include <cmath>
#include <map>

#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_transform.h"
#include "pipeline/anchor_search_space.h"
#include "pipeline/families.h"
#include "pipeline/tv_levels.h"
#include "pipeline/tv_trace.h"

namespace rcnn::api {
namespace mt = modeling::tv;

std::vector<LevelInfo> tv_level_infos(const mt::TvOptions& o, const std::vector<mt::LevelGrid>& grids) {
  std::vector<LevelInfo> out;
  const bool mobile = o.arch == TvArch::MobileNetV3LargeFPN;
  int offset = 0;
  for (size_t l = 0; l < grids.size(); ++l) {
    LevelInfo li;
    li.name = l + 1 == grids.size() ? "'pool'" : "'" + std::to_string(l) + "'";
    if (!mobile) li.name = "p" + std::to_string(l + 2) + " " + li.name;
    li.height = int(grids[l].height);
    li.width = int(grids[l].width);
    li.stride = int(grids[l].stride_w);
    li.stride_h = int(grids[l].stride_h);
    li.centre_offset = 0;
    li.ratio_major = true;
    li.anchors_per_location = o.anchors_per_location(l);
    li.offset = offset;
    for (double v : o.anchor_sizes[l]) li.sizes.push_back(float(v));
    for (double v : o.ratios(l)) li.ratios.push_back(float(v));
    offset += li.count();
    out.push_back(li);
  }
  return out;
}

namespace {

class TvAnchorModel final : public pipeline::AnchorModel {
  static AnchorSuggestion suggestion(const std::vector<std::vector<double>>& sizes,
                                     const std::vector<std::vector<double>>& ratios) {
    AnchorSuggestion s;
    s.per_location = int(sizes[0].size() * ratios[0].size());
    s.aspect_ratios = ratios[0];
    std::string ls, lr;
    for (const auto& l : sizes) ls += (ls.empty() ? "" : ",") + pipeline::json_list(l);
    for (const auto& r : ratios) lr += (lr.empty() ? "" : ",") + pipeline::json_list(r);
    s.settings = {{"torchvision.anchor_sizes", "[" + ls + "]"}, {"torchvision.aspect_ratios", "[" + lr + "]"}};
    return s;
  }

 public:
  explicit TvAnchorModel(const DetectorConfig& cfg) : o_(torchvision_options(cfg)) {
    for (size_t l = 0; l < o_.anchor_sizes.size(); ++l) base_.push_back(mt::base_anchors(o_.anchor_sizes[l], o_.ratios(l)));
  }
  pipeline::AnchorSet anchors(int width, int height) override {
    const auto [rh, rw] = mt::resized_size(height, width, o_);
    const auto [H, W] = mt::padded_size(rh, rw, o_);
    auto& a = cache_[{H, W}];
    if (!a.boxes.defined()) {
      const auto grids = mt::level_grids(H, W, o_.arch == TvArch::MobileNetV3LargeFPN);
      std::vector<torch::Tensor> per_level;
      for (size_t l = 0; l < grids.size(); ++l) per_level.push_back(mt::grid_anchors(base_[l], grids[l]));
      a.boxes = torch::cat(per_level).to(torch::kFloat);
      a.levels = tv_level_infos(o_, grids);
      if (cache_.size() > 64) {  // a split of many sizes: keep the memory bounded
        auto keep = a;
        cache_.clear();
        return cache_[{H, W}] = keep;
      }
    }
    return a;
  }
  Box to_input(const Box& b, int width, int height) const override {
    const auto rs = mt::resized_size(height, width, o_);
    auto t = torch::tensor({b.x1, b.y1, b.x2, b.y2}, torch::kFloat).view({1, 4});
    auto m = mt::resize_boxes(t, {height, width}, rs);
    auto acc = m.accessor<float, 2>();
    return box_of(acc, 0);
  }
  modeling::Matcher matcher(bool with_low_quality) const override {
    return modeling::Matcher{o_.rpn_bg_iou_thresh, o_.rpn_fg_iou_thresh, with_low_quality, true};
  }
  bool fixed_grid() const override { return false; }
  AnchorSuggestion current() const override { return suggestion(o_.anchor_sizes, o_.aspect_ratios); }
  std::vector<AnchorSuggestion> search_space(const std::vector<std::vector<double>>& ratio_sets,
                                             int max_per_location) const override {
    // The preset's sizes of every level times m, each with k sizes per octave
    // (s, s 2^(1/k), ...): every level keeps the same count, so the shared
    // RPN head stays one shape for all of them.
    std::vector<AnchorSuggestion> out;
    for (double m : {0.5, 0.75, 1.0, 1.25, 1.5, 2.0})
      for (int k = 1; k <= 3; ++k)
        for (const auto& rs : ratio_sets) {
          std::vector<std::vector<double>> sizes;
          for (const auto& level : o_.anchor_sizes) {
            std::vector<double> l;
            for (double v : level)
              for (int i = 0; i < k; ++i) l.push_back(std::round(v * m * std::pow(2.0, double(i) / k) * 10) / 10);
            sizes.push_back(l);
          }
          if (int(sizes[0].size() * rs.size()) <= max_per_location) out.push_back(suggestion(sizes, {rs}));
        }
    return out;
  }

 private:
  mt::TvOptions o_;
  std::vector<torch::Tensor> base_;
  std::map<std::pair<int64_t, int64_t>, pipeline::AnchorSet> cache_;
};

}  // namespace

std::unique_ptr<pipeline::AnchorModel> make_tv_anchor_model(const DetectorConfig& cfg) {
  return std::make_unique<TvAnchorModel>(cfg);
}

}  // namespace rcnn::api
