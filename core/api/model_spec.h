#pragma once
// The model a job runs: every job request (evaluation, analysis, comparison,
// detection) starts from one. No torch here.
#include <string>

namespace rcnn::api {

struct ModelSpec {
  std::string checkpoint;           // empty: random weights of `config`; a .pth: a torchvision model
  std::string config = "default";   // preset or .json; for a torchvision .pth its architecture
  std::string config_json;          // non-empty: these settings (e.g. the studio's) instead of the checkpoint's
  std::string device = "auto";
  double score_thresh = -1;         // >= 0: overrides the model's score threshold
  std::string classes_file;         // the model's class names, one per line (a first "__background__" skipped)
  std::string precision = "fp32";   // "bf16": the opt-in bf16 inference path (CPUs with AVX-512-BF16 or AMX)
};

}  // namespace rcnn::api
