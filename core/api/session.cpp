// The Session's calls: model, config and image changes, and run(), which
// dispatches to the seed's stages (session_seed.cpp) or a torchvision
// model's (session_tv.cpp); the shared state is in session_impl.h.
#include "api/session.h"

#include <torch/torch.h>

#include <chrono>

#include "api/session_impl.h"
#include "api/torchvision_model.h"
#include "data/image_io.h"
#include "engine/checkpoint.h"

namespace rcnn::api {

Session::Session(const DetectorConfig& cfg, const std::string& device, uint64_t seed) : d_(new Impl) {
  cfg.validate();
  engine::init_threads();
  d_->cfg = cfg;
  d_->device = engine::resolve_device(device);
  d_->build_model(seed);
}

Session::~Session() = default;

void Session::load_checkpoint(const std::string& path) {
  // A torchvision state dict (torch.save(model.state_dict()) from Python):
  // a .pth file, or any file holding the predictor's key.
  // Ours otherwise; a file of ours that does not load is tried as a
  // torchvision state dict before its error is reported.
  const bool pth = path.size() > 4 && path.compare(path.size() - 4, 4, ".pth") == 0;
  auto load_torchvision = [&] {
    auto fresh = d_->tv ? std::unique_ptr<TvStages>() : std::make_unique<TvStages>(d_->device.str());
    TvStages* target = d_->tv ? d_->tv.get() : fresh.get();
    DetectorConfig c = target->load(path, d_->cfg);  // throws before touching state
    if (fresh) d_->tv = std::move(fresh);
    d_->tv->set_dataset_names(d_->dataset_names);
    d_->model = nullptr;
    d_->cfg = c;
    d_->random = false;
    d_->checkpoint = path;
    d_->dirty = kAll;
  };
  if (pth) return load_torchvision();
  DetectorConfig cfg;
  modeling::FasterRCNN m{nullptr};
  try {
    m = engine::load_model(path, d_->device, &cfg);  // throws before touching state
  } catch (const std::exception&) {
    if (!is_torchvision_checkpoint(path)) throw;
    return load_torchvision();
  }
  d_->model = m;
  d_->tv.reset();
  d_->cfg = cfg;
  d_->random = false;
  d_->checkpoint = path;
  d_->dirty = kAll;
}

void Session::load_class_names(const std::string& path) {
  DetectorConfig c = d_->cfg;
  c.class_names = torchvision_class_names(path, c.num_classes + 1);  // throws naming the file
  if (d_->tv) d_->tv->set_config(c);
  d_->cfg = c;
  d_->dirty |= kImage;  // GT labels are mapped to the model's classes by name
}

void Session::reset_random_weights(uint64_t seed) {
  d_->build_model(seed);
}
bool Session::random_weights() const {
  return d_->random;
}
std::string Session::model_label() const {
  return d_->random ? "random weights (seed " + std::to_string(d_->weight_seed) + ")" : d_->checkpoint;
}
void Session::set_device(const std::string& device) {
  const auto dev = engine::resolve_device(device);  // throws before touching state
  if (d_->tv) d_->tv->to(dev.str());
  if (d_->model) d_->model->to(dev);
  d_->device = dev;
  d_->dirty = kAll;
}

std::string Session::device_name() const {
  return d_->device.str();
}
const DetectorConfig& Session::config() const {
  return d_->cfg;
}
bool Session::has_image() const {
  return d_->has_image;
}
int64_t Session::backbone_runs() const {
  return d_->backbone_runs + (d_->tv ? d_->tv->backbone_runs() : 0);
}

void Session::set_config(const DetectorConfig& c) {
  c.validate();
  auto& o = d_->cfg;
  if (c.is_torchvision() || d_->tv) {
    if (!d_->tv || !c.is_torchvision() || !same_weight_shapes(o, c)) {
      d_->cfg = c;
      d_->build_model(d_->weight_seed);
      return;
    }
    if (!d_->random && c.torchvision.frozen_bn_eps != o.torchvision.frozen_bn_eps) {
      // FrozenBatchNorm2d's eps is set, and folded into the convolutions, when the weights load: a new eps
      // means loading them again under it (an option change alone left the old eps in the folded weights).
      const std::string path = d_->checkpoint;
      d_->cfg = c;
      load_checkpoint(path);
      return;
    }
    d_->dirty |= changed_stages(o, c);
    d_->tv->set_config(c);
    d_->cfg = d_->tv->config();
    return;
  }
  if (!d_->model->compatible_with(c)) {
    d_->cfg = c;
    d_->build_model(d_->weight_seed);
    return;
  }
  const unsigned dirty = changed_stages(o, c);  // from the field table
  d_->model->update_config(c);
  d_->cfg = c;
  d_->dirty |= dirty;
}

void Session::set_image(const Image& image, const std::vector<GtObject>& gt, const std::vector<std::string>& names) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw std::invalid_argument("set_image: image buffer does not match its " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + " size");
  d_->image = image;
  d_->gt_orig = gt;
  d_->trace.class_names = names;
  d_->dataset_names = names;
  if (d_->tv) d_->tv->set_dataset_names(names);
  d_->has_image = true;
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
  unsigned dirty = close_deps(D.dirty);
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
  T.model_label = model_label();
  T.device = D.device.str();
  if (D.tv) {
    D.tv->run(T, dirty, D.image, D.gt_orig, D.sample_seed, D.display, timed);
    if (D.display && ((dirty & kBackbone) || D.features_dirty || T.feature_maps.empty())) {
      timed("feature_maps", [&] { D.tv->fill_features(T, D.feature_channel); });
      D.features_dirty = false;
    } else if (!D.display) {
      T.feature_maps.clear();
    }
    D.dirty = 0;
    return T;
  }
  D.run_seed_stages(dirty, timed);
  D.dirty = 0;
  return T;
}

std::vector<float> Session::sampling_points(int r, int* gh, int* gw) const {
  if (d_->tv) return d_->tv->sampling_points(d_->trace, r, gh, gw);
  return d_->seed_sampling_points(r, gh, gw);
}

}  // namespace rcnn::api
