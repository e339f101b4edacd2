#include "api/capture_diff.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace rcnn::api {

bool CaptureDiff::empty() const {
  return notes.empty() && anchor_flips.empty() && sampled_fg_changed == 0 && sampled_bg_changed == 0 &&
         proposals_entered.empty() && proposals_left.empty() && rois.empty() && detections_added.empty() &&
         detections_removed.empty() && gt.empty();
}

Stage funnel_stage(Funnel f) {
  switch (f) {
    case Funnel::NoPositiveAnchor:
      return Stage::Matching;
    case Funnel::NoCoveringCandidate:
    case Funnel::CutByPreNmsTopk:
    case Funnel::TooSmall:
    case Funnel::BelowRpnScore:
    case Funnel::SuppressedByNms:
    case Funnel::CutByPostNmsTopk:
      return Stage::Proposals;
    case Funnel::Ignored:
      return Stage::Image;
    default:
      return Stage::Predictions;
  }
}

namespace {
bool same_box(const Box& a, const Box& b) {
  return a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2;
}

// A kept proposal's identity: its anchor when the anchors are the same, else its box.
std::string proposal_key(const Proposal& p, bool by_anchor) {
  char s[96];
  if (by_anchor && p.anchor >= 0)
    std::snprintf(s, sizeof s, "a%d", p.anchor);
  else
    std::snprintf(s, sizeof s, "%a,%a,%a,%a", p.box.x1, p.box.y1, p.box.x2, p.box.y2);
  return s;
}

int argmax_class(const PipelineTrace& t, int r) {
  const int C1 = t.num_classes() + 1;
  if (t.class_probs.size() < size_t(r + 1) * size_t(C1)) return -1;
  const float* p = &t.class_probs[size_t(r) * size_t(C1)];
  return int(std::max_element(p, p + C1) - p);
}

// Detections of `x` with no same-class detection of `y` at IoU >= 0.5 (greedy, in score order: each of y's
// detections partners one of x's).
std::vector<int> unpartnered(const std::vector<Detection>& x, const std::vector<Detection>& y) {
  std::vector<int> order(x.size()), out;
  for (size_t i = 0; i < x.size(); ++i) order[i] = int(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[size_t(a)].score > x[size_t(b)].score; });
  std::vector<bool> used(y.size(), false);
  for (int i : order) {
    int best = -1;
    float best_iou = 0.5f;
    for (size_t j = 0; j < y.size(); ++j) {
      if (used[j] || y[j].label != x[size_t(i)].label) continue;
      const float iou = box_iou(x[size_t(i)].box_original, y[j].box_original);
      if (iou >= best_iou) best = int(j), best_iou = iou;
    }
    if (best < 0)
      out.push_back(i);
    else
      used[size_t(best)] = true;
  }
  std::sort(out.begin(), out.end());
  return out;
}

int sample_changes(const std::vector<int>& a, const std::vector<int>& b) {
  std::set<int> A(a.begin(), a.end()), B(b.begin(), b.end());
  int n = 0;
  for (int k : A) n += !B.count(k);
  for (int k : B) n += !A.count(k);
  return n;
}

const char* label_name(AnchorLabel l) {
  return l == AnchorLabel::Positive ? "positive" : l == AnchorLabel::Negative ? "negative" : "neutral";
}
}  // namespace

CaptureDiff diff_captures(const Capture& ca, const Capture& cb) {
  const PipelineTrace &a = ca.trace, &b = cb.trace;
  CaptureDiff d;
  if (a.image_width != b.image_width || a.image_height != b.image_height || ca.image.rgb != cb.image.rgb)
    d.notes.push_back("the captures hold different images");
  d.same_anchors = a.anchors.size() == b.anchors.size() &&
                   std::equal(a.anchors.begin(), a.anchors.end(), b.anchors.begin(), same_box);
  if (!d.same_anchors)
    d.notes.push_back("the anchors differ (" + std::to_string(a.anchors.size()) + " and " +
                      std::to_string(b.anchors.size()) + "): per-anchor changes are not compared");
  d.same_gt = a.gt.size() == b.gt.size();
  for (size_t g = 0; d.same_gt && g < a.gt.size(); ++g)
    d.same_gt = same_box(a.gt[g].box_original, b.gt[g].box_original) && a.gt[g].label == b.gt[g].label;
  if (!d.same_gt) d.notes.push_back("the GTs differ: verdicts are not compared");

  if (d.same_anchors) {
    if (a.anchor_label.size() == b.anchor_label.size())
      for (size_t k = 0; k < a.anchor_label.size(); ++k)
        if (a.anchor_label[k] != b.anchor_label[k])
          d.anchor_flips.push_back({int(k), a.anchor_label[k], b.anchor_label[k]});
    d.sampled_fg_changed = sample_changes(a.sampled_fg, b.sampled_fg);
    d.sampled_bg_changed = sample_changes(a.sampled_bg, b.sampled_bg);
  }
  std::map<std::string, int> kept_a, kept_b;  // key -> kept index
  for (size_t r = 0; r < a.kept.size(); ++r)
    kept_a[proposal_key(a.proposals[size_t(a.kept[r])], d.same_anchors)] = int(r);
  for (size_t r = 0; r < b.kept.size(); ++r)
    kept_b[proposal_key(b.proposals[size_t(b.kept[r])], d.same_anchors)] = int(r);
  for (const auto& [key, r] : kept_b)
    if (!kept_a.count(key)) d.proposals_entered.push_back(b.kept[size_t(r)]);
  for (const auto& [key, r] : kept_a) {
    const auto it = kept_b.find(key);
    if (it == kept_b.end()) {
      d.proposals_left.push_back(a.kept[size_t(r)]);
      continue;
    }
    const int ca_ = argmax_class(a, r), cb_ = argmax_class(b, it->second);
    if (ca_ != cb_) d.rois.push_back({r, it->second, ca_, cb_});
  }
  std::sort(d.proposals_entered.begin(), d.proposals_entered.end());
  std::sort(d.proposals_left.begin(), d.proposals_left.end());
  std::sort(d.rois.begin(), d.rois.end(), [](const RoiChange& x, const RoiChange& y) { return x.a < y.a; });
  d.detections_added = unpartnered(b.detections, a.detections);
  d.detections_removed = unpartnered(a.detections, b.detections);
  if (d.same_gt) {
    const auto& order = funnel_order();
    auto pos = [&](Funnel f) { return std::find(order.begin(), order.end(), f) - order.begin(); };
    for (size_t g = 0; g < a.gt.size(); ++g) {
      const Funnel fa = a.gt[g].funnel, fb = b.gt[g].funnel;
      if (fa == fb) continue;
      d.gt.push_back({int(g), fa, fb, funnel_stage(pos(fa) < pos(fb) ? fa : fb)});
    }
  }
  return d;
}

