#include "api/analyze_job.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "api/dataset_convert.h"
#include "analysis/accounting.h"
#include "analysis/tide.h"
#include "api/eval_job.h"
#include "api/job_session.h"
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

// TIDE's oracles on VOC's matching: the detections and GTs with one kind of error fixed.
// `best_error[image][gt]`: the highest-scoring classification or localisation error aimed at that GT while no
// true positive took it (the one a fix makes a true positive; the others aimed at it are removed), -1 if none.
enum class FixKind { None, Type, Missed, FalsePositives, FalseNegatives };

bool detected(const GtRecord& g) { return g.stage == Funnel::Detected; }

struct Targets {
  std::vector<std::vector<const GtRecord*>> gt;  // [image][gt index] its record (nullptr: none)
  std::vector<std::vector<int>> best_error;      // [image][gt index] index into r.detections, -1 none
  const GtRecord* gt_of(const DetectionRecord& d) const {
    const auto& v = gt[size_t(d.image)];
    return d.gt >= 0 && size_t(d.gt) < v.size() ? v[size_t(d.gt)] : nullptr;
  }
};

Targets targets_of(const AnalysisReport& r) {
  Targets t;
  t.gt.resize(r.image_paths.size());
  t.best_error.resize(r.image_paths.size());
  for (const auto& g : r.gts) {
    auto& v = t.gt[size_t(g.image)];
    if (v.size() <= size_t(g.index)) {
      v.resize(size_t(g.index) + 1, nullptr);
      t.best_error[size_t(g.image)].resize(v.size(), -1);
    }
    v[size_t(g.index)] = &g;
  }
  for (size_t k = 0; k < r.detections.size(); ++k) {
    const auto& d = r.detections[k];
    if (d.outcome != DetOutcome::FalsePositive) continue;
    if (d.error != ErrorType::Classification && d.error != ErrorType::Localization) continue;
    const GtRecord* g = t.gt_of(d);
    if (!g || detected(*g)) continue;  // a GT a true positive took: no fix aims at it
    int& b = t.best_error[size_t(d.image)][size_t(d.gt)];
    if (b < 0 || d.score > r.detections[size_t(b)].score) b = int(k);
  }
  return t;
}

void fix(const AnalysisReport& r, const Targets& tg, FixKind kind, ErrorType type, Boxes& E, Boxes& G) {
  const size_t N = r.image_paths.size();
  E.assign(N, {});
  G.assign(N, {});
  for (const auto& g : r.gts) {
    const bool targeted = tg.best_error[size_t(g.image)][size_t(g.index)] >= 0;
    bool ignore = g.stage == Funnel::Ignored;
    if (!detected(g) && kind == FixKind::Missed && !targeted) ignore = true;     // TIDE's Miss
    if (!detected(g) && kind == FixKind::FalseNegatives) ignore = true;           // every undetected GT
    G[size_t(g.image)].push_back(eval_box(g.box, g.label, 1.f, ignore));
  }
  for (const auto& c : r.crowd) G[size_t(c.image)].push_back(eval_box(c.box, c.label, 1.f, true));
  for (size_t k = 0; k < r.detections.size(); ++k) {
    const auto& d = r.detections[k];
    const bool fp = d.outcome == DetOutcome::FalsePositive;
    float score = d.score;
    if (kind == FixKind::FalsePositives && d.outcome != DetOutcome::Ignored) score = fp ? 0.f : 1.f;
    if (kind == FixKind::Type && fp && d.error == type) {
      if (type == ErrorType::Classification || type == ErrorType::Localization) {
        const GtRecord* g = tg.gt_of(d);
        if (!g || tg.best_error[size_t(d.image)][size_t(d.gt)] != int(k)) continue;  // not its GT's fix: removed
        // Classification: the GT's class; localisation: the GT's box.
        E[size_t(d.image)].push_back(type == ErrorType::Classification ? eval_box(d.box, g->label, d.score, false)
                                                                       : eval_box(g->box, d.label, d.score, false));
      }
      continue;  // both, duplicate, background: removed
    }
    E[size_t(d.image)].push_back(eval_box(d.box, d.label, score, false));
  }
}

