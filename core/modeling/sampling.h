#pragma once
// Balanced fg/bg sampling (seed: sample_rpn_training).
#include <torch/torch.h>

#include <optional>

namespace rcnn::modeling {

struct SampleResult {
  torch::Tensor fg;  // int64 indices of sampled foreground rows
  torch::Tensor bg;  // int64 indices of sampled background rows
};

// matched: (K, 5) matcher output. Foreground = class >= 0, background =
// class == -1, neutral (-1e8) never sampled. num_fg = min(int(num_samples *
// fg_fraction), #fg); num_bg = min(num_samples - num_fg, #bg). Random
// without repeats, drawn from `gen` when given (seeded, re-rollable).
SampleResult sample_fg_bg(const torch::Tensor& matched, int64_t num_samples, double fg_fraction,
                          std::optional<torch::Generator> gen = std::nullopt);

}  // namespace rcnn::modeling
