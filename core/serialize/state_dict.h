#pragma once
// State dicts in the files Python's torch.save writes (torch >= 1.6 zip
// archive: `<name>/data.pkl` plus one `<name>/data/<key>` record per
// storage): `torch.save(model.state_dict(), path)` as saved, or a checkpoint
// dict that holds one under "model" (or "state_dict", "model_state_dict").
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace rcnn::serialize {

struct StateDict {
  std::vector<std::pair<std::string, torch::Tensor>> entries;  // in the file's order
  const torch::Tensor* find(const std::string& key) const;
};

// Throws std::runtime_error naming the file and the problem: not a zip
// archive (e.g. the pre-1.6 format), a truncated record, no state dict in it,
// a non-tensor value under a key.
StateDict read_state_dict(const std::string& path);

// Writes `sd` as Python's `torch.save(OrderedDict)` does (zip archive,
// pickle protocol 2, one storage record per tensor, contiguous little-endian
// CPU data), so `torch.load` + `load_state_dict` accept it unchanged. The file
// is written beside `path` and renamed over it: a failed write leaves any
// existing file as it was. Throws std::runtime_error naming the file.
void write_state_dict(const std::string& path, const StateDict& sd);

}  // namespace rcnn::serialize
