#include <nlohmann/json.hpp>

#include "api/session.h"

namespace rcnn::api {

static nlohmann::ordered_json jbox(const Box& b) {
  return {b.x1, b.y1, b.x2, b.y2};
}

std::string trace_to_json(const PipelineTrace& t, bool full) {
  using J = nlohmann::ordered_json;
  J j;
  j["image"] = {{"width", t.image_width},
                {"height", t.image_height},
                {"input_size", t.input_size},
                {"input_width", t.input_width},
                {"input_height", t.input_height},
                {"scale_x", t.scale_x},
                {"scale_y", t.scale_y}};
  j["model"] = {{"label", t.model_label}, {"random_weights", t.random_weights}, {"device", t.device}};
  j["class_names"] = t.class_names;
  J lv = J::array();
  for (const auto& l : t.levels)
    lv.push_back({{"name", l.name},
                  {"stride", l.stride},
                  {"height", l.height},
                  {"width", l.width},
                  {"anchors_per_location", l.anchors_per_location},
                  {"offset", l.offset},
                  {"sizes", l.sizes},
                  {"ratios", l.ratios},
                  {"count", l.count()}});
  j["levels"] = lv;
  int pos = 0, neu = 0, neg = 0;
  for (auto a : t.anchor_label) (a == AnchorLabel::Positive ? pos : a == AnchorLabel::Neutral ? neu : neg)++;
  j["matching"] = {{"iou_lo", t.iou_lo}, {"iou_hi", t.iou_hi}, {"low_quality", t.low_quality},
                   {"positive", pos},    {"neutral", neu},     {"negative", neg}};
  J gts = J::array();
  for (const auto& g : t.gt)
    gts.push_back({{"box", jbox(g.box)},
                   {"box_original", jbox(g.box_original)},
                   {"label", g.label},
                   {"class", g.label >= 0 && g.label < t.num_classes() ? t.class_names[size_t(g.label)] : ""},
                   {"positive_anchors", g.positive_anchors},
                   {"best_iou", g.best_iou},
                   {"best_anchor", g.best_anchor},
                   {"best_iou_per_level_shape", g.best_iou_per_level_shape},
                   {"rescued_by_low_quality", g.rescued_by_low_quality},
                   {"no_positive_reason", g.no_positive_reason},
                   {"funnel", funnel_name(g.funnel)},
                   {"funnel_reason", g.funnel_reason},
                   {"funnel_ref", g.funnel_ref},
                   {"matched_detection", g.matched_detection}});
  j["gt"] = gts;
  J crowd = J::array();  // COCO crowd boxes: ignore regions, not GTs
  for (const auto& c : t.crowd)
    crowd.push_back({{"box", jbox(c.box)},
                     {"box_original", jbox(c.box_original)},
                     {"label", c.label},
                     {"class", c.label >= 0 && c.label < t.num_classes() ? t.class_names[size_t(c.label)] : ""}});
  j["crowd"] = crowd;
  j["sampling"] = {{"seed", t.sample_seed},    {"num_samples", t.num_samples}, {"target_fg", t.target_fg},
                   {"target_bg", t.target_bg}, {"fg", t.sampled_fg},           {"bg", t.sampled_bg}};
  J props = J::array();
  static const char* st[] = {"kept", "suppressed", "cut_post_topk", "too_small", "below_score"};
  for (const auto& p : t.proposals)
    props.push_back({{"box", jbox(p.box)},
                     {"objectness", p.objectness},
                     {"level", p.level},
                     {"anchor", p.anchor},
                     {"state", st[int(p.state)]},
                     {"suppressed_by", p.suppressed_by}});
  j["proposals"] = props;
  j["kept"] = t.kept;
  J dets = J::array();
  static const char* outcome[] = {"tp", "fp", "ignored"};
  for (size_t i = 0; i < t.detections.size(); ++i) {
    const auto& d = t.detections[i];
    J jd{{"box", jbox(d.box)},
         {"box_original", jbox(d.box_original)},
         {"label", d.label},
         {"class", d.label >= 0 && d.label < t.num_classes() ? t.class_names[size_t(d.label)] : ""},
         {"score", d.score},
         {"proposal", d.proposal}};
    if (i < t.verdicts.size()) {
      const auto& v = t.verdicts[i];
      jd["outcome"] = outcome[int(v.outcome)];
      jd["error_type"] = v.outcome == DetOutcome::FalsePositive ? error_name(v.error) : "none";
      jd["gt"] = v.gt;
      if (v.crowd >= 0) jd["crowd"] = v.crowd;
    }
    dets.push_back(jd);
  }
  j["detections"] = dets;
  const auto& tv = t.train;
  if (tv.valid) {
    J samples = J::array();
    for (const auto& s : tv.roi) {
      const auto& r = tv.rois[size_t(s.index)];
      samples.push_back({{"roi", s.index},
                         {"box", jbox(r.box)},
                         {"from_gt", r.from_gt},
                         {"iou", r.iou},
                         {"gt", r.gt},
                         {"class_target", s.target_class},
                         {"ce", s.cls},
                         {"box_loss", s.box}});
    }
    j["training"] = {{"seed", tv.seed},
                     {"losses",
                      {{"rpn_obj", tv.rpn_obj}, {"rpn_box", tv.rpn_box}, {"roi_cls", tv.roi_cls}, {"roi_box", tv.roi_box}}},
                     {"rpn_samples", tv.rpn.size()},
                     {"rpn_fg", tv.rpn_fg},
                     {"roi_candidates", tv.rois.size()},
                     {"roi_samples", samples}};
  } else {
    j["training"] = {{"note", tv.note}};
  }
  j["timings_ms"] = t.timings_ms;
  j["flops"] = t.flops;
  if (full) {
    J anchors = J::array();
    for (const auto& a : t.anchors) anchors.push_back(jbox(a));
    j["anchors"] = anchors;
    j["anchor_iou"] = t.anchor_iou;
    j["anchor_gt"] = t.anchor_gt;
    std::vector<int> lab;
    for (auto a : t.anchor_label) lab.push_back(int(a));
    j["anchor_label"] = lab;
    j["objectness"] = t.objectness;
    j["deltas"] = t.deltas;
    j["class_probs"] = t.class_probs;
    j["roi_level"] = t.roi_level;
  }
  return j.dump(1);
}

}  // namespace rcnn::api
