#pragma once
// Detection evaluation: VOC mAP@0.5 (all-point interpolation, `difficult`
// ignored as the VOC devkit does), COCO-style mAP@[.5:.95] (101-point
// interpolation), per-class AP, precision/recall curves, a confusion matrix,
// and per-class lists of false positives and misses. Plain C++.
#include <array>
#include <string>
#include <vector>

namespace rcnn::evaluation {

struct EvalBox {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int label = 0;
  float score = 1;         // detections only
  bool difficult = false;  // GT only: neither TP nor FP when matched, not counted in npos
  // GT only: the area COCO's area ranges use (the annotation's `area`); < 0: the box's area.
  float area = -1;
};

struct ClassResult {
  std::string name;
  int num_gt = 0;                        // non-difficult GT
  double ap50 = 0;                       // VOC all-point AP at IoU 0.5
  double ap_coco = 0;                    // mean AP over IoU 0.50:0.05:0.95 (101-point)
  std::vector<float> precision, recall;  // PR curve at IoU 0.5, by descending score
  // (image, index) of false positives (detections) and misses (GT) at 0.5.
  std::vector<std::pair<int, int>> false_positives, misses;
};

struct EvalResult {
  double map50 = 0;  // mean over classes with at least one GT
  double map_coco = 0;
  std::vector<ClassResult> classes;
  // (C+1) x (C+1), row = true class (C = background), col = predicted class
  // (C = background), counting detections with score >= confusion_score.
  std::vector<std::vector<int>> confusion;
  int num_images = 0;
};

// One entry per image in both vectors (an image with no detections still
// counts its GT as misses).
EvalResult evaluate_detections(const std::vector<std::vector<EvalBox>>& detections,
                               const std::vector<std::vector<EvalBox>>& ground_truth,
                               const std::vector<std::string>& class_names, double confusion_score = 0.5);

// VOC all-point interpolated AP of a PR curve (recall ascending).
double voc_ap(const std::vector<float>& recall, const std::vector<float>& precision);

std::string eval_to_json(const EvalResult& r);

}  // namespace rcnn::evaluation
