#include "modeling/sampling.h"

#include "modeling/matcher.h"

namespace rcnn::modeling {

SampleResult subsample_labels(const torch::Tensor& labels, int64_t num_samples, double fg_fraction,
                              std::optional<torch::Generator> gen) {
  TORCH_CHECK(labels.dim() == 1, "subsample_labels: labels must be (K,), got ", labels.sizes());
  auto fg = (labels == kForeground).nonzero().squeeze(1);
  auto bg = (labels == kBackground).nonzero().squeeze(1);
  const int64_t num_fg = std::min<int64_t>(static_cast<int64_t>(num_samples * fg_fraction), fg.numel());
  const int64_t num_bg = std::min<int64_t>(num_samples - num_fg, bg.numel());
  auto lopts = torch::TensorOptions().dtype(torch::kLong);
  auto perm = [&](int64_t n) {
    // randperm on the CPU generator keeps draws identical across devices.
    return gen ? torch::randperm(n, *gen, lopts) : torch::randperm(n, lopts);
  };
  SampleResult r;
  r.fg = fg.index_select(0, perm(fg.numel()).narrow(0, 0, num_fg).to(fg.device()));
  r.bg = bg.index_select(0, perm(bg.numel()).narrow(0, 0, num_bg).to(bg.device()));
  return r;
}

SampleResult sample_fg_bg(const torch::Tensor& matched, int64_t num_samples, double fg_fraction,
                          std::optional<torch::Generator> gen) {
  TORCH_CHECK(matched.dim() == 2 && matched.size(1) == 5, "sample_fg_bg: matched must be (K, 5), got ",
              matched.sizes());
  auto cls = matched.select(1, 4);
  auto labels = torch::full({matched.size(0)}, static_cast<int64_t>(kNeutral), matched.options().dtype(torch::kInt8));
  labels.masked_fill_(cls >= 0, static_cast<int64_t>(kForeground));
  labels.masked_fill_(cls == -1, static_cast<int64_t>(kBackground));
  return subsample_labels(labels, num_samples, fg_fraction, gen);
}

}  // namespace rcnn::modeling
