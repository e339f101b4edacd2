#pragma once
// The user's own torchvision Faster R-CNN: a `torch.save(model.state_dict())`
// file (or a checkpoint dict with a "model" key) run with torchvision's exact
// semantics (core/modeling/torchvision). No torch types here.
#include <string>
#include <vector>

#include "api/eval_job.h"
#include "api/model_spec.h"

namespace rcnn::api {

// Names for labels 1 .. num_classes - 1 (num_classes includes background):
// the file's lines (a first "__background__" skipped), else COCO's for
// 91-class models, else "class N". Throws std::runtime_error naming the file.
std::vector<std::string> torchvision_class_names(const std::string& classes_file, int num_classes);

// The model (api/model_spec.h: config a torchvision preset, checkpoint a
// .pth, classes_file its names: else COCO's for 91-class models, else
// "class N"; score_thresh < 0: the preset's box_score_thresh, 0.05).
struct TorchvisionRequest : ModelSpec {
  // false: BatchNorm folded into the convs and channels-last (faster; results
  // differ from torchvision's in the last bits). true: torchvision's op order.
  bool exact = false;
  std::vector<std::string> overrides;  // "torchvision.min_size=600" (the config's torchvision section)
};

// Detections in original image coordinates; label = torchvision's label - 1
// (the index into class_names, which has no background entry). Throws
// std::runtime_error naming the file on a bad checkpoint or classes file.
std::vector<DetectResult> detect_files_torchvision(const TorchvisionRequest& req, const std::vector<std::string>& paths,
                                                   std::vector<std::string>* class_names);

}  // namespace rcnn::api
