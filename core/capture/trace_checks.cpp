// api::validate_trace: what the stages' views index, checked once when a
// capture is read, so a damaged or hand-edited file is an error, not a crash.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "api/capture.h"

namespace rcnn::api {

namespace {
struct Checker {
  void size(const char* what, size_t have, size_t want, bool may_be_empty = true) const {
    if (have == want || (may_be_empty && have == 0)) return;
    throw std::runtime_error(std::string(what) + " holds " + std::to_string(have) + " values, the trace's sizes need " +
                             std::to_string(want));
  }
  void index(const char* what, long long v, long long lo, long long hi) const {  // lo <= v < hi
    if (v >= lo && v < hi) return;
    throw std::runtime_error(std::string(what) + " " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                             ", " + std::to_string(hi) + ")");
  }
};
}  // namespace

void validate_trace(const PipelineTrace& t) {
  const Checker c;
  const size_t K = t.anchors.size(), M = t.gt.size(), P = t.proposals.size(), R = t.kept.size();
  const size_t C = size_t(t.num_classes()), D = t.detections.size(), L = t.levels.size();
  const size_t S = size_t(std::max(t.roi_size, 0)), F = size_t(std::max(t.feature_channels, 0));
  const size_t crop = size_t(std::max(t.crop_size, 0));
  if (t.input_width < 0 || t.input_height < 0 || t.input_width > 1 << 15 || t.input_height > 1 << 15)
    throw std::runtime_error("the input size is not a size");
  c.size("image/input.npy", t.input_rgb.size(), size_t(t.input_width) * size_t(t.input_height) * 3);
  long long count = 0;
  for (const auto& l : t.levels) {
    if (l.offset != count || l.height < 0 || l.width < 0 || l.anchors_per_location < 0 || l.stride <= 0)
      throw std::runtime_error("anchor level " + l.name + " does not follow the one before it");
    if (l.anchors_per_location > 0 && int(l.sizes.size() * l.ratios.size()) != l.anchors_per_location)
      throw std::runtime_error("anchor level " + l.name + ": its sizes and ratios do not make its shapes");
    count += (long long)l.height * l.width * l.anchors_per_location;
  }
  if (K > 0 && L > 0) c.size("anchors/boxes.npy (rows)", K, size_t(count), false);
  c.size("matching/anchor_iou.npy", t.anchor_iou.size(), K);
  c.size("matching/anchor_gt.npy", t.anchor_gt.size(), K);
  c.size("matching/anchor_label.npy", t.anchor_label.size(), K);
  c.size("matching/anchor_rescued.npy", t.anchor_rescued.size(), K);
  c.size("matching/iou_matrix.npy", t.iou_matrix.size(), K * M);
  c.size("rpn/objectness.npy", t.objectness.size(), K);
  c.size("rpn/deltas.npy", t.deltas.size(), K * 4);
  for (int g : t.anchor_gt) c.index("matching/anchor_gt.npy: GT", g, -1, (long long)M);
  for (auto a : t.anchor_label) c.index("matching/anchor_label.npy: label", int(a), -1, 2);
  for (int k : t.sampled_fg) c.index("sampling/fg.npy: anchor", k, 0, (long long)K);
  for (int k : t.sampled_bg) c.index("sampling/bg.npy: anchor", k, 0, (long long)K);
  for (const auto& g : t.gt) {
    c.index("trace.matching.gt: label", g.label, -1, (long long)C + 1);
    c.index("trace.matching.gt: best_anchor", g.best_anchor, -1, (long long)K);
    c.index("trace.matching.gt: funnel", int(g.funnel), 0, kNumFunnel);
    c.index("trace.matching.gt: no_positive", int(g.no_positive), 0, int(NoPositive::TakenByOtherGt) + 1);
    c.index("trace.matching.gt: matched_detection", g.matched_detection, -1, (long long)D);
    c.index("trace.matching.gt: funnel_class", g.funnel_class, -1, (long long)C + 1);
  }
  for (const auto& p : t.proposals) {
    c.index("proposals/level.npy: level", p.level, 0, (long long)std::max<size_t>(L, 1));
    c.index("proposals/anchor.npy: anchor", p.anchor, -1, (long long)K);
    c.index("proposals/state.npy: state", int(p.state), 0, int(ProposalState::BelowScore) + 1);
    c.index("proposals/suppressed_by.npy: proposal", p.suppressed_by, -1, (long long)P);
    c.index("proposals/kept_index.npy: RoI", p.kept_index, -1, (long long)R);
  }
  for (int k : t.kept) c.index("proposals/kept.npy: proposal", k, 0, (long long)P);
  c.size("roialign/level.npy", t.roi_level.size(), R);
  for (int l : t.roi_level) c.index("roialign/level.npy: level", l, 0, (long long)std::max<size_t>(L, 1));
  c.size("roialign/grid.npy", t.roi_grid.size(), 2 * R);
  if (!t.roi_point_offset.empty()) {
    c.size("roialign/point_offset.npy", t.roi_point_offset.size(), R + 1, false);
    for (size_t r = 0; r < R; ++r) {
      const int a = t.roi_point_offset[r], b = t.roi_point_offset[r + 1];
      if (a < 0 || b < a || size_t(b) > t.roi_points.size())
        throw std::runtime_error("roialign/point_offset.npy: RoI " + std::to_string(r) + "'s points are out of range");
    }
  }
  c.size("roialign/points_fmap.npy", t.roi_points_fmap.size(), t.roi_points.size());
  c.size("roialign/features.npy", t.roi_features.size(), R * F * S * S);
  c.size("roialign/crops.npy", t.roi_crops.size(), R * 3 * crop * crop);
  for (size_t i = 0; i < t.feature_maps.size(); ++i) {
    const auto& f = t.feature_maps[i];
    if (f.height < 0 || f.width < 0 || f.height > 1 << 15 || f.width > 1 << 15)
      throw std::runtime_error("feature map " + std::to_string(i) + " has no size");
    const size_t hw = size_t(f.height) * size_t(f.width);
    c.size("feature_maps/*_mean.npy", f.mean.size(), hw);
    c.size("feature_maps/*_max.npy", f.max.size(), hw);
    c.size("feature_maps/*_channel.npy", f.channel.size(), hw);
  }
  c.size("predictions/class_probs.npy", t.class_probs.size(), R * (C + 1));
  c.size("predictions/roi_class_boxes.npy", t.roi_class_boxes.size(), R * C * 4);
  c.size("predictions/roi_deltas.npy", t.roi_deltas.size(), R * C * 4);
  for (const auto& d : t.detections) {
    c.index("predictions/det_proposal.npy: RoI", d.proposal, -1, (long long)R);
    c.index("predictions/det_label.npy: class", d.label, -1, (long long)C + 1);
  }
  c.size("predictions/verdict_*.npy", t.verdicts.size(), D);
  for (const auto& v : t.verdicts) {
    c.index("predictions/verdict_outcome.npy: outcome", int(v.outcome), 0, int(DetOutcome::Ignored) + 1);
    c.index("predictions/verdict_error.npy: error", int(v.error), 0, int(ErrorType::Background) + 1);
    c.index("predictions/verdict_gt.npy: GT", v.gt, -1, (long long)M);
    c.index("predictions/verdict_crowd.npy: crowd region", v.crowd, -1, (long long)t.crowd.size());
  }
  const auto& tr = t.train;
  for (const auto& r : tr.rois) {
    c.index("train/roi_gt.npy: GT", r.gt, -1, (long long)M);
    c.index("train/roi_sample.npy: sample", r.sample, -1, (long long)tr.roi.size());
    c.index("train/roi_label.npy: label", int(r.label), -1, 2);
    c.index("train/roi_level.npy: level", r.level, 0, (long long)std::max<size_t>(L, 1));
  }
  for (const auto& x : tr.rpn) {
    c.index("train/rpn_term_index.npy: anchor", x.index, -1, (long long)K);
    c.index("train/rpn_term_gt.npy: GT", x.gt, -1, (long long)M);
  }
  for (const auto& x : tr.roi) {
    c.index("train/roi_term_index.npy: RoI", x.index, -1, (long long)tr.rois.size());
    c.index("train/roi_term_gt.npy: GT", x.gt, -1, (long long)M);
    c.index("train/roi_term_target_class.npy: class", x.target_class, 0, (long long)C + 1);
  }
}

}  // namespace rcnn::api
