// The Session's calls: model, config and image changes, and run(), which
// runs the stale stages of the detector (pipeline/stage_runner.cpp). No
// family is named here: pipeline/families.h picks one for a config or a file.
#include "api/session.h"

#include <torch/torch.h>

#include <chrono>
#include <optional>

#include "api/torchvision_model.h"
#include "data/image_io.h"
#include "engine/device.h"
#include "engine/op_cost.h"
#include "engine/precision.h"
#include "pipeline/families.h"
#include "pipeline/session_impl.h"
#include "pipeline/stage_fills.h"

namespace rcnn::api {

Session::Session(const DetectorConfig& cfg, const std::string& device, uint64_t seed) : d_(new Impl) {
  cfg.validate();
  engine::init_threads();
  d_->device = engine::resolve_device(device);
  d_->weight_seed = seed;
  d_->use(pipeline::make_detector(cfg, d_->device, seed), true, "");
}

Session::~Session() = default;

void Session::load_checkpoint(const std::string& path) {
  // Each family that may read the file tries it; the current model stays when none can.
  auto det = pipeline::load_detector(path, d_->cfg(), d_->device);
  d_->use(std::move(det), false, path);
}

void Session::load_class_names(const std::string& path) {
  DetectorConfig c = d_->cfg();
  c.class_names = torchvision_class_names(path, c.num_classes + 1);  // throws naming the file
  d_->det->configure(c);
  d_->dirty |= kImage;  // GT labels are mapped to the model's classes by name
}

void Session::reset_random_weights(uint64_t seed) {
  d_->weight_seed = seed;
  d_->use(pipeline::make_detector(d_->cfg(), d_->device, seed), true, "");
}
bool Session::random_weights() const {
  return d_->random;
}
std::string Session::model_label() const {
  return d_->random ? "random weights (seed " + std::to_string(d_->weight_seed) + ")" : d_->checkpoint;
}
void Session::set_device(const std::string& device) {
  const auto dev = engine::resolve_device(device);  // throws before touching state
  engine::check_precision(d_->precision, dev);
  d_->det->to(dev);
  d_->device = dev;
  d_->dirty = kAll;
}

void Session::set_precision(const std::string& precision) {
  const auto p = engine::parse_precision(precision);  // throws before touching state
  engine::check_precision(p, d_->device);
  if (p != d_->precision) d_->dirty = kAll;
  d_->precision = p;
}

std::string Session::precision() const {
  return engine::precision_name(d_->precision);
}

std::string Session::device_name() const {
  return d_->device.str();
}
const DetectorConfig& Session::config() const {
  return d_->cfg();
}
bool Session::has_image() const {
  return d_->has_image;
}
int64_t Session::backbone_runs() const {
  return d_->backbone_runs;
}

void Session::set_config(const DetectorConfig& c) {
  c.validate();
  auto& D = *d_;
  const bool same_family = &pipeline::family_of(c) == &pipeline::family_of(D.cfg());
  const auto change = same_family ? D.det->change_for(c) : pipeline::ConfigChange::Rebuild;
  if (change == pipeline::ConfigChange::Rebuild) {
    D.use(pipeline::make_detector(c, D.device, D.weight_seed), true, "");
    return;
  }
  if (change == pipeline::ConfigChange::Reload && !D.random) {
    // The same file read again under the new options; then every setting of the new config, the model's class
    // names included (a file holds weights only: reloading kept its default names).
    auto det = pipeline::load_detector(D.checkpoint, c, D.device);
    det->configure(c);
    D.use(std::move(det), false, D.checkpoint);
    return;
  }
  D.dirty |= changed_stages(D.cfg(), c);  // from the field table
  D.det->configure(c);
}

void Session::set_image(const Image& image, const std::vector<GtObject>& gt, const std::vector<std::string>& names) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw std::invalid_argument("set_image: image buffer does not match its " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + " size");
  d_->image = image;
  d_->gt_orig = gt;
  d_->dataset_names = names;
  d_->det->set_dataset_names(names);
  d_->has_image = true;
  d_->image_path.clear();
  d_->dirty |= kImage;
}

void Session::open_image(const std::string& path, const std::vector<GtObject>& gt,
                         const std::vector<std::string>& names) {
  cv::Mat rgb = data::load_image_rgb(path);
  Image im;
  im.width = rgb.cols;
  im.height = rgb.rows;
  im.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  set_image(im, gt, names);
  d_->image_path = path;
}

void Session::set_display_outputs(bool on) {
  if (on != d_->display) d_->dirty |= kRoi;
  d_->display = on;
}

void Session::set_train_view(bool on) {
  if (on && !d_->train_view && d_->train_stale) d_->dirty |= kTrain;
  d_->train_view = on;
}

void Session::set_feature_channel(int channel) {
  if (channel != d_->feature_channel) d_->features_dirty = true;
  d_->feature_channel = channel;
}

void Session::set_sample_seed(uint64_t seed) {
  d_->sample_seed = seed;
  d_->dirty |= kSample;
}

const PipelineTrace& Session::run() {
  auto& D = *d_;
  if (!D.has_image) throw std::logic_error("Session::run: no image set");
  const unsigned dirty = close_deps(D.dirty);
  auto& T = D.trace;
  T.recomputed.clear();
  T.timings_ms.clear();
  torch::NoGradGuard ng;
  const StageTimer timed = [&](const char* name, const std::function<void()>& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    T.timings_ms[name] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    T.recomputed.push_back(name);
  };
  T.random_weights = D.random;
  T.image_path = D.image_path;
  T.model_label = model_label();
  T.device = D.device.str();
  T.precision = engine::precision_name(D.precision);
  engine::PrecisionScope precision(D.precision);
  std::optional<engine::CostRecorder> cost;  // the trace's FLOPs (unless the caller records its own)
  if (!engine::CostRecorder::active()) cost.emplace();
  D.run_stages(dirty, timed);
  T.flops = cost ? cost->total().flops : 0;
  D.dirty = 0;
  return T;
}

std::vector<float> Session::sampling_points(int r, int* gh, int* gw) const {
  return roi_sampling_points(d_->trace, *d_->det, r, gh, gw);
}

}  // namespace rcnn::api
