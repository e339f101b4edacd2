#include <gtest/gtest.h>

#include <cmath>

#include "engine/lr_schedule.h"

using rcnn::engine::lr_at;

TEST(LrSchedule, WarmupThenCosine) {
  rcnn::SolverOptions s;
  s.lr = 0.1;
  s.warmup_iters = 10;
  s.warmup_factor = 0.01;
  s.max_iters = 110;
  s.schedule = "cosine";
  EXPECT_NEAR(lr_at(s, 0), 0.1 * 0.01, 1e-12);
  // Halfway through warmup: factor 0.01 * 0.5 + 0.5, times cosine at t = 5/110.
  EXPECT_NEAR(lr_at(s, 5), 0.1 * 0.505 * 0.5 * (1 + std::cos(M_PI * 5 / 110.0)), 1e-12);
  EXPECT_NEAR(lr_at(s, 55), 0.1 * 0.5, 1e-12);
  EXPECT_NEAR(lr_at(s, 110), 0.0, 1e-12);
}

TEST(LrSchedule, StepAndConstant) {
  rcnn::SolverOptions s;
  s.lr = 1.0;
  s.warmup_iters = 0;
  s.schedule = "step";
  s.steps = {100, 200};
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(lr_at(s, 99), 1.0);
  EXPECT_NEAR(lr_at(s, 100), 0.1, 1e-12);
  EXPECT_NEAR(lr_at(s, 250), 0.01, 1e-12);
  s.schedule = "constant";
  EXPECT_DOUBLE_EQ(lr_at(s, 1000), 1.0);
}
