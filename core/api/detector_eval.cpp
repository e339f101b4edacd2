// evaluate_detector (detail/eval_internal.h): validation of any detector
// family through the stage contract's detect(), for the trainer.
#include <chrono>

#include "api/dataset.h"
#include "api/dataset_convert.h"
#include "data/image_io.h"
#include "detail/eval_internal.h"
#include "pipeline/detector.h"

namespace rcnn::api {

void score_report(EvalReport& rep, const std::vector<data::ImageRecord>& images,
                  const std::vector<std::string>& class_names) {
  const size_t n = images.size();
  std::vector<std::vector<evaluation::EvalBox>> E(n), G(n);
  for (size_t i = 0; i < n; ++i) {
    rep.image_paths.push_back(images[i].path);
    rep.gt.push_back(to_gt_objects(images[i]));
    for (const auto& d : rep.detections[i])
      E[i].push_back(
          {d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2, d.label, d.score, false});
    for (const auto& a : images[i].objects)
      // COCO crowd regions are ignore regions, like VOC's difficult objects.
      G[i].push_back({a.x1, a.y1, a.x2, a.y2, a.label, 1.f, a.difficult || a.crowd, a.area});
  }
  rep.result = evaluation::evaluate_detections(E, G, class_names);
  rep.coco = evaluation::coco_evaluate(E, G, int(class_names.size()));
}

EvalReport evaluate_detector(pipeline::Detector& det, const data::Dataset& ds, int max_images, int batch_size) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard ng;
  const size_t n = max_images > 0 ? std::min(ds.images.size(), size_t(max_images)) : ds.images.size();
  EvalReport rep;
  rep.class_names = ds.class_names;
  rep.detections.resize(n);
  std::vector<Image> batch;
  std::vector<size_t> which;
  auto flush = [&] {
    const auto dets = det.detect(batch);
    for (size_t k = 0; k < which.size(); ++k) rep.detections[which[k]] = dets[k];
    batch.clear();
    which.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    try {
      batch.push_back(load_image(ds.images[i].path));
      which.push_back(i);
    } catch (const data::DataError& e) {
      rep.issues.push_back(std::string(e.what()) + " (no detections)");
    }
    if (int(batch.size()) >= std::max(1, batch_size)) flush();
  }
  if (!batch.empty()) flush();
  std::vector<data::ImageRecord> images(ds.images.begin(), ds.images.begin() + std::ptrdiff_t(n));
  score_report(rep, images, ds.class_names);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace rcnn::api
