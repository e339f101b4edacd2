// The COCO reader on one instances file (lenient and strict).
#include "data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = fuzz::scratch() / "coco" / "instances.json";
  fuzz::write(file, data, size);
  for (bool strict : {false, true}) {
    rcnn::data::LoadOptions o;
    o.strict = strict;
    try {
      auto ds = rcnn::data::read_coco(file.string(), (fuzz::scratch() / "coco").string(), o);
      for (const auto& im : ds.images)
        for (const auto& a : im.objects)
          if (!(a.x2 >= a.x1 && a.y2 >= a.y1) || a.label < 0 || a.label >= int(ds.class_names.size()))
            __builtin_trap();
    } catch (const rcnn::data::DataError&) {
    }
  }
  return 0;
}
