#pragma once
// The torchvision options (config/torchvision_options.h) under the names the
// modeling code uses.
#include "config/torchvision_options.h"

namespace rcnn::modeling::tv {

using TvOptions = rcnn::TorchvisionOptions;
using Arch = rcnn::TvArch;

inline TvOptions tv_preset(const std::string& name, int num_classes = 91) {
  return rcnn::torchvision_preset(name, num_classes);
}

}  // namespace rcnn::modeling::tv
