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

}  // namespace rcnn::modeling::tv
