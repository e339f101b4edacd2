#pragma once
// Internal to core/api (torch allowed): evaluation of an in-memory model,
// shared by run_evaluation() and the trainer's periodic val evaluation.
#include "api/eval_job.h"
#include "config/detector_config.h"
#include "data/dataset.h"
#include "modeling/faster_rcnn.h"

namespace rcnn::api {

EvalReport evaluate_model(modeling::FasterRCNN& model, const DetectorConfig& cfg, const data::Dataset& ds,
                          const torch::Device& device, int max_images, int batch_size,
                          const std::function<void(int, int)>& progress = {});

}  // namespace rcnn::api
