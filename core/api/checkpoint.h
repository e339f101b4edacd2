#pragma once
// Checkpoint files for the front ends: what a file holds, and export to a
// compact half-precision copy (`rcnn export`). Loading into a model is
// Session::load_checkpoint.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/types.h"

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

// The trainer's own losses on one image as a batch of one: the checkpoint's
// model (in eval mode, as the studio holds it), the image resized and
// normalised as its config says, `gt` in original pixels (crowd boxes left
// out), forward_train with a CPU generator seeded `seed`. {"rpn_obj",
// "rpn_box", "roi_cls", "roi_box"}. An independent path to the numbers the
// Losses stage shows (the studio tests compare them). Throws naming the file.
std::map<std::string, double> trainer_losses(const std::string& checkpoint, const std::string& image_path,
                                             const std::vector<GtObject>& gt, uint64_t seed);

}  // namespace rcnn::api
