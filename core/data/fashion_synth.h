#pragma once
// `rcnn make-dataset fashion`: a VOC-layout detection dataset composited from
// Debian's dataset-fashion-mnist (train items from the train file, val/test
// items from the t10k file).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rcnn::data {

struct FashionOptions {
  std::string out;
  int train = 4000, val = 500, test = 500;
  uint64_t seed = 1;
  std::string source_dir = "/usr/share/datasets/fashion-mnist";
  int canvas = 224;
  int min_side = 24, max_side = 140;  // long side of an item, px
  int min_items = 1, max_items = 6;
  double max_overlap = 0.25;  // max IoU between two items of one image
  int jpeg_quality = 88;
};

const std::vector<std::string>& fashion_class_names();

// Writes JPEGImages/, Annotations/, ImageSets/Main/{train,val,test}.txt and
// labels.txt under opt.out. progress(done, total). Throws DataError.
void make_fashion_dataset(const FashionOptions& opt, const std::function<void(int, int)>& progress = {});

}  // namespace rcnn::data
