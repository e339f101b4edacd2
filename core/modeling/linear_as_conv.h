#pragma once
// A linear layer over flattened (C, S, S) features run as an S x S
// convolution of its weight viewed as (out, C, S, S): the same products
// (flatten's order is C, then rows, then columns), but on channels-last
// features oneDNN's convolution reads them in place, where flatten would
// first transpose the whole batch and the linear then run on the BLAS.
// For inference: the cached weight follows the layer's version counter.
#include <torch/torch.h>

namespace rcnn::modeling {

struct LinearAsConv {
  // (R, C, S, S) -> (R, out); x in any layout, fastest channels-last.
  torch::Tensor operator()(const torch::nn::Linear& l, const torch::Tensor& x);

 private:
  const void* impl_ = nullptr;  // the weight it was made from, and that weight's version
  int64_t version_ = -1;
  torch::Tensor weight_, weight_bf16_, bias_bf16_;
};

}  // namespace rcnn::modeling
