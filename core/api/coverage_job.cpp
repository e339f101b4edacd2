#include "api/coverage_job.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/accounting.h"
#include "analysis/sparse_match.h"
#include "api/analyze_job.h"
#include "detail/coverage_internal.h"
#include "pipeline/match_trace.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "modeling/anchor_generator.h"
#include "modeling/matcher.h"
#include "pipeline/families.h"

namespace rcnn::api {

int aspect_bucket(float a) {
  return a < 0.5f ? 0 : a < 1.f ? 1 : a < 2.f ? 2 : 3;
}
const char* aspect_bucket_name(int b) {
  static const char* n[] = {"h/w < 1/2", "1/2 <= h/w < 1", "1 <= h/w < 2", "h/w >= 2"};
  return n[b];
}

namespace {

void add(CoverageGroup& g, const GtCoverage& c) {
  g.gts++;
  g.covered += c.positives > 0;
  g.covered_no_lq += c.positives_no_lq > 0;
  g.positives += c.positives;
}

}  // namespace

CoverageReport run_coverage(const CoverageRequest& req, const std::function<void(int, int)>& progress) {
  data::LoadOptions lo;
  lo.split = req.split;
  const auto ds = data::open_dataset(req.dataset.empty() ? data::default_dataset_dir() : req.dataset, lo);
  const DetectorConfig cfg = resolve_config(req, ds);
  const int n = req.max_images > 0 ? std::min<int>(req.max_images, int(ds.size())) : int(ds.size());
  return coverage_on(ds, cfg, n, req.only_images, progress);
}

DetectorConfig resolve_config(const CoverageRequest& req, const data::Dataset& ds) {
  DetectorConfig cfg =
      req.config_json.empty() ? load_preset(req.config) : config_from_json_string(req.config_json, "the given config");
  cfg.num_classes = int(ds.class_names.size());
  cfg.class_names = ds.class_names;
  for (const auto& o : req.overrides) apply_override(cfg, o);
  return cfg;
}

CoverageReport coverage_on(const data::Dataset& ds, const DetectorConfig& cfg, int n, const std::vector<int>& only,
                           const std::function<void(int, int)>& progress, CoverageMethod method) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard ng;
  CoverageReport r;
  r.config_json = config_to_json_string(cfg);
  r.class_names = ds.class_names;
  // The family's anchors and matcher (pipeline/detector.h's AnchorModel):
  // the seed's one grid of the square input, or torchvision's grid of each
  // image at its own resized and padded size.
  auto model = pipeline::make_anchor_model(cfg);
  const modeling::Matcher matcher = model->matcher(true);
  const modeling::Matcher strict = model->matcher(false);
  r.low_quality = matcher.allow_low_quality;
  r.iou_lo = matcher.lo;
  r.iou_hi = matcher.hi;
  PipelineTrace t;  // the matching stage's part of a trace, reused per image
  t.iou_lo = matcher.lo;
  t.iou_hi = matcher.hi;
  t.low_quality = matcher.allow_low_quality;
  torch::Tensor anchors;
  // Puts an anchor set into the trace (once for a fixed grid).
  auto use_anchors = [&](const pipeline::AnchorSet& a) {
    anchors = a.boxes;
    t.levels = a.levels;
    auto acc = anchors.accessor<float, 2>();
    t.anchors.resize(size_t(anchors.size(0)));
    for (int64_t k = 0; k < anchors.size(0); ++k) t.anchors[size_t(k)] = {acc[k][0], acc[k][1], acc[k][2], acc[k][3]};
  };
  // The windowed matcher needs one fixed grid; otherwise the dense matcher runs per image.
  if (!model->fixed_grid()) method = CoverageMethod::Dense;
  std::unique_ptr<analysis::SparseMatcher> sparse;
  r.by_class.assign(ds.class_names.size(), {});
  if (model->fixed_grid()) {
    use_anchors(model->anchors(0, 0));
    sparse = std::make_unique<analysis::SparseMatcher>(t);
    r.levels = t.levels;
    r.by_level.assign(r.levels.size(), {});
  }
  for (int i = 0; i < n; ++i) r.image_paths.push_back(ds.images[size_t(i)].path);
  std::vector<int> chosen = only;
  if (chosen.empty())
    for (int i = 0; i < n; ++i) chosen.push_back(i);
  int done = 0;
  for (int i : chosen) {
    if (i < 0 || i >= n) continue;
    const auto& im = ds.images[size_t(i)];
    if (im.width <= 0 || im.height <= 0)
      throw std::runtime_error(im.path + ": image size unknown (a folder of images has no annotations to cover)");
    if (!model->fixed_grid()) use_anchors(model->anchors(im.width, im.height));
    if (r.levels.empty()) {
      r.levels = t.levels;
      r.by_level.assign(r.levels.size(), {});
    }
    t.gt.clear();
    for (const auto& a : im.objects) {
      if (a.crowd) continue;  // ignore regions are not training targets
      GtInfo g;
      g.box_original = {a.x1, a.y1, a.x2, a.y2};
      g.box = model->to_input(g.box_original, im.width, im.height);
      g.label = a.label;
      t.gt.push_back(g);
    }
    if (t.gt.empty()) continue;
    std::vector<int> no_lq;  // positives per GT without the low-quality rule
    if (method == CoverageMethod::Windowed) {
      sparse->match(t, no_lq);
    } else {
      std::vector<float> rows;  // the matcher's (x1, y1, x2, y2, class) rows
      for (const auto& g : t.gt) rows.insert(rows.end(), {g.box.x1, g.box.y1, g.box.x2, g.box.y2, float(g.label)});
      const auto gt = torch::tensor(rows).view({-1, 5});
      const auto m = matcher(anchors, gt);
      const auto m0 = strict(anchors, gt);
      no_lq.assign(t.gt.size(), 0);
      auto lab = m0.labels.contiguous();
      auto gi = m0.gt_index.contiguous();
      for (int64_t k = 0; k < lab.size(0); ++k)
        if (lab.data_ptr<int8_t>()[k] == modeling::kForeground) no_lq[size_t(gi.data_ptr<int64_t>()[k])]++;
      fill_match_stage(t, m);
      analysis::account_matching(t);  // the per-image funnel's reasons
    }
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      GtCoverage c;
      c.image = i;
      c.index = int(g);
      c.label = gi.label;
      c.box = gi.box_original;
      c.side = std::sqrt(std::max(0.f, gi.box.width() * gi.box.height()));
      c.aspect = gi.box.width() > 0 ? gi.box.height() / gi.box.width() : 0;
      c.positives = gi.positive_anchors;
      c.positives_no_lq = no_lq[g];
      c.best_iou = gi.best_iou;
      c.best_level = gi.best_anchor >= 0 ? t.anchor_pos(gi.best_anchor).level : -1;
      c.reason = gi.no_positive;
      c.reason_text = gi.no_positive_reason;
      add(r.all, c);
      if (c.label >= 0 && c.label < int(r.by_class.size())) add(r.by_class[size_t(c.label)], c);
      if (c.best_level >= 0 && c.best_level < int(r.by_level.size())) add(r.by_level[size_t(c.best_level)], c);
      add(r.by_size[size_t(c.side < 32 ? 0 : c.side < 96 ? 1 : 2)], c);
      add(r.by_aspect[size_t(aspect_bucket(c.aspect))], c);
      r.gts.push_back(std::move(c));
    }
    if (progress) progress(++done, int(chosen.size()));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string coverage_to_json(const CoverageReport& r, const SuggestReport* sug) {
  using J = nlohmann::ordered_json;
  auto group = [](const CoverageGroup& g) {
    return J{{"gts", g.gts},
             {"bpr", g.bpr()},
             {"bpr_without_low_quality", g.bpr_no_lq()},
             {"mean_positives", g.mean_positives()}};
  };
  auto cls = [&](int l) { return l >= 0 && l < int(r.class_names.size()) ? r.class_names[size_t(l)] : std::string(); };
  J j;
  j["images"] = r.image_paths.size();
  j["num_gts"] = r.all.gts;
  j["bpr"] = r.all.bpr();
  j["bpr_without_low_quality"] = r.all.bpr_no_lq();
  j["mean_positives"] = r.all.mean_positives();
  j["matcher"] = {{"iou_lo", r.iou_lo}, {"iou_hi", r.iou_hi}, {"low_quality", r.low_quality}};
  J lv = J::array();
  for (const auto& L : r.levels)
    lv.push_back({{"name", L.name}, {"stride", L.stride}, {"sizes", L.sizes}, {"ratios", L.ratios}});
  j["levels"] = lv;
  J bc = J::object(), bl = J::object(), bs = J::object(), ba = J::object();
  for (size_t l = 0; l < r.by_level.size(); ++l) bl[r.levels[l].name] = group(r.by_level[l]);
  for (int b = 0; b < 3; ++b) bs[size_bucket_name(SizeBucket(b))] = group(r.by_size[size_t(b)]);
  for (int b = 0; b < kAspectBuckets; ++b) ba[aspect_bucket_name(b)] = group(r.by_aspect[size_t(b)]);
  for (size_t c = 0; c < r.by_class.size(); ++c) bc[cls(int(c))] = group(r.by_class[c]);
  j["by_level"] = bl;
  j["by_size"] = bs;
  j["by_aspect"] = ba;
  j["by_class"] = bc;
  J gts = J::array();
  for (const auto& g : r.gts)
    gts.push_back({{"image", r.image_paths[size_t(g.image)]},
                   {"index", g.index},
                   {"class", cls(g.label)},
                   {"positives", g.positives},
                   {"positives_without_low_quality", g.positives_no_lq},
                   {"best_iou", g.best_iou},
                   {"level", g.best_level >= 0 ? r.levels[size_t(g.best_level)].name : std::string()},
                   {"side", g.side},
                   {"aspect", g.aspect},
                   {"reason", g.reason_text}});
  j["gts"] = gts;
  if (sug) {
    auto one = [](const AnchorSuggestion& s) {
      // The options it sets under their names in their section ("stride_scale", "anchor_sizes", ...).
      J anchors = J::object();
      for (const auto& [key, value] : s.settings) anchors[key.substr(key.rfind('.') + 1)] = J::parse(value);
      return J{{"anchors", anchors},
               {"bpr", s.all.bpr()},
               {"bpr_without_low_quality", s.all.bpr_no_lq()},
               {"mean_positives", s.all.mean_positives()},
               {"anchors_per_location", s.per_location}};
    };
    j["current"] = one(sug->current);
    J list = J::array();
    for (const auto& s : sug->best) list.push_back(one(s));
    j["suggestions"] = list;
  }
  j["seconds"] = r.seconds;
  return j.dump(1);
}

}  // namespace rcnn::api
