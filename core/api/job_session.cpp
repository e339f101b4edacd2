#include "api/job_session.h"

namespace rcnn::api {

std::unique_ptr<Session> open_job_session(const ModelSpec& m, const std::vector<std::string>& class_names) {
  DetectorConfig cfg = load_preset(m.config);
  cfg.num_classes = int(class_names.size());
  cfg.class_names = class_names;
  auto s = std::make_unique<Session>(cfg, m.device);
  s->set_precision(m.precision);  // throws saying why where it cannot run
  if (!m.checkpoint.empty()) s->load_checkpoint(m.checkpoint);
  if (!m.classes_file.empty()) s->load_class_names(m.classes_file);  // throws naming the file
  if (!m.config_json.empty()) {
    auto c = config_from_json_string(m.config_json, "the studio's config");
    c.num_classes = s->config().num_classes;
    c.class_names = s->config().class_names;
    s->set_config(c);
  }
  if (m.score_thresh >= 0) {
    auto c = s->config();
    (c.is_torchvision() ? c.torchvision.box_score_thresh : c.roi.score_thresh) = m.score_thresh;
    s->set_config(c);
  }
  s->set_display_outputs(false);
  s->set_train_view(false);
  return s;
}

}  // namespace rcnn::api
