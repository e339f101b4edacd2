#pragma once
// Data-parallel gradient averaging, as DistributedDataParallel does it:
// parameters grouped into buckets of about `bucket_bytes`, each bucket's
// gradients flattened into one tensor, summed over the ranks in one
// all-reduce and divided by the world size (Gloo has no AVG), then copied
// back. A gradient no rank produced stays undefined, as it would on one
// process (the optimizer then skips that parameter).
#include <torch/torch.h>

#include <vector>

#include "distributed/process_group.h"
#include "modeling/sampling.h"

namespace rcnn::dist {

class GradBuckets {
 public:
  // Trainable parameters only; grouped by dtype and device, in reverse
  // registration order (the order backward produces them).
  explicit GradBuckets(const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 25 << 20);
  void average(DistGroup& group);

  size_t num_buckets() const { return buckets_.size(); }
  int64_t bytes_per_step() const;  // gradient bytes each rank all-reduces per iteration

 private:
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
};

// The loss divisor of data-parallel ranks (see modeling::SampleNormalizer):
// all ranks' sample count (one all-reduce) divided by the world size.
// `where` names the step in errors.
modeling::SampleNormalizer global_sample_normalizer(DistGroup& group, std::function<std::string()> where);

// Every rank gets root's parameters and buffers (BatchNorm statistics too).
void broadcast_module(DistGroup& group, torch::nn::Module& module, int root = 0);

}  // namespace rcnn::dist
