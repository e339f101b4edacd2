#pragma once
// Internal to core (torch allowed): a training step's samples and loss
// terms (modeling/train_step.h) copied into a trace's TrainView, for the
// studio's RoI-sampling and Losses stages. The stage runner calls it for
// every family.
#include "api/trace.h"
#include "modeling/train_step.h"

namespace rcnn::api {

// `step` ran on one image whose GT rows are t.gt, in that order; `settings`:
// the detector's (Detector::train_settings), the samples are added to it.
void fill_train_view(PipelineTrace& t, const modeling::TrainStep& step, TrainView settings, uint64_t seed);

}  // namespace rcnn::api
