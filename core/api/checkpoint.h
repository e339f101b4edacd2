#pragma once
// Checkpoint files for the front ends: what a file holds, and export to a
// compact half-precision copy (`rcnn export`). Loading into a model is
// Session::load_checkpoint.
#include <cstdint>
#include <string>

namespace rcnn::api {

struct CheckpointInfo {
  int64_t iteration = 0;
  double best_map = -1, last_map = -1;  // val mAP@0.5 (-1: never evaluated)
  std::string config_json;              // the resolved config the model was built with
};

// Throws std::runtime_error naming the file.
CheckpointInfo read_checkpoint_info(const std::string& path);
// Weights stored in fp16 (loading converts back to float); no optimizer state.
CheckpointInfo export_checkpoint(const std::string& in, const std::string& out);

}  // namespace rcnn::api
