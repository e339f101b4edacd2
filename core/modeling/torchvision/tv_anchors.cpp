#include "modeling/torchvision/tv_anchors.h"

namespace rcnn::modeling::tv {

torch::Tensor base_anchors(const std::vector<double>& sizes, const std::vector<double>& ratios) {
  auto scales = torch::tensor(sizes, torch::kDouble).to(torch::kFloat);
  auto ar = torch::tensor(ratios, torch::kDouble).to(torch::kFloat);
  auto h_ratios = torch::sqrt(ar);
  auto w_ratios = 1 / h_ratios;
  auto ws = (w_ratios.unsqueeze(1) * scales.unsqueeze(0)).view({-1});
  auto hs = (h_ratios.unsqueeze(1) * scales.unsqueeze(0)).view({-1});
  return (torch::stack({-ws, -hs, ws, hs}, 1) / 2).round();
}

torch::Tensor grid_anchors(const torch::Tensor& base, const LevelGrid& g) {
  auto i32 = torch::TensorOptions().dtype(torch::kInt);
  auto stride_w = torch::full({}, g.stride_w, torch::kLong);
  auto stride_h = torch::full({}, g.stride_h, torch::kLong);
  auto shifts_x = torch::arange(0, g.width, i32) * stride_w;
  auto shifts_y = torch::arange(0, g.height, i32) * stride_h;
  auto mesh = torch::meshgrid({shifts_y, shifts_x}, "ij");
  auto shift_x = mesh[1].reshape({-1});
  auto shift_y = mesh[0].reshape({-1});
  auto shifts = torch::stack({shift_x, shift_y, shift_x, shift_y}, 1);
  return (shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4});
}

std::vector<LevelGrid> level_grids(int64_t h, int64_t w, bool mobilenet) {
  const std::vector<int> steps = mobilenet ? std::vector<int>{5, 5, 6} : std::vector<int>{2, 3, 4, 5, 6};
  std::vector<LevelGrid> g;
  for (int k : steps) {
    int64_t fh = h, fw = w;
    for (int i = 0; i < k; ++i) fh = (fh + 1) / 2, fw = (fw + 1) / 2;
    g.push_back({fh, fw, h / fh, w / fw});
  }
  return g;
}

}  // namespace rcnn::modeling::tv
