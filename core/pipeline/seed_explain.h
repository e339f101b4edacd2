#pragma once
// The seed family's attribution hooks (pipeline::Detector::gradients and
// detect_masked, api/explain.h): on its model, config and normalised input.
#include <torch/torch.h>

#include <vector>

#include "config/detector_config.h"
#include "modeling/faster_rcnn.h"
#include "pipeline/detector.h"

namespace rcnn::pipeline {

Gradients seed_gradients(modeling::FasterRCNNImpl& model, const DetectorConfig& cfg, const torch::Tensor& input,
                         const GradientTarget& target);
std::vector<std::vector<MaskedDetection>> seed_detect_masked(modeling::FasterRCNNImpl& model, const DetectorConfig& cfg,
                                                             const torch::Tensor& input, const torch::Tensor& masks,
                                                             bool mean_fill);

}  // namespace rcnn::pipeline
