#include "distributed/grad_sync.h"

namespace rcnn::dist {

GradBuckets::GradBuckets(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  for (auto it = params.rbegin(); it != params.rend(); ++it)
    if (it->requires_grad()) params_.push_back(*it);
  int64_t filled = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    const int64_t b = p.numel() * int64_t(p.element_size());
    const bool same_kind = !buckets_.empty() && params_[buckets_.back().front()].dtype() == p.dtype() &&
                           params_[buckets_.back().front()].device() == p.device();
    if (buckets_.empty() || !same_kind || filled + b > bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(i);
    filled += b;
  }
}

int64_t GradBuckets::bytes_per_step() const {
  int64_t b = 0;
  for (const auto& p : params_) b += p.numel() * int64_t(p.element_size());
  return b + int64_t(params_.size()) * int64_t(sizeof(float));
}

void GradBuckets::average(DistGroup& group) {
  torch::NoGradGuard ng;
  if (params_.empty()) return;
  const double world = double(group.world());
  // Which gradients exist on how many ranks (one small all-reduce).
  auto defined = torch::zeros({int64_t(params_.size())});
  auto acc = defined.accessor<float, 1>();
  for (size_t i = 0; i < params_.size(); ++i) acc[int64_t(i)] = params_[i].grad().defined() ? 1.f : 0.f;
  group.allreduce_sum(defined, "all-reducing which gradients exist");
  for (size_t k = 0; k < buckets_.size(); ++k) {
    std::vector<torch::Tensor> flat;
    for (size_t i : buckets_[k]) {
      const auto& p = params_[i];
      flat.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
    }
    auto bucket = torch::cat(flat);
    group.allreduce_sum(bucket, "all-reducing gradient bucket " + std::to_string(k + 1) + " of " +
                                    std::to_string(buckets_.size()));
    bucket.div_(world);
    int64_t off = 0;
    for (size_t i : buckets_[k]) {
      auto& p = params_[i];
      const int64_t n = p.numel();
      if (acc[int64_t(i)] > 0) {
        auto avg = bucket.narrow(0, off, n).view(p.sizes());
        if (p.grad().defined())
          p.mutable_grad().copy_(avg);
        else
          p.mutable_grad() = avg.clone();
      }
      off += n;
    }
  }
}

modeling::SampleNormalizer global_sample_normalizer(DistGroup& group, std::function<std::string()> where) {
  return [&group, where](int64_t count) {
    auto c = torch::full({1}, double(count), torch::kDouble);
    group.allreduce_sum(c, "all-reducing sample counts at " + where());
    return std::max(c.item<double>(), 1.0) / double(group.world());
  };
}

void broadcast_module(DistGroup& group, torch::nn::Module& module, int root) {
  torch::NoGradGuard ng;
  for (auto& p : module.named_parameters()) {
    auto t = p.value();
    group.broadcast(t, root, "broadcasting parameter " + p.key() + " from rank " + std::to_string(root));
  }
  for (auto& b : module.named_buffers()) {
    auto t = b.value();
    group.broadcast(t, root, "broadcasting buffer " + b.key() + " from rank " + std::to_string(root));
  }
}

}  // namespace rcnn::dist
