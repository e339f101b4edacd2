#include "modeling/anchor_generator.h"

#include <cmath>

namespace rcnn::modeling {

torch::Tensor location_grid(int64_t H, int64_t W, double stride, const torch::TensorOptions& opts) {
  auto xs = (torch::arange(W, opts) + 0.5) * stride;
  auto ys = (torch::arange(H, opts) + 0.5) * stride;
  auto grid = torch::meshgrid({ys, xs}, "ij");
  return torch::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, 1);
}

AnchorGenerator::AnchorGenerator(AnchorOptions options) : options_(std::move(options)) {}

int64_t AnchorGenerator::num_anchors_per_location() const {
  return static_cast<int64_t>(options_.aspect_ratios.size()) * options_.scales_per_octave;
}

std::vector<double> AnchorGenerator::sizes(double stride) const {
  std::vector<double> out;
  for (int k = 0; k < options_.scales_per_octave; ++k)
    out.push_back(stride * options_.stride_scale * std::pow(2.0, double(k) / options_.scales_per_octave));
  return out;
}

torch::Tensor AnchorGenerator::level_anchors(int64_t H, int64_t W, double stride,
                                             const torch::TensorOptions& opts) const {
  auto loc = location_grid(H, W, stride, opts);  // (HW, 2)
  std::vector<double> half;                      // (A, 2) half extents
  for (double side : sizes(stride)) {
    const double area = side * side;
    for (double r : options_.aspect_ratios) {
      // Reference: w = sqrt(area / r), h = area / w, so r = h / w.
      const double w = std::sqrt(area / r);
      const double h = area / w;
      half.push_back(w / 2);
      half.push_back(h / 2);
    }
  }
  const int64_t A = static_cast<int64_t>(half.size() / 2);
  auto hw = torch::tensor(half, torch::TensorOptions().dtype(torch::kDouble)).to(opts).view({1, A, 2});
  auto c = loc.view({-1, 1, 2});
  return torch::cat({c - hw, c + hw}, 2).view({-1, 4});
}

}  // namespace rcnn::modeling
