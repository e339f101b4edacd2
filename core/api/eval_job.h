#pragma once
// Evaluation and detection with a checkpoint on a dataset or files, for the
// CLI and the studio's evaluation panel. No torch types here.
#include <functional>
#include <string>
#include <vector>

#include "api/types.h"
#include "evaluation/coco_eval.h"
#include "evaluation/voc_map.h"

#include "api/model_spec.h"

namespace rcnn::api {

// The model (api/model_spec.h; a torchvision preset with a .pth is evaluated
// image by image through the Session, as `rcnn analyze` runs it, classes
// matched to the dataset's by name) and the split.
struct EvalRequest : ModelSpec {
  std::string dataset;  // empty: the embedded default
  std::string split = "val";
  int max_images = 0;  // 0: all
  int batch_size = 8;
  std::vector<std::string> image_ids;  // non-empty: only these images of the split (by id), in split order
};

struct EvalReport {
  evaluation::EvalResult result;   // VOC mAP@0.5, per-class AP, PR curves, confusion
  evaluation::CocoSummary coco;    // COCO's rules (coco_eval.h)
  std::vector<std::string> image_paths;
  std::vector<std::vector<Detection>> detections;  // original-image coordinates in box_original
  std::vector<std::vector<GtObject>> gt;
  std::vector<std::string> class_names;
  std::vector<std::string> issues;  // images that could not be read
  double seconds = 0;
};

// Throws std::runtime_error (naming the file) on a bad checkpoint/dataset.
EvalReport run_evaluation(const EvalRequest& req, const std::function<void(int done, int total)>& progress = {});

// Scores a detections JSON written by another detector or tool
// ([{image, detections: [{label, score, box: [x1, y1, x2, y2]}]}], boxes in
// original pixels; images are matched by file name) against a dataset split.
// Throws std::runtime_error naming the file.
EvalReport evaluate_detections_file(const std::string& json_path, const std::string& dataset, const std::string& split);

// Reads a detections JSON of that format for these images (matched by file name; images of the file that are
// not among them are skipped): per image, boxes with label and score. Every number is read strictly (a label
// outside 0..num_classes-1, a box that is not 4 numbers, a score that is not finite: an error naming the file,
// the image and the detection).
std::vector<std::vector<evaluation::EvalBox>> read_detections_file(const std::string& json_path,
                                                                   const std::vector<std::string>& image_paths,
                                                                   int num_classes);

// The VOC result's JSON with a "coco" object: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100 (and ARs, ARm, ARl).
std::string eval_report_to_json(const EvalReport& r);

struct DetectResult {
  std::string path;
  int width = 0, height = 0;
  std::vector<Detection> detections;
  std::string error;  // non-empty: this image failed (others still run)
};

// precision: "fp32" or "bf16" (engine/precision.h; refused where the CPU lacks it).
std::vector<DetectResult> detect_files(const std::string& checkpoint, const std::vector<std::string>& paths,
                                       const std::string& device, double score_thresh,
                                       std::vector<std::string>* class_names, const std::string& precision = "fp32");

}  // namespace rcnn::api
