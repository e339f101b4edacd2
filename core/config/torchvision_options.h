#pragma once
// Options of a torchvision-semantics Faster R-CNN (torchvision 0.14
// `models/detection`), named as torchvision names them. They live in the
// detector config as its "torchvision" section (config_fields.cpp declares
// each one), used when the config's name is a torchvision preset. The presets
// are the torchvision builders' defaults; docs/torchvision.md says what each
// option means. Plain C++ (no torch).
#include <string>
#include <vector>

namespace rcnn {

enum class TvArch { ResNet50FPN, ResNet50FPNv2, MobileNetV3LargeFPN };

struct TorchvisionOptions {
  // Set from the config's name and num_classes (torchvision_options(cfg)),
  // not fields of their own.
  std::string preset;  // "torchvision_resnet50_fpn", ...
  TvArch arch = TvArch::ResNet50FPN;
  int num_classes = 91;  // including background
  // GeneralizedRCNNTransform
  int min_size = 800, max_size = 1333, size_divisible = 32;
  std::vector<double> image_mean{0.485, 0.456, 0.406}, image_std{0.229, 0.224, 0.225};
  // FrozenBatchNorm2d's eps (not stored in a state dict): 0 for weights derived
  // from torchvision's COCO_V1 checkpoint, 1e-5 otherwise. BatchNorm layers
  // (files with num_batches_tracked) use BatchNorm2d's 1e-5.
  double frozen_bn_eps = 0.0;
  // Fine-tuning: how many of the backbone's stages train, counted from the
  // top (torchvision's trainable_backbone_layers; 0-5 ResNet, 0-6 MobileNet).
  int trainable_backbone_layers = 3;
  // AnchorGenerator: sizes per level ('0', '1', '2', '3', 'pool'), ratios h/w per level.
  std::vector<std::vector<double>> anchor_sizes{{32}, {64}, {128}, {256}, {512}};
  std::vector<std::vector<double>> aspect_ratios{{0.5, 1.0, 2.0}};  // one entry: the same for every level
  // RPN
  int rpn_pre_nms_top_n_train = 2000, rpn_pre_nms_top_n_test = 1000;    // per level
  int rpn_post_nms_top_n_train = 2000, rpn_post_nms_top_n_test = 1000;  // per image
  double rpn_nms_thresh = 0.7, rpn_score_thresh = 0.0;
  double rpn_fg_iou_thresh = 0.7, rpn_bg_iou_thresh = 0.3;
  int rpn_batch_size_per_image = 256;
  double rpn_positive_fraction = 0.5;
  // RoI heads
  double box_score_thresh = 0.05, box_nms_thresh = 0.5;
  int box_detections_per_img = 100;
  double box_fg_iou_thresh = 0.5, box_bg_iou_thresh = 0.5;
  int box_batch_size_per_image = 512;
  double box_positive_fraction = 0.25;
  std::vector<double> bbox_reg_weights{10, 10, 5, 5};
  int roi_output_size = 7, roi_sampling_ratio = 2;

  const std::vector<double>& ratios(size_t level) const {
    return aspect_ratios.size() == 1 ? aspect_ratios[0] : aspect_ratios[level];
  }
  // Feature maps of the architecture: 5 for ResNet-50-FPN ('0'-'3', 'pool'), 3 for MobileNet.
  int num_levels() const { return arch == TvArch::MobileNetV3LargeFPN ? 3 : 5; }
  // Anchors per location of level l (sizes x ratios).
  int anchors_per_location(size_t level) const { return int(anchor_sizes[level].size() * ratios(level).size()); }
};

// Whether a preset name is a torchvision family's: "torchvision_resnet50_fpn", "torchvision_resnet50_fpn_v2",
// "torchvision_mobilenet_v3_large_fpn", "torchvision_mobilenet_v3_large_320_fpn". The one predicate for it
// (DetectorConfig::is_torchvision() asks it of the config's preset name).
bool is_torchvision(const std::string& name);
const std::vector<std::string>& torchvision_presets();
// The builder's defaults; num_classes includes background. Throws
// std::invalid_argument naming the presets for another name.
TorchvisionOptions torchvision_preset(const std::string& name, int num_classes = 91);

}  // namespace rcnn
