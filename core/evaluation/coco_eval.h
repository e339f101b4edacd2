#pragma once
// COCO box evaluation with COCO's own rules, as pycocotools' COCOeval
// (iouType "bbox") computes them, so the figures compare with anyone's:
// - per image and category, detections by descending score (stable), at most
//   maxDets of them (1, 10, 100);
// - greedy matching at each IoU threshold 0.50:0.05:0.95: a detection takes
//   the best-IoU unmatched GT with IoU >= t, preferring GTs that are not
//   ignored; crowd GTs (and VOC's difficult ones) are ignore regions, matched
//   any number of times with IoU = intersection / detection area;
// - area ranges all / small [0, 32²] / medium [32², 96²] / large [96², 1e10],
//   both ends inclusive as pycocotools tests them (an area of exactly 32² is
//   small and medium): a GT's area is its annotation's `area` (COCO's
//   segmentation area; EvalBox::area), its box's where it has none; GTs
//   outside the range are ignored, and so are unmatched detections (box
//   area) outside it;
// - 101-point interpolated precision (the envelope at recall 0, 0.01, ... 1);
//   AP averages over thresholds and the categories that have GTs, AR over
//   thresholds of the final recall; -1 when nothing is defined.
// Plain C++.
#include <string>
#include <vector>

#include "evaluation/voc_map.h"

namespace rcnn::evaluation {

struct CocoSummary {
  // pycocotools' summarize() order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
  double AP = -1, AP50 = -1, AP75 = -1, APs = -1, APm = -1, APl = -1;
  double AR1 = -1, AR10 = -1, AR100 = -1, ARs = -1, ARm = -1, ARl = -1;
  // Which area the ranges used: GTs with an annotation area, GTs measured by their box.
  int gt_area_annotation = 0, gt_area_box = 0;
  // "annotation", "box" or "annotation where given, else box" (`rcnn eval --json`'s "coco" "area").
  std::string area_rule() const;
};

// detections: per image, boxes with label and score; ground_truth: per image,
// with `difficult` marking ignore regions (COCO iscrowd, VOC difficult).
CocoSummary coco_evaluate(const std::vector<std::vector<EvalBox>>& detections,
                          const std::vector<std::vector<EvalBox>>& ground_truth, int num_classes);

// {"AP": .., "AP50": .., ..., "AR100": ..} (the keys of `rcnn eval --json`'s "coco" object, plus ARs/ARm/ARl
// and "area": the area rule used).
std::string coco_to_json(const CocoSummary& s);

}  // namespace rcnn::evaluation
