#include "engine/lr_schedule.h"

#include <cmath>

namespace rcnn::engine {

double lr_at(const SolverOptions& s, int64_t iter) {
  double factor = 1.0;
  if (s.schedule == "cosine") {
    const double t = std::min(1.0, double(iter) / std::max(1, s.max_iters));
    factor = 0.5 * (1.0 + std::cos(M_PI * t));
  } else if (s.schedule == "step") {
    for (int st : s.steps)
      if (iter >= st) factor *= s.gamma;
  }
  if (iter < s.warmup_iters) {
    const double a = double(iter) / s.warmup_iters;
    factor *= s.warmup_factor * (1 - a) + a;
  }
  return s.lr * factor;
}

}  // namespace rcnn::engine
