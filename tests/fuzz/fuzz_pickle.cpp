// The pickle reader behind .pth files (torchvision checkpoints) on raw
// bytes: it returns a value or throws std::runtime_error; any other
// exception, a crash or a memory error is a finding. Storages are zeros
// (the real loader checks their size against the archive's record first).
#include <stdexcept>

#include "serialize/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto load = [](const std::string& key, torch::ScalarType dtype, int64_t numel) {
    if (numel < 0 || numel > (1 << 16)) throw std::runtime_error("storage " + key + ": size out of range");
    return torch::zeros({numel}, torch::TensorOptions().dtype(dtype));
  };
  try {
    auto v = rcnn::serialize::read_pickle(reinterpret_cast<const char*>(data), size, load, "fuzz.pkl");
    (void)v->kind_name();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
