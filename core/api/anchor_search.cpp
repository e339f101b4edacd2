// Anchor suggestions (coverage_job.h): grid search scored by the real matcher.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "detail/coverage_internal.h"
#include "config/detector_config.h"
#include "pipeline/families.h"

namespace rcnn::api {
namespace {

bool better(const CoverageGroup& a, const CoverageGroup& b) {
  if (a.bpr() != b.bpr()) return a.bpr() > b.bpr();
  if (a.bpr_no_lq() != b.bpr_no_lq()) return a.bpr_no_lq() > b.bpr_no_lq();
  return a.mean_positives() > b.mean_positives();
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

DetectorConfig with(DetectorConfig cfg, const AnchorSuggestion& s) {
  for (const auto& [key, value] : s.settings) apply_override(cfg, key + "=" + value);  // validates
  return cfg;
}

}  // namespace

std::string AnchorSuggestion::overrides() const {
  std::string o;
  for (const auto& [key, value] : settings) o += (o.empty() ? "" : " ") + key + "=" + value;
  return o;
}

std::string config_with(const CoverageRequest& base, const AnchorSuggestion& s) {
  DetectorConfig cfg =
      base.config_json.empty() ? load_preset(base.config) : config_from_json_string(base.config_json, "the given config");
  for (const auto& o : base.overrides) apply_override(cfg, o);
  return config_to_json_string(with(cfg, s));
}

SuggestReport suggest_anchors(const SuggestRequest& req, const std::function<void(int, int)>& progress) {
  data::LoadOptions lo;
  lo.split = req.coverage.split;
  const auto ds =
      data::open_dataset(req.coverage.dataset.empty() ? data::default_dataset_dir() : req.coverage.dataset, lo);
  const DetectorConfig cfg = resolve_config(req.coverage, ds);
  const int n = req.coverage.max_images > 0 ? std::min<int>(req.coverage.max_images, int(ds.size())) : int(ds.size());
  return suggest_on(ds, cfg, n, req, progress);
}

SuggestReport suggest_on(const data::Dataset& ds, const DetectorConfig& cfg, int n, const SuggestRequest& req,
                         const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  // The family's search space (pipeline/detector.h's AnchorModel).
  const auto space = pipeline::make_anchor_model(cfg);
  SuggestReport out;
  // The current config on the whole split; also gives the GT aspect ratios.
  const auto full = coverage_on(ds, cfg, n, {});
  out.current = space->current();
  out.current.all = full.all;
  // Aspect-ratio sets: fixed ones and the split's own quantiles (10/50/90 %, 25/75 %).
  std::vector<float> aspects;
  for (const auto& g : full.gts) aspects.push_back(g.aspect);
  std::sort(aspects.begin(), aspects.end());
  auto q = [&](double p) {
    return aspects.empty() ? 1.0 : std::round(double(aspects[size_t(p * double(aspects.size() - 1))]) * 100) / 100;
  };
  std::vector<std::vector<double>> ratio_sets{{1.0}, {0.5, 1.0, 2.0}, {0.33, 1.0, 3.0}, {0.5, 1.0}, {1.0, 2.0},
                                              {q(0.1), q(0.5), q(0.9)}, {q(0.25), q(0.75)}};
  for (auto& rs : ratio_sets) {
    std::sort(rs.begin(), rs.end());
    rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
    for (auto& r : rs) r = std::max(r, 0.05);
  }
  // The search sample: a seeded choice of images, always the same for a seed.
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[size_t(i)] = i;
  if (req.search_images > 0 && req.search_images < n) {
    std::mt19937_64 rng(req.seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(size_t(req.search_images));
    std::sort(order.begin(), order.end());
  }
  struct Cand {
    AnchorSuggestion s;
    CoverageGroup score;
  };
  std::vector<Cand> cands;
  for (auto& s : space->search_space(ratio_sets, req.max_per_location)) cands.push_back({std::move(s), {}});
  // Score every candidate on the sample, candidates spread over the threads
  // (each score lands in its own slot, so the result does not depend on them).
  std::atomic<size_t> next{0};
  std::mutex progress_mutex;
  int done = 0;
  std::exception_ptr failure;
  auto worker = [&] {
    try {
      for (size_t k; (k = next++) < cands.size();) {
        cands[k].score = coverage_on(ds, with(cfg, cands[k].s), n, order).all;
        std::lock_guard<std::mutex> lock(progress_mutex);
        if (progress) progress(++done, int(cands.size()));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      if (!failure) failure = std::current_exception();
      next = cands.size();
    }
  };
  std::vector<std::thread> pool;
  const int threads = std::max(1, std::min<int>(at::get_num_threads(), int(cands.size())));
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return better(a.score, b.score); });
  out.candidates = int(cands.size());
  for (size_t k = 0; k < cands.size() && int(out.best.size()) < req.top; ++k) {
    auto s = cands[k].s;
    s.all = coverage_on(ds, with(cfg, s), n, {}).all;  // the whole split
    out.best.push_back(s);
  }
  std::stable_sort(out.best.begin(), out.best.end(),
                   [](const AnchorSuggestion& a, const AnchorSuggestion& b) { return better(a.all, b.all); });
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace rcnn::api
