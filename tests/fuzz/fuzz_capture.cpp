// The capture reader (api/capture.h) on any bytes: it returns a capture whose
// trace passes validate_trace, or throws std::runtime_error; anything else, or
// a memory error, is a finding.
#include <stdexcept>
#include <string>

#include "api/capture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto c = rcnn::api::read_capture_raw(std::string(reinterpret_cast<const char*>(data), size), "fuzz.rcnncap");
    rcnn::api::validate_trace(c.trace);  // what the reader returns is what the views may index
    if (c.image.rgb.size() != size_t(c.image.width) * size_t(c.image.height) * 3) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
