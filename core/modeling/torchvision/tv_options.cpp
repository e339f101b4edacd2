#include "modeling/torchvision/tv_options.h"

#include <stdexcept>

namespace rcnn::modeling::tv {

bool is_tv_preset(const std::string& name) {
  return name == "torchvision_resnet50_fpn" || name == "torchvision_resnet50_fpn_v2";
}

TvOptions tv_preset(const std::string& name, int num_classes) {
  TvOptions o;
  o.preset = name;
  o.num_classes = num_classes;
  if (name == "torchvision_resnet50_fpn") {
    o.arch = Arch::ResNet50FPN;
  } else if (name == "torchvision_resnet50_fpn_v2") {
    o.arch = Arch::ResNet50FPNv2;
  } else {
    throw std::invalid_argument("unknown torchvision preset " + name +
                                " (torchvision_resnet50_fpn, torchvision_resnet50_fpn_v2)");
  }
  return o;
}

}  // namespace rcnn::modeling::tv
