#pragma once
// Two models on one split (`rcnn compare`, the studio's Compare panel): both
// analysed by the accounting engine (analyze_job.h), then set side by side:
// per-class AP at 0.5, which GTs one model finds and the other loses (and at
// which stage), how every GT's outcome moved between them, and the images
// that differ most. No torch types here.
#include <array>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "api/analyze_job.h"

namespace rcnn::api {

struct CompareRequest {
  AnalyzeRequest a, b;  // the same dataset, split and max_images are used for both (a's)
};

struct GtChange {
  int image = 0, label = 0;
  int index_a = -1, index_b = -1;  // the GT's index in each model's trace of the image
  Box box;                         // original pixels
  Funnel stage_a = Funnel::Detected, stage_b = Funnel::Detected;
  std::string reason_a, reason_b;
};

struct ImageChange {
  int image = 0;
  int detected_a = 0, detected_b = 0;  // GTs detected (one-to-one at IoU 0.5)
  int fp_a = 0, fp_b = 0;              // false positives
  // |detected_b − detected_a| + |fp_b − fp_a|: the images are sorted by it, largest first.
  int difference() const { return std::abs(detected_b - detected_a) + std::abs(fp_b - fp_a); }
};

struct CompareReport {
  AnalysisReport a, b;
  std::vector<GtChange> found_by_a_only, found_by_b_only;  // detected by one, lost by the other
  // GTs by (outcome under A, outcome under B), indexed by Funnel.
  std::array<std::array<int, kNumFunnel>, kNumFunnel> transitions{};
  int unmatched_gts = 0;  // GTs only one model's trace has (a torchvision model leaves out classes it lacks)
  std::vector<ImageChange> images;  // every image, most different first
};

// Throws std::runtime_error naming the file on a bad checkpoint or dataset.
CompareReport run_compare(const CompareRequest& req,
                          const std::function<void(const char* model, int done, int total)>& progress = {});
// Sets two analyses side by side (run_compare's second half; tests call it on built reports).
CompareReport compare_reports(AnalysisReport a, AnalysisReport b);

// {"map50": {"a", "b"}, "classes": [{"class", "num_gt", "ap50_a", "ap50_b"}], "found_by_a_only": [...],
//  "found_by_b_only": [...], "transitions": {stage_a: {stage_b: n}}, "images": [...]}
std::string compare_to_json(const CompareReport& r);

}  // namespace rcnn::api
