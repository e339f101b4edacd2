#pragma once
// The torchvision family's attribution hooks (pipeline::Detector::gradients
// and detect_masked, api/explain.h), on the model and the last run's batch.
#include <torch/torch.h>

#include <vector>

#include "modeling/torchvision/tv_faster_rcnn.h"
#include "pipeline/detector.h"

namespace rcnn::pipeline {

// r: the current image's run (run_transform done; its padded batch is the input differentiated).
Gradients tv_gradients(modeling::tv::TvFasterRCNNImpl& model, const modeling::tv::TvInference& r,
                       const GradientTarget& target);
// masks (N, 1, H_pad, W_pad) over r's padded batch.
std::vector<std::vector<MaskedDetection>> tv_detect_masked(modeling::tv::TvFasterRCNNImpl& model,
                                                           const modeling::tv::TvInference& r,
                                                           const torch::Tensor& masks, bool mean_fill);

}  // namespace rcnn::pipeline
