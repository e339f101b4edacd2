// A whole .pth file as torch.save writes it (zip archive, data.pkl, storage
// records): read_state_dict returns a state dict or throws
// std::runtime_error naming the file; anything else is a finding.
#include <stdexcept>

#include "fuzz_util.h"
#include "serialize/state_dict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch() / "model.pth";
  fuzz::write(path, data, size);
  try {
    const auto sd = rcnn::serialize::read_state_dict(path.string());
    for (const auto& [k, t] : sd.entries)
      if (!t.defined()) __builtin_trap();  // every entry is a tensor
  } catch (const std::runtime_error&) {
  }
  return 0;
}
