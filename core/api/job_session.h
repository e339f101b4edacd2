#pragma once
// The Session a dataset job runs image by image (`rcnn analyze`, `rcnn eval` of a torchvision model): the
// preset with the dataset's classes, the checkpoint (and its classes file), then the studio's settings (a config JSON, the model's
// classes kept) and the score threshold, with the viewer-only outputs and the training step off.
#include <memory>
#include <string>
#include <vector>

#include "api/model_spec.h"
#include "api/session.h"

namespace rcnn::api {

// Throws std::runtime_error naming the file on a bad checkpoint, ConfigError on bad settings.
std::unique_ptr<Session> open_job_session(const ModelSpec& m, const std::vector<std::string>& class_names);

}  // namespace rcnn::api
