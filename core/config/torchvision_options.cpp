#include "config/torchvision_options.h"

#include <stdexcept>

namespace rcnn {

const std::vector<std::string>& torchvision_presets() {
  static const std::vector<std::string> p{"torchvision_resnet50_fpn", "torchvision_resnet50_fpn_v2",
                                          "torchvision_mobilenet_v3_large_fpn",
                                          "torchvision_mobilenet_v3_large_320_fpn"};
  return p;
}

bool is_torchvision(const std::string& name) {
  for (const auto& p : torchvision_presets())
    if (p == name) return true;
  return false;
}

TorchvisionOptions torchvision_preset(const std::string& name, int num_classes) {
  TorchvisionOptions o;
  o.preset = name;
  o.num_classes = num_classes;
  if (name == "torchvision_resnet50_fpn") {
    o.arch = TvArch::ResNet50FPN;
  } else if (name == "torchvision_resnet50_fpn_v2") {
    o.arch = TvArch::ResNet50FPNv2;
  } else if (name == "torchvision_mobilenet_v3_large_fpn" || name == "torchvision_mobilenet_v3_large_320_fpn") {
    // fasterrcnn_mobilenet_v3_large(_320)_fpn: FPN on features 13 and 16, five sizes per level.
    o.arch = TvArch::MobileNetV3LargeFPN;
    o.anchor_sizes.assign(3, {32, 64, 128, 256, 512});
    o.rpn_score_thresh = 0.05;
    if (name == "torchvision_mobilenet_v3_large_320_fpn") {
      o.min_size = 320;
      o.max_size = 640;
      o.rpn_pre_nms_top_n_test = 150;
      o.rpn_post_nms_top_n_test = 150;
    }
  } else {
    throw std::invalid_argument("unknown torchvision preset " + name +
                                " (torchvision_resnet50_fpn, torchvision_resnet50_fpn_v2, "
                                "torchvision_mobilenet_v3_large_fpn, torchvision_mobilenet_v3_large_320_fpn)");
  }
  return o;
}

}  // namespace rcnn
