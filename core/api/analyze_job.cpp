#include "api/analyze_job.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "api/dataset_convert.h"
#include "api/session.h"
#include "data/dataset.h"
#include "evaluation/voc_map.h"

namespace rcnn::api {

const char* size_bucket_name(SizeBucket b) {
  static const char* n[] = {"small", "medium", "large"};
  return n[int(b)];
}

SizeBucket size_bucket(const Box& b) {
  const float s = std::sqrt(std::max(0.f, b.width()) * std::max(0.f, b.height()));
  return s < 32 ? SizeBucket::Small : s < 96 ? SizeBucket::Medium : SizeBucket::Large;
}

namespace {

using Boxes = std::vector<std::vector<evaluation::EvalBox>>;

double map50(const Boxes& E, const Boxes& G, const std::vector<std::string>& names) {
  return evaluation::evaluate_detections(E, G, names).map50;
}

evaluation::EvalBox eval_box(const Box& b, int label, float score, bool difficult) {
  return {b.x1, b.y1, b.x2, b.y2, label, score, difficult};
}

// TIDE's oracles: the detections and GTs with one error type fixed.
void fix(const AnalysisReport& r, ErrorType type, bool missed, Boxes& E, Boxes& G) {
  const size_t N = r.image_paths.size();
  E.assign(N, {});
  G.assign(N, {});
  // A GT taken by a true positive: fixing an error onto it would only make a duplicate.
  std::vector<std::vector<char>> detected(N);
  for (const auto& g : r.gts) {
    auto& v = detected[size_t(g.image)];
    if (v.size() <= size_t(g.index)) v.resize(size_t(g.index) + 1, 0);
    v[size_t(g.index)] = g.stage == Funnel::Detected;
  }
  std::vector<std::vector<const GtRecord*>> gt_of(N);
  for (const auto& g : r.gts) {
    const bool ignore = g.stage == Funnel::Ignored || (missed && g.stage != Funnel::Detected);
    G[size_t(g.image)].push_back(eval_box(g.box, g.label, 1.f, ignore));
    gt_of[size_t(g.image)].push_back(&g);
  }
  for (const auto& d : r.detections) {
    if (d.outcome == DetOutcome::FalsePositive && d.error == type) {
      if (type == ErrorType::Classification || type == ErrorType::Localization) {
        if (d.gt < 0 || detected[size_t(d.image)][size_t(d.gt)]) continue;  // would be a duplicate: suppress
        const GtRecord& g = *gt_of[size_t(d.image)][size_t(d.gt)];
        // Classification: the GT's class; localisation: the GT's box.
        E[size_t(d.image)].push_back(type == ErrorType::Classification ? eval_box(d.box, g.label, d.score, false)
                                                                       : eval_box(g.box, d.label, d.score, false));
        detected[size_t(d.image)][size_t(d.gt)] = 1;
      }
      continue;  // both, duplicate, background: removed
    }
    E[size_t(d.image)].push_back(eval_box(d.box, d.label, d.score, false));
  }
}

}  // namespace

AnalysisReport run_analysis(const AnalyzeRequest& req, const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  data::LoadOptions lo;
  lo.split = req.split;
  const auto ds = to_info(data::open_dataset(req.dataset.empty() ? data::default_dataset_dir() : req.dataset, lo));
  DetectorConfig cfg = load_preset(req.config);
  cfg.num_classes = int(ds.class_names.size());
  cfg.class_names = ds.class_names;
  Session s(cfg, req.device);
  if (!req.checkpoint.empty()) s.load_checkpoint(req.checkpoint);
  if (!req.config_json.empty()) {
    auto c = config_from_json_string(req.config_json, "the studio's config");
    c.num_classes = s.config().num_classes;
    c.class_names = s.config().class_names;
    s.set_config(c);
  }
  if (req.score_thresh >= 0) {
    auto c = s.config();
    (c.is_torchvision() ? c.torchvision.box_score_thresh : c.roi.score_thresh) = req.score_thresh;
    s.set_config(c);
  }
  s.set_display_outputs(false);
  AnalysisReport r;
  r.class_names = ds.class_names;
  r.funnel_by_class.assign(ds.class_names.size(), {});
  const int n = req.max_images > 0 ? std::min<int>(req.max_images, int(ds.size())) : int(ds.size());
  for (int i = 0; i < n; ++i) {
    const auto& im = ds.images[size_t(i)];
    r.image_paths.push_back(im.path);
    s.open_image(im.path, im.objects, ds.class_names);
    const auto& t = s.run();
    if (i == 0 && t.class_names != r.class_names) {
      // A torchvision model's own classes (GTs were matched to them by name).
      r.class_names = t.class_names;
      r.funnel_by_class.assign(r.class_names.size(), {});
    }
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      r.gts.push_back({i, int(g), gi.label, gi.box_original, gi.funnel, gi.funnel_reason});
      r.funnel[size_t(gi.funnel)]++;
      if (gi.label >= 0 && gi.label < int(r.funnel_by_class.size())) r.funnel_by_class[size_t(gi.label)][size_t(gi.funnel)]++;
      r.funnel_by_size[size_t(size_bucket(gi.box_original))][size_t(gi.funnel)]++;
      r.missed += gi.funnel != Funnel::Detected && gi.funnel != Funnel::Ignored;
    }
    for (size_t d = 0; d < t.detections.size(); ++d) {
      const auto& det = t.detections[d];
      const auto& v = t.verdicts[d];
      r.detections.push_back({i, int(d), det.label, det.score, det.box_original, v.outcome, v.error, v.gt});
      if (v.outcome == DetOutcome::FalsePositive) r.errors[size_t(v.error)]++;
    }
    if (progress) progress(i + 1, n);
  }
  Boxes E, G;
  fix(r, ErrorType::None, false, E, G);  // ErrorType::None: nothing fixed
  const auto ev = evaluation::evaluate_detections(E, G, r.class_names);
  r.map50 = ev.map50;
  for (const auto& c : ev.classes) r.class_ap50.push_back(c.ap50), r.class_num_gt.push_back(c.num_gt);
  const std::pair<const char*, ErrorType> types[] = {{"classification", ErrorType::Classification},
                                                     {"localization", ErrorType::Localization},
                                                     {"both", ErrorType::Both},
                                                     {"duplicate", ErrorType::Duplicate},
                                                     {"background", ErrorType::Background}};
  for (const auto& [name, type] : types) {
    fix(r, type, false, E, G);
    r.error_dap.emplace_back(name, map50(E, G, r.class_names) - r.map50);
  }
  fix(r, ErrorType::None, true, E, G);
  r.error_dap.emplace_back("missed", map50(E, G, r.class_names) - r.map50);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string analysis_to_json(const AnalysisReport& r) {
  using J = nlohmann::ordered_json;
  auto cls = [&](int l) { return l >= 0 && l < int(r.class_names.size()) ? r.class_names[size_t(l)] : std::string(); };
  auto stages = [&](const std::array<int, kNumFunnel>& a) {
    J j = J::object();
    for (Funnel f : funnel_order()) j[funnel_name(f)] = a[size_t(f)];
    return j;
  };
  J j;
  j["images"] = r.image_paths.size();
  j["map50"] = r.map50;
  j["funnel"] = stages(r.funnel);
  J bc = J::object(), bs = J::object();
  for (size_t c = 0; c < r.funnel_by_class.size(); ++c) bc[cls(int(c))] = stages(r.funnel_by_class[c]);
  for (int b = 0; b < 3; ++b) bs[size_bucket_name(SizeBucket(b))] = stages(r.funnel_by_size[size_t(b)]);
  j["funnel_by_class"] = bc;
  j["funnel_by_size"] = bs;
  J gts = J::array();
  for (const auto& g : r.gts)
    gts.push_back({{"image", r.image_paths[size_t(g.image)]},
                   {"index", g.index},
                   {"class", cls(g.label)},
                   {"stage", funnel_name(g.stage)},
                   {"reason", g.reason}});
  j["gts"] = gts;
  static const char* outcome[] = {"tp", "fp", "ignored"};
  J dets = J::array();
  for (const auto& d : r.detections)
    dets.push_back({{"image", r.image_paths[size_t(d.image)]},
                    {"score", d.score},
                    {"class", cls(d.label)},
                    {"outcome", outcome[int(d.outcome)]},
                    {"error_type", d.outcome == DetOutcome::FalsePositive ? error_name(d.error) : "none"}});
  j["detections"] = dets;
  J counts = J::object();
  for (int e = 1; e < 6; ++e) counts[error_name(ErrorType(e))] = r.errors[size_t(e)];
  counts["missed"] = r.missed;
  j["error_counts"] = counts;
  J dap = J::object();
  for (const auto& [k, v] : r.error_dap) dap[k] = v;
  j["error_dap"] = dap;
  j["seconds"] = r.seconds;
  return j.dump(1);
}

}  // namespace rcnn::api
