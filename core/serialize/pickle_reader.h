#pragma once
// A reader of Python pickles as torch.save writes them (protocols 2-4): the
// values a checkpoint holds (None, bools, ints, floats, strings, bytes,
// tuples, lists, dicts and OrderedDicts, tensors) are rebuilt; any other
// object becomes an opaque value that can be skipped. Tensors come from
// `load_storage(key, dtype, numel)`, the archive's `data/<key>` record.
//
// Why not LibTorch's own unpickler: in 1.13 it turns collections.OrderedDict
// (what state_dict() returns) into None and then fails on its items.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rcnn::serialize {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Tensor, Storage, Opaque };
  Kind kind = Kind::None;
  int64_t i = 0;     // Bool, Int
  double f = 0;      // Float
  std::string s;     // Str, Bytes, Global ("module.name"), Opaque (its class)
  std::vector<PyRef> items;                       // Tuple, List
  std::vector<std::pair<PyRef, PyRef>> entries;   // Dict, in insertion order
  torch::Tensor tensor;                           // Tensor, Storage (1-d, its dtype)

  const char* kind_name() const;
  // The value of a string key, or null.
  PyRef get(const std::string& key) const;
};

using StorageLoader = std::function<torch::Tensor(const std::string& key, torch::ScalarType dtype, int64_t numel)>;

// Throws std::runtime_error starting with `what` on a malformed or
// unsupported pickle.
PyRef read_pickle(const char* data, size_t size, const StorageLoader& load_storage, const std::string& what);

}  // namespace rcnn::serialize
