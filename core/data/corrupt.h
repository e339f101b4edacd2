#pragma once
// Known label errors for the label doctor's benchmark: `rcnn make-dataset
// fashion --corrupt missing=R,swap=R,badloc=R,spurious=R[,duplicate=R]`
// corrupts a VOC folder's annotations in place and writes corruptions.json,
// the record of every change (the answers a label-error finder should give).
#include <cstdint>
#include <string>
#include <vector>

namespace rcnn::data {

struct CorruptOptions {
  // Each object draws at most one of missing (removed), swap (another class),
  // badloc (moved to IoU badloc_min_iou..badloc_max_iou with its true box) and
  // duplicate (a second box on it, IoU >= 0.75), with these probabilities;
  // spurious: per object, the chance of one box on the background (IoU < 0.05
  // with every object, the size of one of the image's objects, a random class).
  double missing = 0, swap = 0, badloc = 0, spurious = 0, duplicate = 0;
  float badloc_min_iou = 0.25f, badloc_max_iou = 0.5f;
  uint64_t seed = 1;
  std::vector<std::string> splits{"train", "val", "test"};  // the ImageSets/Main lists to corrupt (absent ones skipped)
};

// Parses "missing=0.1,swap=0.05,..." into the rates of `o`; throws DataError naming the bad part.
void parse_corruption_rates(const std::string& spec, CorruptOptions& o);

struct CorruptionSummary {
  int images = 0, corrupted_images = 0;
  int missing = 0, swap = 0, badloc = 0, spurious = 0, duplicate = 0;
};

// Rewrites <root>/Annotations/<id>.xml of every image of the splits and writes <root>/corruptions.json:
// {"seed", "rates", "corruptions": [{"image", "split", "kind" ("missing"|"swapped"|"badloc"|"spurious"|
// "duplicate"), "gt_index" (its position in the corrupted file; null for missing), "class", "box",
// "original_index" (in the clean file; null for spurious), "original_class", "original_box"}]}, boxes as
// continuous 0-based [x1, y1, x2, y2]. Deterministic for a seed. Throws DataError naming the file.
CorruptionSummary corrupt_voc_annotations(const std::string& root, const CorruptOptions& o);

}  // namespace rcnn::data
