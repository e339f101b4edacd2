#include "pipeline/stage_fills.h"

#include <algorithm>

#include "modeling/sampling.h"
#include "ops/roi_align.h"
#include "pipeline/match_trace.h"
#include "pipeline/tv_trace.h"

namespace rcnn::api {

torch::Tensor fill_gt(PipelineTrace& t, const std::vector<GtObject>& objects,
                      const std::vector<pipeline::MappedGt>& mapped) {
  std::vector<float> rows;
  t.gt.clear();
  t.crowd.clear();
  int unknown = 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto& o = objects[i];
    const auto& m = mapped[i];
    if (!m.keep) {
      ++unknown;
      continue;
    }
    if (o.crowd) {  // an ignore region: not matched, not trained on
      t.crowd.push_back({m.box, o.box, m.label});
      continue;
    }
    rows.insert(rows.end(), {m.box.x1, m.box.y1, m.box.x2, m.box.y2, float(m.label)});
    GtInfo g;
    g.box = m.box;
    g.box_original = o.box;
    g.label = m.label;
    g.difficult = o.difficult;
    t.gt.push_back(g);
  }
  if (unknown)
    t.input_note += "; " + std::to_string(unknown) + " GT box(es) of classes the model does not have left out";
  return torch::tensor(rows, torch::kFloat).view({-1, 5});
}

void fill_rpn_outputs(PipelineTrace& t, const pipeline::RpnOutputs& r) {
  t.objectness.clear();
  t.deltas.clear();
  for (size_t l = 0; l < r.objectness.size(); ++l) {
    const auto o = to_vec(torch::sigmoid(r.objectness[l].reshape({-1})));
    const auto d = to_vec(r.deltas[l]);
    t.objectness.insert(t.objectness.end(), o.begin(), o.end());
    t.deltas.insert(t.deltas.end(), d.begin(), d.end());
  }
  t.feature_channels = r.channels;
}

void fill_anchors(PipelineTrace& t, const pipeline::AnchorSet& a) {
  t.levels = a.levels;
  auto b = a.boxes.to(torch::kCPU, torch::kFloat).contiguous();
  auto acc = b.accessor<float, 2>();
  t.anchors.resize(size_t(b.size(0)));
  for (int64_t i = 0; i < b.size(0); ++i) t.anchors[size_t(i)] = box_of(acc, i);
}

void fill_matching(PipelineTrace& t, const modeling::Matcher& m, const modeling::MatchResult& r) {
  t.iou_lo = m.lo;
  t.iou_hi = m.hi;
  t.low_quality = m.allow_low_quality;
  fill_match_stage(t, r);
}

void fill_sampling(PipelineTrace& t, const pipeline::SamplerRule& rule, const torch::Tensor& fg,
                   const torch::Tensor& bg, uint64_t seed) {
  auto f = fg.to(torch::kCPU, torch::kLong).contiguous(), b = bg.to(torch::kCPU, torch::kLong).contiguous();
  t.sampled_fg.assign(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
  t.sampled_bg.assign(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + b.numel());
  t.num_samples = rule.batch;
  t.target_fg = int(rule.batch * rule.fg_fraction);
  t.target_bg = rule.batch - t.target_fg;
  t.sample_seed = seed;
}

void fill_roi(PipelineTrace& t, const pipeline::RoiOutputs& r, const pipeline::Detector& det,
              const torch::Tensor& input_raw, bool display) {
  const auto p0 = det.pooling(0);
  t.roi_size = p0.output_size;
  t.sampling_ratio = p0.sampling_ratio;
  t.aligned = p0.aligned;
  t.level_assignment = r.level_assignment;
  t.canonical_size = r.canonical_size;
  t.canonical_level = r.canonical_level;
  t.roi_features = display ? to_vec(r.pooled) : std::vector<float>{};
  auto lv = r.levels.to(torch::kCPU, torch::kLong).contiguous();
  t.roi_level.assign(lv.data_ptr<int64_t>(), lv.data_ptr<int64_t>() + lv.numel());
  t.class_probs = to_vec(r.probs);
  t.roi_points.clear();
  t.roi_points_fmap.clear();
  t.roi_point_offset.assign(1, 0);
  t.roi_grid.clear();
  t.roi_crops.clear();
  if (!display) return;
  // RoIAlign of the input image itself: what each RoI looks at.
  auto boxes = r.boxes.to(input_raw.device(), torch::kFloat);
  auto rois = torch::cat({torch::zeros({boxes.size(0), 1}, boxes.options()), boxes}, 1);
  ops::RoIAlignParams cp{t.crop_size, t.crop_size, 1.0, 2, p0.aligned};
  t.roi_crops = to_vec(ops::roi_align(input_raw, rois, cp));
  // Every RoI's sampling points travel with the trace, so the studio never
  // asks the model thread for them.
  for (int k = 0; k < int(t.kept.size()); ++k) {
    int gh = 0, gw = 0;
    std::vector<float> fm;
    auto pts = roi_sampling_points(t, det, k, &gh, &gw, &fm);
    t.roi_points_fmap.insert(t.roi_points_fmap.end(), fm.begin(), fm.end());
    t.roi_points.insert(t.roi_points.end(), pts.begin(), pts.end());
    t.roi_point_offset.push_back(int(t.roi_points.size()));
    t.roi_grid.insert(t.roi_grid.end(), {gh, gw});
  }
}

std::vector<float> roi_sampling_points(const PipelineTrace& t, const pipeline::Detector& det, int r, int* gh,
                                       int* gw, std::vector<float>* fmap) {
  if (r < 0 || r >= int(t.kept.size())) return {};
  const auto& p = t.proposals[size_t(t.kept[size_t(r)])];
  const int level = size_t(r) < t.roi_level.size() ? t.roi_level[size_t(r)] : 0;
  const auto pool = det.pooling(level);
  ops::RoIAlignParams rp{pool.output_size, pool.output_size, pool.spatial_scale, pool.sampling_ratio, pool.aligned};
  auto g = ops::roi_align_sampling_points(p.box.x1, p.box.y1, p.box.x2, p.box.y2, rp);
  if (gh) *gh = int(g.grid_h);
  if (gw) *gw = int(g.grid_w);
  if (fmap) *fmap = g.xy;
  // Feature-map coordinates -> input pixels: the pixel-centre convention of aligned mode.
  const double off = pool.aligned ? 0.5 : 0.0;
  for (auto& v : g.xy) v = float((v + off) / pool.spatial_scale);
  return g.xy;
}

}  // namespace rcnn::api
