#pragma once
#include "config/detector_config.h"

namespace rcnn::engine {

// Learning rate at iteration `iter` (0-based): linear warmup from
// lr * warmup_factor over warmup_iters, then cosine to 0, step decay by gamma
// at each of `steps` (iterations), or constant.
double lr_at(const SolverOptions& s, int64_t iter);

}  // namespace rcnn::engine
