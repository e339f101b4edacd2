#include "api/torchvision_model.h"

#include <torch/torch.h>

#include <fstream>

#include "detail/eval_internal.h"
#include "config/detector_config.h"
#include "data/image_io.h"
#include "engine/device.h"
#include "engine/precision.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "serialize/state_dict.h"

namespace rcnn::api {
namespace mt = modeling::tv;

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open the classes file");
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

std::vector<std::string> torchvision_class_names(const std::string& classes_file, int num_classes) {
  std::vector<std::string> names;
  if (!classes_file.empty()) {
    names = read_lines(classes_file);
    if (!names.empty() && names[0] == "__background__") names.erase(names.begin());
    if (int(names.size()) != num_classes - 1)
      throw std::runtime_error(classes_file + ": " + std::to_string(names.size()) + " class names, the model has " +
                               std::to_string(num_classes - 1) + " (plus background)");
    return names;
  }
  if (num_classes == 91) {
    names = read_lines(resource_dir() + "/labels/coco91.txt");
    names.erase(names.begin());
    return names;
  }
  for (int c = 1; c < num_classes; ++c) names.push_back("class " + std::to_string(c));
  return names;
}

std::vector<DetectResult> detect_files_torchvision(const TorchvisionRequest& req, const std::vector<std::string>& paths,
                                                   std::vector<std::string>* class_names) {
  engine::init_threads();
  const auto sd = serialize::read_state_dict(req.checkpoint);
  const auto* cls = sd.find("roi_heads.box_predictor.cls_score.weight");
  if (!cls || cls->dim() != 2)
    throw std::runtime_error(req.checkpoint + ": no roi_heads.box_predictor.cls_score.weight: not a torchvision "
                             "Faster R-CNN state dict");
  DetectorConfig cfg = load_preset(req.config);
  cfg.num_classes = int(cls->size(0)) - 1;
  for (const auto& o : req.overrides) apply_override(cfg, o);
  auto opts = torchvision_options(cfg);
  if (req.score_thresh >= 0) opts.box_score_thresh = req.score_thresh;
  mt::TvFasterRCNN model(opts);
  model->load(sd, req.checkpoint);
  if (!req.exact) model->optimize_for_inference();
  const auto names = torchvision_class_names(req.classes_file, opts.num_classes);
  if (class_names) *class_names = names;
  const auto precision = engine::parse_precision(req.precision);
  engine::check_precision(precision, torch::kCPU);
  engine::PrecisionScope scope(precision);
  return detect_each(paths, [&](const cv::Mat& rgb, DetectResult& r) {
    auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kByte).clone();
    const auto res = model->infer({mt::image_from_rgb8(hwc)});
    const auto& d = res.detections[0];
    auto bx = d.boxes.contiguous();
    auto acc = bx.accessor<float, 2>();
    for (int64_t j = 0; j < bx.size(0); ++j) {
      Detection det;
      det.box_original = {acc[j][0], acc[j][1], acc[j][2], acc[j][3]};
      det.box = det.box_original;
      det.score = d.scores[j].item<float>();
      det.label = int(d.labels[j].item<int64_t>()) - 1;
      r.detections.push_back(det);
    }
  });
}

}  // namespace rcnn::api