std::string diff_to_json(const CaptureDiff& d) {
  using J = nlohmann::ordered_json;
  J j;
  j["empty"] = d.empty();
  j["notes"] = d.notes;
  J flips = J::array();
  for (const auto& f : d.anchor_flips)
    flips.push_back({{"anchor", f.anchor}, {"from", label_name(f.from)}, {"to", label_name(f.to)}});
  j["matching"] = {{"compared", d.same_anchors}, {"label_flips", flips}};
  j["sampling"] = {{"fg_changed", d.sampled_fg_changed}, {"bg_changed", d.sampled_bg_changed}};
  j["proposals"] = {{"entered", d.proposals_entered}, {"left", d.proposals_left}};
  J rois = J::array();
  for (const auto& r : d.rois)
    rois.push_back({{"roi_a", r.a}, {"roi_b", r.b}, {"class_a", r.class_a}, {"class_b", r.class_b}});
  j["rois"] = {{"reclassified", rois}};
  j["detections"] = {{"added", d.detections_added}, {"removed", d.detections_removed}};
  J gts = J::array();
  for (const auto& g : d.gt)
    gts.push_back(
        {{"gt", g.gt}, {"from", funnel_name(g.from)}, {"to", funnel_name(g.to)}, {"stage", stage_name(g.stage)}});
  j["gt"] = {{"compared", d.same_gt}, {"changed", gts}};
  return j.dump(1);
}

std::string diff_to_text(const CaptureDiff& d, const Capture& a, const Capture& b) {
  std::string s;
  auto line = [&](const std::string& x) { s += x + "\n"; };
  line("A: " + a.trace.model_label + " (" + a.model.weights_hash + ")  B: " + b.trace.model_label + " (" +
       b.model.weights_hash + ")");
  for (const auto& n : d.notes) line("note: " + n);
  if (d.empty()) {
    line("no change: every stage is the same");
    return s;
  }
  if (d.same_anchors) {
    int to_pos = 0, from_pos = 0;
    for (const auto& f : d.anchor_flips)
      to_pos += f.to == AnchorLabel::Positive, from_pos += f.from == AnchorLabel::Positive;
    line("Matching: " + std::to_string(d.anchor_flips.size()) + " anchor labels flipped (" + std::to_string(to_pos) +
         " became positive, " + std::to_string(from_pos) + " stopped being positive)");
    line("Sampling: " + std::to_string(d.sampled_fg_changed) + " positive and " + std::to_string(d.sampled_bg_changed) +
         " negative samples differ");
  }
  line("Proposals: " + std::to_string(d.proposals_entered.size()) + " entered the kept set, " +
       std::to_string(d.proposals_left.size()) + " left it");
  line("RoIs: " + std::to_string(d.rois.size()) + " kept by both changed their most probable class");
  line("Predictions: " + std::to_string(d.detections_added.size()) + " detections added, " +
       std::to_string(d.detections_removed.size()) + " removed");
  for (const auto& g : d.gt) {
    const auto& names = a.trace.class_names;
    const int l = a.trace.gt[size_t(g.gt)].label;
    const std::string cls = l >= 0 && l < int(names.size()) ? names[size_t(l)] : std::to_string(l);
    line("GT " + std::to_string(g.gt) + " (" + cls + "): " + funnel_name(g.from) + " -> " + funnel_name(g.to) +
         " (changed at " + stage_name(g.stage) + ")");
  }
  return s;
}

}  // namespace rcnn::api
