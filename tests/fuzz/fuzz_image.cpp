// Image decoding with its limits: the header peek and the decode of a file
// (as .jpg and as .png; OpenCV goes by content) are an image or a DataError.
#include "data/dataset.h"
#include "data/image_io.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const char* name : {"x.jpg", "x.png"}) {
    const auto file = fuzz::scratch() / name;
    fuzz::write(file, data, size);
    try {
      rcnn::data::peek_image_size(file.string());
    } catch (const rcnn::data::DataError&) {
    }
    try {
      auto m = rcnn::data::load_image_rgb(file.string());
      if (m.empty() || m.channels() != 3) __builtin_trap();
    } catch (const rcnn::data::DataError&) {
    }
  }
  return 0;
}
