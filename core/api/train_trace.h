#pragma once
// Internal to core/api (torch allowed): a training step's samples and loss
// terms (modeling/train_step.h) copied into a trace's TrainView, for the
// studio's RoI-sampling and Losses stages. session_seed.cpp calls it.
#include "api/trace.h"
#include "config/detector_config.h"
#include "modeling/train_step.h"

namespace rcnn::api {

// `step` ran on one image whose GT rows are t.gt, in that order.
void fill_train_view(PipelineTrace& t, const modeling::TrainStep& step, const DetectorConfig& cfg, uint64_t seed);

}  // namespace rcnn::api