// TIDE's own figures on the same GTs (difficult ones and crowd regions as ignore regions) and detections.
TideSummary tide_of(const AnalysisReport& r) {
  const size_t N = r.image_paths.size();
  std::vector<std::vector<analysis::tide::GtBox>> G(N);
  std::vector<std::vector<analysis::tide::DetBox>> D(N);
  for (const auto& g : r.gts)
    G[size_t(g.image)].push_back({g.box.x1, g.box.y1, g.box.x2, g.box.y2, g.label, g.stage == Funnel::Ignored});
  for (const auto& c : r.crowd) G[size_t(c.image)].push_back({c.box.x1, c.box.y1, c.box.x2, c.box.y2, c.label, true});
  for (const auto& d : r.detections) D[size_t(d.image)].push_back({d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.label, d.score});
  const auto t = analysis::tide::evaluate(G, D);
  TideSummary s;
  s.ap50 = t.ap50;
  s.main = t.dap;
  s.counts = t.count;
  s.fp = t.dap_fp;
  s.fn = t.dap_fn;
  return s;
}

// The sums, the mAP, the dAP of every error kind and TIDE's figures, from the records.
void summarise(AnalysisReport& r) {
  for (const auto& g : r.gts) {
    r.funnel[size_t(g.stage)]++;
    if (g.label >= 0 && g.label < int(r.funnel_by_class.size())) r.funnel_by_class[size_t(g.label)][size_t(g.stage)]++;
    r.funnel_by_size[size_t(size_bucket(g.box))][size_t(g.stage)]++;
    r.missed += g.stage != Funnel::Detected && g.stage != Funnel::Ignored;
  }
  for (const auto& d : r.detections)
    if (d.outcome == DetOutcome::FalsePositive) r.errors[size_t(d.error)]++;
  const auto tg = targets_of(r);
  for (const auto& g : r.gts)
    r.missed_untargeted += !detected(g) && g.stage != Funnel::Ignored && tg.best_error[size_t(g.image)][size_t(g.index)] < 0;
  Boxes E, G;
  fix(r, tg, FixKind::None, ErrorType::None, E, G);
  const auto ev = evaluation::evaluate_detections(E, G, r.class_names);
  r.map50 = ev.map50;
  for (const auto& c : ev.classes) r.class_ap50.push_back(c.ap50), r.class_num_gt.push_back(c.num_gt);
  const std::pair<const char*, ErrorType> types[] = {{"classification", ErrorType::Classification},
                                                     {"localization", ErrorType::Localization},
                                                     {"both", ErrorType::Both},
                                                     {"duplicate", ErrorType::Duplicate},
                                                     {"background", ErrorType::Background}};
  for (const auto& [name, type] : types) {
    fix(r, tg, FixKind::Type, type, E, G);
    r.error_dap.emplace_back(name, map50(E, G, r.class_names) - r.map50);
    r.error_dap_count.push_back(r.errors[size_t(type)]);
  }
  fix(r, tg, FixKind::Missed, ErrorType::None, E, G);
  r.error_dap.emplace_back("missed", map50(E, G, r.class_names) - r.map50);
  r.error_dap_count.push_back(r.missed_untargeted);
  fix(r, tg, FixKind::FalsePositives, ErrorType::None, E, G);
  r.special_dap.emplace_back("false_positives", map50(E, G, r.class_names) - r.map50);
  r.special_dap_count.push_back(r.errors[1] + r.errors[2] + r.errors[3] + r.errors[4] + r.errors[5]);
  fix(r, tg, FixKind::FalseNegatives, ErrorType::None, E, G);
  r.special_dap.emplace_back("false_negatives", map50(E, G, r.class_names) - r.map50);
  r.special_dap_count.push_back(r.missed);
  r.tide = tide_of(r);
}

// Records of one traced image (the accounting engine's verdicts).
void record(AnalysisReport& r, int i, const PipelineTrace& t) {
  for (size_t g = 0; g < t.gt.size(); ++g) {
    const auto& gi = t.gt[g];
    r.gts.push_back({i, int(g), gi.label, gi.box_original, gi.funnel, gi.funnel_reason});
  }
  for (const auto& c : t.crowd) r.crowd.push_back({i, c.label, c.box_original});
  for (size_t d = 0; d < t.detections.size(); ++d) {
    const auto& det = t.detections[d];
    const auto& v = t.verdicts[d];
    r.detections.push_back({i, int(d), det.label, det.score, det.box_original, v.outcome, v.error, v.gt});
  }
}

