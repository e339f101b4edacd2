#pragma once
// Internal to core/api: a training run of a torchvision preset (fine-tuning a
// user's state dict, or from random weights), for TrainJob. Writes
// run_dir/last.pth and best.pth as torch.save(model.state_dict()) files that
// torchvision's load_state_dict accepts, run_dir/run.json (config,
// iteration) and metrics.jsonl in the seed trainer's format.
#include <atomic>
#include <optional>

#include "api/train_job.h"
#include "config/detector_config.h"
#include "data/dataset.h"

namespace rcnn::api {

TrainOutcome run_torchvision_training(const TrainRequest& req, DetectorConfig cfg, const data::Dataset& train,
                                      const std::optional<data::Dataset>& val, const TrainEvents& ev,
                                      const std::atomic<bool>& stop);

}  // namespace rcnn::api
