#include "api/compare_job.h"

#include <algorithm>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace rcnn::api {
namespace {

// A GT is the same GT in both reports when its image, class name and box agree
// (indices can differ: a torchvision model's trace leaves out classes it lacks).
using Key = std::tuple<int, std::string, float, float, float, float>;
Key key_of(const AnalysisReport& r, const GtRecord& g) {
  const std::string cls = g.label >= 0 && g.label < int(r.class_names.size()) ? r.class_names[size_t(g.label)] : "";
  return {g.image, cls, g.box.x1, g.box.y1, g.box.x2, g.box.y2};
}

bool found(Funnel f) { return f == Funnel::Detected; }

}  // namespace

CompareReport compare_reports(AnalysisReport a, AnalysisReport b) {
  CompareReport r;
  r.a = std::move(a);
  r.b = std::move(b);
  // One to one: B's GTs of one key in annotation order, each paired once (two identical boxes of a class in
  // an image pair A's first with B's first, A's second with B's second).
  std::map<Key, std::deque<size_t>> in_b;
  for (size_t i = 0; i < r.b.gts.size(); ++i) in_b[key_of(r.b, r.b.gts[i])].push_back(i);
  size_t matched = 0;
  for (const auto& ga : r.a.gts) {
    const auto it = in_b.find(key_of(r.a, ga));
    if (it == in_b.end() || it->second.empty()) {
      ++r.unmatched_gts;
      continue;
    }
    ++matched;
    const auto& gb = r.b.gts[it->second.front()];
    it->second.pop_front();
    r.transitions[size_t(ga.stage)][size_t(gb.stage)]++;
    if (found(ga.stage) == found(gb.stage) || ga.stage == Funnel::Ignored || gb.stage == Funnel::Ignored) continue;
    GtChange c{ga.image, ga.label, ga.index, gb.index, ga.box, ga.stage, gb.stage, ga.reason, gb.reason};
    (found(ga.stage) ? r.found_by_a_only : r.found_by_b_only).push_back(c);
  }
  r.unmatched_gts += int(r.b.gts.size() - matched);

  const size_t N = std::max(r.a.image_paths.size(), r.b.image_paths.size());
  r.images.resize(N);
  for (size_t i = 0; i < N; ++i) r.images[i].image = int(i);
  for (const auto& g : r.a.gts) r.images[size_t(g.image)].detected_a += found(g.stage);
  for (const auto& g : r.b.gts) r.images[size_t(g.image)].detected_b += found(g.stage);
  for (const auto& d : r.a.detections) r.images[size_t(d.image)].fp_a += d.outcome == DetOutcome::FalsePositive;
  for (const auto& d : r.b.detections) r.images[size_t(d.image)].fp_b += d.outcome == DetOutcome::FalsePositive;
  std::stable_sort(r.images.begin(), r.images.end(),
                   [](const ImageChange& x, const ImageChange& y) { return x.difference() > y.difference(); });
  return r;
}

CompareReport run_compare(const CompareRequest& req,
                          const std::function<void(const char*, int, int)>& progress) {
  auto b = req.b;  // the same images for both
  b.dataset = req.a.dataset;
  b.split = req.a.split;
  b.max_images = req.a.max_images;
  auto ra = run_analysis(req.a, [&](int d, int n) {
    if (progress) progress("A", d, n);
  });
  auto rb = run_analysis(b, [&](int d, int n) {
    if (progress) progress("B", d, n);
  });
  return compare_reports(std::move(ra), std::move(rb));
}

std::string compare_to_json(const CompareReport& r) {
  using J = nlohmann::ordered_json;
  J j;
  j["map50"] = {{"a", r.a.map50}, {"b", r.b.map50}};
  J classes = J::array();
  for (size_t c = 0; c < r.a.class_names.size(); ++c) {
    // B's class of the same name (its list can differ for a torchvision model).
    const auto& name = r.a.class_names[c];
    const auto it = std::find(r.b.class_names.begin(), r.b.class_names.end(), name);
    const size_t cb = size_t(it - r.b.class_names.begin());
    classes.push_back({{"class", name},
                       {"num_gt", c < r.a.class_num_gt.size() ? r.a.class_num_gt[c] : 0},
                       {"ap50_a", c < r.a.class_ap50.size() ? J(r.a.class_ap50[c]) : J()},
                       {"ap50_b", cb < r.b.class_ap50.size() ? J(r.b.class_ap50[cb]) : J()}});
  }
  j["classes"] = classes;
  auto changes = [&](const std::vector<GtChange>& v) {
    J a = J::array();
    for (const auto& c : v)
      a.push_back({{"image", r.a.image_paths[size_t(c.image)]},
                   {"class", c.label >= 0 && c.label < int(r.a.class_names.size()) ? r.a.class_names[size_t(c.label)] : ""},
                   {"box", {c.box.x1, c.box.y1, c.box.x2, c.box.y2}},
                   {"stage_a", funnel_name(c.stage_a)},
                   {"stage_b", funnel_name(c.stage_b)},
                   {"reason_a", c.reason_a},
                   {"reason_b", c.reason_b}});
    return a;
  };
  j["found_by_a_only"] = changes(r.found_by_a_only);
  j["found_by_b_only"] = changes(r.found_by_b_only);
  J tr = J::object();
  for (Funnel fa : funnel_order()) {
    J row = J::object();
    for (Funnel fb : funnel_order())
      if (r.transitions[size_t(fa)][size_t(fb)]) row[funnel_name(fb)] = r.transitions[size_t(fa)][size_t(fb)];
    if (!row.empty()) tr[funnel_name(fa)] = row;
  }
  j["transitions"] = tr;
  j["unmatched_gts"] = r.unmatched_gts;
  J im = J::array();
  for (const auto& c : r.images)
    im.push_back({{"image", r.a.image_paths[size_t(c.image)]},
                  {"detected_a", c.detected_a},
                  {"detected_b", c.detected_b},
                  {"fp_a", c.fp_a},
                  {"fp_b", c.fp_b}});
  j["images"] = im;
  return j.dump(2);
}

}  // namespace rcnn::api
