#pragma once
// The parity oracle's files for the torchvision Session and job tests: its
// ResNet-50-FPN checkpoint, config and single image (make_parity.py).
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "api/types.h"
#include "config/detector_config.h"
#include "serialize/state_dict.h"

namespace tv_fixture {
using namespace rcnn;
using namespace rcnn::api;


inline std::string dir() {
  const char* d = std::getenv("RCNN_TV_PARITY_DIR");
  return d ? d : "";
}

inline DetectorConfig oracle_config() {
  auto c = load_preset("torchvision_resnet50_fpn");
  c.torchvision.min_size = 320;  // make_parity.py's sizes and FrozenBatchNorm2d's default eps
  c.torchvision.max_size = 480;
  c.torchvision.frozen_bn_eps = 1e-5;
  return c;
}

struct Fixture {
  serialize::StateDict outputs;
  Image image;
  torch::Tensor get(const std::string& k) const {
    const auto* t = outputs.find(k);
    return t ? *t : torch::Tensor();
  }
};

inline Fixture load_fixture() {
  Fixture f;
  f.outputs = serialize::read_state_dict(dir() + "/torchvision_resnet50_fpn_outputs.pth");
  auto img = f.get("image1").contiguous();  // (H, W, 3) uint8
  f.image.height = int(img.size(0));
  f.image.width = int(img.size(1));
  f.image.rgb.assign(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + img.numel());
  return f;
}

}  // namespace tv_fixture
