// The VOC reader on one annotation file: whatever the bytes, it returns a
// dataset (lenient: the bad parts skipped and counted) or throws DataError
// (strict); anything else, or a memory error, is a finding.
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto root = fuzz::scratch() / "voc";
  fuzz::write(root / "Annotations" / "a.xml", data, size);
  std::filesystem::create_directories(root / "ImageSets" / "Main");
  static const bool image = [&] {  // a real image, so the reader goes on to the objects
    std::filesystem::create_directories(root / "JPEGImages");
    return cv::imwrite((root / "JPEGImages" / "a.jpg").string(), cv::Mat(80, 100, CV_8UC3, cv::Scalar(1, 2, 3)));
  }();
  (void)image;
  std::ofstream(root / "ImageSets" / "Main" / "train.txt") << "a\n";
  for (bool strict : {false, true}) {
    rcnn::data::LoadOptions o;
    o.strict = strict;
    try {
      auto ds = rcnn::data::read_voc(root.string(), o);
      for (const auto& im : ds.images)
        for (const auto& a : im.objects)
          if (!(a.x2 >= a.x1 && a.y2 >= a.y1)) __builtin_trap();  // a kept box is a box
    } catch (const rcnn::data::DataError&) {
    }
  }
  return 0;
}
