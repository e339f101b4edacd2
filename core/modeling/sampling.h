#pragma once
// Balanced fg/bg sampling (the reference walkthrough's sample_rpn_training;
// Detectron2's subsample_labels): a pure function of the matcher's labels.
#include <torch/torch.h>

#include <functional>

#include <optional>

namespace rcnn::modeling {

struct SampleResult {
  torch::Tensor fg;  // int64 indices of sampled foreground rows
  torch::Tensor bg;  // int64 indices of sampled background rows
};

// labels: (K,) int8 MatchLabel. Neutral rows are never sampled.
// num_fg = min(int(num_samples * fg_fraction), #fg); num_bg =
// min(num_samples - num_fg, #bg). Random without repeats, drawn from `gen`
// when given (seeded, re-rollable).
SampleResult subsample_labels(const torch::Tensor& labels, int64_t num_samples, double fg_fraction,
                              std::optional<torch::Generator> gen = std::nullopt);

// The same over the reference's (K, 5) matched rows: class >= 0 foreground,
// class == -1 background, -1e8 rows neutral.
SampleResult sample_fg_bg(const torch::Tensor& matched, int64_t num_samples, double fg_fraction,
                          std::optional<torch::Generator> gen = std::nullopt);

// The divisor of a loss averaged over sampled boxes, from this process's
// sample count. Empty: max(count, 1). Data-parallel training passes "the
// count over all ranks, divided by the number of ranks", so that the mean of
// the ranks' gradients is the gradient of the whole batch's loss (the same
// as one process with the whole batch). Every rank calls it equally often:
// it may be a collective.
using SampleNormalizer = std::function<double(int64_t count)>;
inline double sample_divisor(const SampleNormalizer& n, int64_t count) {
  return n ? n(count) : static_cast<double>(std::max<int64_t>(count, 1));
}

}  // namespace rcnn::modeling
