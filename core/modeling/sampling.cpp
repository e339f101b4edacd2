#include "modeling/sampling.h"

namespace rcnn::modeling {

SampleResult sample_fg_bg(const torch::Tensor& matched, int64_t num_samples, double fg_fraction,
                          std::optional<torch::Generator> gen) {
  TORCH_CHECK(matched.dim() == 2 && matched.size(1) == 5, "sample_fg_bg: matched must be (K, 5), got ",
              matched.sizes());
  auto cls = matched.select(1, 4);
  auto fg = (cls >= 0).nonzero().squeeze(1);
  auto bg = (cls == -1).nonzero().squeeze(1);
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

}  // namespace rcnn::modeling