// `rcnn analyze --detections`: the same accounting on another detector's detections, no model.
AnalysisReport analyse_detections_file(const AnalyzeRequest& req, const data::Dataset& ds) {
  AnalysisReport r;
  r.from_detections = true;
  r.class_names = ds.class_names;
  r.funnel_by_class.assign(ds.class_names.size(), {});
  const int n = req.max_images > 0 ? std::min<int>(req.max_images, int(ds.size())) : int(ds.size());
  std::vector<std::string> paths;
  for (const auto& im : ds.images) paths.push_back(im.path);
  const auto dets = read_detections_file(req.detections, paths, int(ds.class_names.size()));
  for (int i = 0; i < n; ++i) {
    const auto& im = ds.images[size_t(i)];
    r.image_paths.push_back(im.path);
    PipelineTrace t;
    t.class_names = ds.class_names;
    for (const auto& a : im.objects) {
      const Box b{a.x1, a.y1, a.x2, a.y2};
      if (a.crowd) {
        t.crowd.push_back({b, b, a.label});
        continue;
      }
      GtInfo g;
      g.box = g.box_original = b;
      g.label = a.label;
      g.difficult = a.difficult;
      t.gt.push_back(g);
    }
    for (const auto& e : dets[size_t(i)]) {
      if (req.score_thresh >= 0 && e.score < req.score_thresh) continue;  // --score: the file's below it left out
      Detection d;
      d.box = d.box_original = {e.x1, e.y1, e.x2, e.y2};
      d.label = e.label;
      d.score = e.score;
      t.detections.push_back(d);
    }
    analysis::account_detections_only(t);
    record(r, i, t);
  }
  return r;
}

}  // namespace

AnalysisReport run_analysis(const AnalyzeRequest& req, const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  data::LoadOptions lo;
  lo.split = req.split;
  const auto raw = data::open_dataset(req.dataset.empty() ? data::default_dataset_dir() : req.dataset, lo);
  if (!req.detections.empty()) {
    auto r = analyse_detections_file(req, raw);
    summarise(r);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }
  const auto ds = to_info(raw);
  const auto session = open_job_session(req,
                                         ds.class_names);
  Session& s = *session;
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
    record(r, i, t);
    if (progress) progress(i + 1, n);
  }
  summarise(r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

const char* tide_error_key(int i) {
  return analysis::tide::error_key(analysis::tide::Error(i));
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
  counts["missed"] = r.missed_untargeted;
  counts["false_negatives"] = r.missed;
  j["error_counts"] = counts;
  J dap = J::object();
  for (const auto& [k, v] : r.error_dap) dap[k] = v;
  j["error_dap"] = dap;
  J special_dap = J::object();
  for (const auto& [k, v] : r.special_dap) special_dap[k] = v;
  j["error_dap_special"] = special_dap;
  j["error_dap_rules"] =
      "VOC matching (best same-class GT; taken: false positive), all-point AP, mAP@0.5 on 0-1; one fix per GT "
      "(its highest-scoring classification or localisation error); missed: GTs no such error aims at";
  J tide = J::object();
  tide["ap50"] = r.tide.ap50;
  J main = J::object(), special = J::object(), tcount = J::object();
  for (int e = 0; e < 6; ++e) main[tide_error_key(e)] = r.tide.main[size_t(e)], tcount[tide_error_key(e)] = r.tide.counts[size_t(e)];
  special["fp"] = r.tide.fp;
  special["fn"] = r.tide.fn;
  tide["main"] = main;
  tide["special"] = special;
  tide["counts"] = tcount;
  tide["rules"] =
      "tidecv's: best still-free same-class GT at IoU >= 0.5, at most 100 detections per image, 101-point AP in "
      "points (0-100), errors typed loc, cls, dupe, bkg, both; one fix per GT; dAP clamped at 0";
  j["tide"] = tide;
  j["source"] = r.from_detections ? "detections file (no model: GT stages unavailable)" : "model";
  j["seconds"] = r.seconds;
  return j.dump(1);
}

}  // namespace rcnn::api
