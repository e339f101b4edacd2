#pragma once
// Dataset-level accounting (`rcnn analyze`, the studio's Analysis panel): the
// accounting engine's verdicts over every image of a split, summed into the
// GT funnel (by class and size bucket) and the TIDE error breakdown with the
// mAP@0.5 each error type costs. No torch types here.
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "api/trace.h"

#include "api/model_spec.h"

namespace rcnn::api {

struct AnalyzeRequest : ModelSpec {  // the model (api/model_spec.h) and the split
  std::string dataset;  // empty: the embedded default
  std::string split = "val";
  int max_images = 0;  // 0: all
  // Non-empty: account for the detections of this file (any detector's; the format `rcnn eval --detections`
  // reads) instead of running a model. The GT funnel's model stages are then unavailable: an undetected GT
  // is Funnel::Undetected.
  std::string detections;
};

// Size buckets of a GT by sqrt(area) in original pixels: COCO's small
// (< 32), medium (32-96), large (>= 96).
enum class SizeBucket : int { Small = 0, Medium, Large };
const char* size_bucket_name(SizeBucket b);
SizeBucket size_bucket(const Box& b);

struct GtRecord {
  int image = 0, index = 0, label = 0;
  Box box;  // original pixels
  Funnel stage = Funnel::Detected;
  std::string reason;
};

// A COCO crowd box: an ignore region (not a GT, not in the funnel).
struct CrowdRecord {
  int image = 0, label = 0;
  Box box;  // original pixels
};

// TIDE's figures computed its way (analysis/tide.h: greedy best-free-GT matching, 101-point AP at IoU 0.5,
// in points 0-100, one fix per GT, Miss = unmatched and aimed at by no error, dAP clamped at 0).
struct TideSummary {
  double ap50 = 0;
  // cls, loc, both, dupe, bkg, miss (tidecv's order); the special errors fp and fn.
  std::array<double, 6> main{};
  std::array<int, 6> counts{};
  double fp = 0, fn = 0;
};
const char* tide_error_key(int i);  // "cls", "loc", "both", "dupe", "bkg", "miss"

struct DetectionRecord {
  int image = 0, index = 0, label = 0;
  float score = 0;
  Box box;  // original pixels
  DetOutcome outcome = DetOutcome::FalsePositive;
  ErrorType error = ErrorType::None;
  int gt = -1;
};

struct AnalysisReport {
  std::vector<std::string> image_paths, class_names;
  std::array<int, kNumFunnel> funnel{};                     // GTs per outcome (indexed by Funnel)
  std::vector<std::array<int, kNumFunnel>> funnel_by_class;  // [class]
  std::array<std::array<int, kNumFunnel>, 3> funnel_by_size{};
  std::vector<GtRecord> gts;                 // every GT
  std::vector<CrowdRecord> crowd;            // every crowd region
  std::vector<DetectionRecord> detections;  // every detection
  std::array<int, 6> errors{};               // false positives per ErrorType (index 0: none)
  int missed = 0;                            // non-difficult GTs not detected (TIDE's false negatives)
  int missed_untargeted = 0;                 // of those, the ones no classification or localisation error aims at
  double map50 = 0;                          // VOC mAP@0.5 of these detections
  std::vector<double> class_ap50;            // [class] VOC AP@0.5
  std::vector<int> class_num_gt;             // [class] non-difficult GTs
  // mAP@0.5 gained when each error type is fixed, with TIDE's oracles on VOC's matching and all-point AP
  // (0-1): "classification", "localization", "both", "duplicate", "background", "missed" (TIDE's Miss: GTs
  // no classification or localisation error aims at). One fix per GT: the highest-scoring classification or
  // localisation error aimed at it is the one made a true positive.
  std::vector<std::pair<std::string, double>> error_dap;
  std::vector<int> error_dap_count;  // how many errors each entry of error_dap fixes
  // TIDE's special errors on the same rules: "false_positives" (every true positive ranked first) and
  // "false_negatives" (every undetected GT removed); counts alike.
  std::vector<std::pair<std::string, double>> special_dap;
  std::vector<int> special_dap_count;
  TideSummary tide;
  bool from_detections = false;  // accounted from a detections file: no model stages
  double seconds = 0;
};

// Throws std::runtime_error naming the file on a bad checkpoint or dataset.
AnalysisReport run_analysis(const AnalyzeRequest& req, const std::function<void(int done, int total)>& progress = {});

// {"funnel": {stage: count}, "gts": [{"image", "index", "class", "stage", "reason"}],
//  "detections": [{"image", "score", "class", "outcome", "error_type"}], "error_dap": {type: dAP},
//  "tide": {"ap50", "main": {"cls", "loc", "both", "dupe", "bkg", "miss"}, "special": {"fp", "fn"}}, ...}
std::string analysis_to_json(const AnalysisReport& r);

}  // namespace rcnn::api
