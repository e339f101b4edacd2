#pragma once
// The pickle (protocol 2) of an OrderedDict of tensors as torch.save writes
// it: each tensor is torch._utils._rebuild_tensor_v2 over a persistent
// storage ("storage", torch.<Type>Storage, key, "cpu", numel).
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace rcnn::serialize {

// storage_keys[i] is the record key ("0", "1", ...) of entries[i]'s storage;
// each tensor is written as a contiguous view at offset 0 of its own storage.
std::string pickle_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& entries,
                              const std::vector<std::string>& storage_keys);

}  // namespace rcnn::serialize
