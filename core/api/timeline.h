#pragma once
// Training timelines: a run's probe images captured at every evaluation
// (`rcnn train --probe-images N`, the Training panel's field), read back as
// per-image series. No torch here.
//
// On disk: RUN/probes/index.jsonl, one line per (iteration, probe image):
//   {"iter", "image", "file", "gt": [{"funnel", "score", "best_iou"}]}
// with `file` a capture (api/capture.h) relative to RUN.
#include <cstdint>
#include <string>
#include <vector>

#include "api/trace.h"

namespace rcnn::api {

// What a probe records of one GT at one evaluation (from its capture's trace).
struct ProbeGtPoint {
  Funnel funnel = Funnel::Detected;
  // The highest probability of the GT's class among the RoIs at IoU >= 0.5 with it (0: none covers it).
  float score = 0;
  float best_iou = 0;  // the best IoU of any RPN candidate (pre-NMS proposal) with it
};
ProbeGtPoint probe_gt_point(const PipelineTrace& t, int gt);

struct ProbeSeries {
  std::string image;               // the probe image's file name
  std::vector<int64_t> iters;      // the evaluations, in order
  std::vector<std::string> files;  // their captures (absolute paths)
  std::vector<int> labels;         // per GT its class
  std::vector<std::string> class_names;
  std::vector<std::vector<ProbeGtPoint>> gt;  // [g][evaluation]
  // Forgetting events (Toneva et al., 2019): evaluation e where GT g is not detected but was at e - 1.
  std::vector<std::vector<int>> forgotten;  // [g] -> evaluations
};

// The run's probe series, in the order the probes were taken. Throws std::runtime_error naming the index
// file when a line is malformed; a run without probes gives none.
std::vector<ProbeSeries> read_probe_timeline(const std::string& run_dir);

}  // namespace rcnn::api
