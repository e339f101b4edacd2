#pragma once
// Anchor coverage of a dataset split under a config (`rcnn anchors`): the
// same anchors and the same Matcher the detector trains with (thresholds,
// low-quality rule, per-level grids — not shape-only IoU), applied to every
// GT of every image. No model is needed. No torch types here.
#include <array>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "api/trace.h"

namespace rcnn::api {

struct CoverageRequest {
  std::string dataset;  // empty: the embedded default
  std::string split = "train";
  std::string config = "default";      // preset name or .json
  std::string config_json;             // non-empty: this config (e.g. the studio's) instead of `config`
  std::vector<std::string> overrides;  // "key=value"
  int max_images = 0;                  // 0: all
  std::vector<int> only_images;        // non-empty: just these images (indices into the split)
};

struct GtCoverage {
  int image = 0, index = 0, label = 0;
  Box box;                // original pixels
  float side = 0;         // sqrt(area) in model-input pixels
  float aspect = 0;       // h / w in model-input pixels
  int positives = 0;      // under the matcher as configured
  int positives_no_lq = 0;  // the same matcher without the low-quality rule
  float best_iou = 0;
  int best_level = -1;    // level of the best anchor
  NoPositive reason = NoPositive::None;
  std::string reason_text;
};

// Buckets: size by sqrt(area) in input pixels (< 32, 32-96, >= 96); aspect
// h/w (< 1/2, 1/2-1, 1-2, >= 2).
constexpr int kAspectBuckets = 4;
int aspect_bucket(float aspect);
const char* aspect_bucket_name(int b);

struct CoverageGroup {
  int gts = 0, covered = 0, covered_no_lq = 0;
  double positives = 0;  // sum over the group's GTs
  double bpr() const { return gts ? double(covered) / gts : 0; }
  double bpr_no_lq() const { return gts ? double(covered_no_lq) / gts : 0; }
  double mean_positives() const { return gts ? positives / gts : 0; }
};

struct CoverageReport {
  std::string config_json;  // the resolved config
  std::vector<std::string> image_paths, class_names;
  std::vector<LevelInfo> levels;  // anchors of each level (sizes, ratios, grid)
  bool low_quality = false;
  double iou_lo = 0, iou_hi = 0;
  std::vector<GtCoverage> gts;
  CoverageGroup all;
  std::vector<CoverageGroup> by_class, by_level;  // by_level: GTs whose best anchor is on that level
  std::array<CoverageGroup, 3> by_size{};
  std::array<CoverageGroup, kAspectBuckets> by_aspect{};
  double seconds = 0;
};

// Throws std::runtime_error naming the file on a bad dataset or config.
CoverageReport run_coverage(const CoverageRequest& req, const std::function<void(int done, int total)>& progress = {});

}  // namespace rcnn::api

namespace rcnn::api {

// Anchor suggestions: a grid search over anchors.stride_scale,
// anchors.scales_per_octave and anchors.aspect_ratios (fixed sets plus the
// split's own aspect quantiles), each candidate scored with run_coverage's
// matcher on a seeded sample of the split, ranked by best possible recall as
// configured, then BPR without the low-quality rule, then mean positives per
// GT; candidates with more than max_per_location anchors per location are
// skipped. The top ones are re-scored on the whole split.
struct SuggestRequest {
  CoverageRequest coverage;  // dataset, split, config, overrides
  int max_per_location = 9;
  int search_images = 300;  // sample size for the search (0: all)
  uint64_t seed = 0;        // which images the sample holds
  int top = 5;  // suggestions to report
};

// One candidate: the config keys it sets (JSON values) and, for the seed's
// presets, the same as numbers. A torchvision preset's candidates set
// torchvision.anchor_sizes (the preset's sizes of every level scaled, with
// 1-3 sizes per octave) and torchvision.aspect_ratios, the same number of
// anchors per location on every level (torchvision's RPN head is shared).
struct AnchorSuggestion {
  std::vector<std::pair<std::string, std::string>> settings;  // e.g. {"anchors.stride_scale", "2"}
  double stride_scale = 0;  // seed's presets
  int scales_per_octave = 1;
  std::vector<double> aspect_ratios;
  int per_location = 0;  // anchors per location
  CoverageGroup all;     // on the whole split
  std::string overrides() const;  // "anchors.stride_scale=2 anchors.scales_per_octave=3 ..."
};

struct SuggestReport {
  AnchorSuggestion current;  // the config as given
  std::vector<AnchorSuggestion> best;
  int candidates = 0;  // evaluated in the search
  double seconds = 0;
};

SuggestReport suggest_anchors(const SuggestRequest& req, const std::function<void(int done, int total)>& progress = {});
// The given config (preset/json + overrides) with suggestion s applied, as JSON `--config` accepts.
std::string config_with(const CoverageRequest& base, const AnchorSuggestion& s);

// {"bpr", "bpr_without_low_quality", "mean_positives", "by_level", "by_size", "by_aspect", "by_class",
//  "gts": [{"image", "index", "positives", "best_iou", "level", "reason"}],
//  "suggestions": [{"anchors": {config keys}, "bpr", "anchors_per_location", ...}]} (suggestions when given)
std::string coverage_to_json(const CoverageReport& r, const SuggestReport* suggestions = nullptr);

}  // namespace rcnn::api
