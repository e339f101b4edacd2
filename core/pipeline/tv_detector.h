#pragma once
// torchvision's detector family (modeling/torchvision) behind the stage
// contract (pipeline/detector.h); its entry is torchvision_family()
// (families.h). Internal to core.
#include <string>

#include "config/detector_config.h"

namespace rcnn::serialize {
struct StateDict;
}

namespace rcnn::api {

// The preset a torchvision state dict was written by, from its keys
// (MobileNet's two presets share their keys: `current` wins when it is one of
// them), with num_classes (background excluded) from the predictor. Throws
// std::runtime_error naming `path` when it is not a Faster R-CNN state dict.
DetectorConfig torchvision_config_for(const serialize::StateDict& sd, const std::string& path,
                                      const DetectorConfig& current);
// Whether a file is a torchvision state dict (a torch.save zip holding the
// predictor's key); false for anything else, including unreadable files.
bool is_torchvision_checkpoint(const std::string& path);

}  // namespace rcnn::api
