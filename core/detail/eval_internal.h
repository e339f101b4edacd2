#pragma once
// Internal to core/api (torch allowed): evaluation of an in-memory model,
// shared by run_evaluation() and the trainer's periodic val evaluation.
#include "api/eval_job.h"
#include "config/detector_config.h"
#include "data/dataset.h"
#include "modeling/faster_rcnn.h"

#include <opencv2/core.hpp>

namespace rcnn::pipeline {
class Detector;
}

namespace rcnn::api {

EvalReport evaluate_model(modeling::FasterRCNN& model, const DetectorConfig& cfg, const data::Dataset& ds,
                          const torch::Device& device, int max_images, int batch_size,
                          const std::function<void(int, int)>& progress = {});

// Fills rep's image paths, GTs, VOC result and COCO summary from its
// detections (rep.detections[i] for images[i]; crowd and difficult GTs are
// ignore regions).
void score_report(EvalReport& rep, const std::vector<data::ImageRecord>& images,
                  const std::vector<std::string>& class_names);

// Any detector family through the stage contract (Detector::detect), in
// batches of batch_size images (the family decides how it runs them):
// what the trainer's periodic validation scores.
EvalReport evaluate_detector(pipeline::Detector& det, const data::Dataset& ds, int max_images, int batch_size);

// The per-image loop of the detect_files variants: each image decoded as
// 8-bit RGB and given to `one`; an image that fails gets its error (and no
// detections), the others still run.
std::vector<DetectResult> detect_each(const std::vector<std::string>& paths,
                                      const std::function<void(const cv::Mat& rgb, DetectResult& r)>& one);

}  // namespace rcnn::api
