// torchvision's detector family behind the stage contract: torchvision's
// transform (resize by the short side, pad to a multiple of 32), its anchors
// on every FPN level of the padded batch, its matchers and
// BalancedPositiveNegativeSampler, MultiScaleRoIAlign (aligned = False) and
// its losses, op for op (modeling/torchvision).
#include "pipeline/tv_detector.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "api/session.h"
#include "api/torchvision_model.h"
#include "config/config_fields.h"
#include "modeling/matcher.h"
#include "modeling/torchvision/tv_box_ops.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/torchvision/tv_layers.h"
#include "modeling/torchvision/tv_training.h"
#include "pipeline/families.h"
#include "pipeline/tv_explain.h"
#include "pipeline/tv_levels.h"
#include "pipeline/tv_trace.h"
#include "pipeline/tv_train_io.h"
#include "serialize/state_dict.h"

namespace rcnn::api {
namespace mt = modeling::tv;
namespace {

std::string norm_name(const std::string& s) {
  std::string o;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c))) o += char(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

}  // namespace

DetectorConfig torchvision_config_for(const serialize::StateDict& sd, const std::string& path,
                                      const DetectorConfig& current) {
  const auto* cls = sd.find("roi_heads.box_predictor.cls_score.weight");
  if (!cls || cls->dim() != 2 || cls->size(0) < 2)
    throw std::runtime_error(path + ": no roi_heads.box_predictor.cls_score.weight: not a torchvision Faster R-CNN "
                             "state dict");
  std::string preset;
  if (sd.find("backbone.body.layer1.0.conv1.weight"))
    preset = sd.find("roi_heads.box_head.fc6.weight") ? "torchvision_resnet50_fpn" : "torchvision_resnet50_fpn_v2";
  else if (sd.find("backbone.body.0.0.weight"))
    preset = current.name == "torchvision_mobilenet_v3_large_320_fpn" ? current.name
                                                                       : "torchvision_mobilenet_v3_large_fpn";
  else
    throw std::runtime_error(path + ": neither a ResNet-50 nor a MobileNetV3 backbone under backbone.body");
  DetectorConfig c = current.name == preset ? current : load_preset(preset);
  c.num_classes = int(cls->size(0)) - 1;
  c.class_names = torchvision_class_names("", int(cls->size(0)));
  return c;
}

bool is_torchvision_checkpoint(const std::string& path) {
  try {
    return serialize::read_state_dict(path).find("roi_heads.box_predictor.cls_score.weight") != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}


namespace {

using pipeline::MappedGt;

class TvDetector final : public pipeline::Detector {
 public:
  TvDetector(const DetectorConfig& cfg, const torch::Device& d, mt::TvFasterRCNN model)
      : cfg_(cfg), device_(d), model_(std::move(model)) {
    if (cfg_.class_names.empty()) cfg_.class_names = torchvision_class_names("", cfg_.num_classes + 1);
    adopt_names();
    model_->to(device_);
    model_->eval();
  }
  const char* family() const override { return "torchvision"; }
  const DetectorConfig& config() const override { return cfg_; }
  pipeline::ConfigChange change_for(const DetectorConfig& next) const override {
    if (!next.is_torchvision() || !same_weight_shapes(cfg_, next)) return pipeline::ConfigChange::Rebuild;
    // FrozenBatchNorm2d's eps is folded into the convolutions when the weights load: a new eps means
    // loading them again under it.
    return next.torchvision.frozen_bn_eps != cfg_.torchvision.frozen_bn_eps ? pipeline::ConfigChange::Reload
                                                                            : pipeline::ConfigChange::Keep;
  }
  void configure(const DetectorConfig& next) override {
    model_->set_options(torchvision_options(next));
    cfg_ = next;
    adopt_names();
  }
  void to(const torch::Device& d) override {
    device_ = d;
    model_->to(d);
    head_cache_.clear();  // its tensors live on the old device
  }
  void set_dataset_names(const std::vector<std::string>& names) override {
    dataset_names_ = names;
    adopt_names();
  }
  std::vector<std::string> class_names() const override { return names_; }

  torch::Tensor prepare(const Image& image, PipelineTrace& t) override;
  MappedGt map_gt(const GtObject& o) const override;
  pipeline::RpnOutputs backbone() override {
    model_->run_backbone(r_);
    head_cache_.clear();
    return {{r_.objectness}, {r_.deltas}, int(r_.features[0].size(1))};
  }
  pipeline::AnchorSet anchors() override;
  modeling::Matcher rpn_matcher() const override {
    // torchvision's RPN matcher: Matcher(fg, bg, allow_low_quality_matches=True).
    const auto& o = model_->opts;
    return modeling::Matcher{o.rpn_bg_iou_thresh, o.rpn_fg_iou_thresh, true, true};
  }
  pipeline::SamplerRule rpn_sampler() const override {
    return {int(model_->opts.rpn_batch_size_per_image), model_->opts.rpn_positive_fraction};
  }
  std::pair<torch::Tensor, torch::Tensor> sample_anchors(const torch::Tensor& labels,
                                                         torch::Generator& gen) const override {
    // BalancedPositiveNegativeSampler on torchvision's labels (1 / 0 / -1): the training step's first draw.
    const auto& o = model_->opts;
    auto [pos, neg] = mt::balanced_sample(labels.to(torch::kFloat), o.rpn_batch_size_per_image,
                                          o.rpn_positive_fraction, gen);
    return {std::get<0>(pos.sort()), std::get<0>(neg.sort())};
  }
  void propose(PipelineTrace& t) override {
    model_->run_proposals(r_, /*keep_candidates=*/true);
    fill_tv_proposals(t, r_.candidates[0], model_->opts.rpn_nms_thresh);
  }
  pipeline::RoiOutputs roi_head() override;
  pipeline::RoiPooling pooling(int level) const override {
    const auto& o = model_->opts;
    const auto& sc = r_.pooler.scales;
    const double scale = sc.empty() ? 0.25 : sc[size_t(std::clamp<int>(level, 0, int(sc.size()) - 1))];
    return {scale, int(o.roi_output_size), int(o.roi_sampling_ratio), false};  // torchvision: aligned = False
  }
  void predict(PipelineTrace& t) override {
    model_->run_postprocess(r_);
    fill_tv_predictions(t, r_, model_->opts);
  }
  pipeline::FeatureLevels features() const override;
  pipeline::Gradients gradients(const pipeline::GradientTarget& q) override {
    return pipeline::tv_gradients(*model_, r_, q);
  }
  std::vector<std::vector<pipeline::MaskedDetection>> detect_masked(const torch::Tensor& masks,
                                                                    bool mean_fill) override {
    return pipeline::tv_detect_masked(*model_, r_, masks, mean_fill);
  }
  modeling::TrainStep train_step(const torch::Tensor& gt, torch::Generator& gen) override;
  TrainView train_settings() const override;
  std::map<std::string, torch::Tensor> batch_losses(const pipeline::LossBatch& b, std::optional<torch::Generator> gen,
                                                    const modeling::SampleNormalizer& normalizer) override;
  torch::nn::Module& module() override { return *model_; }
  void start_training(const std::string& init, const std::function<void(const std::string&)>& say) override {
    pipeline::tv_train::start(*model_, init, say);
    model_->to(device_);
    head_cache_.clear();
  }
  void set_training(bool on, bool freeze_norm) override {
    model_->train(on);
    head_cache_.clear();  // the weights change under it
    if (on && freeze_norm)
      for (auto& c : model_->modules(/*include_self=*/false))
        if (c->as<mt::Norm2d>()) c->eval();
  }
  std::vector<pipeline::NamedTensor> checkpoint_tensors() override { return pipeline::tv_train::state_tensors(*model_); }
  std::string export_weights(const std::string& checkpoint) override {
    return pipeline::tv_train::export_state_dict(*model_, checkpoint);
  }
  std::vector<std::vector<api::Detection>> detect(const std::vector<Image>& images) override {
    return pipeline::tv_train::detect(*model_, images, device_);
  }

 private:
  void run_box_head_cached();  // RoIAlign and the head for the RoIs the cache lacks
  void adopt_names();          // names_ from the config's and the dataset's names

  DetectorConfig cfg_;
  torch::Device device_;
  mt::TvFasterRCNN model_{nullptr};
  mt::TvInference r_;
  torch::Tensor image_;  // (3, H, W) float [0, 1]
  std::vector<std::string> dataset_names_;
  std::vector<std::string> names_;  // the names of the model's labels (class_names)
  // The pooled features and head outputs of every RoI box seen on the
  // current features: a proposal-stage change mostly proposes the same boxes
  // again. RoIAlign computes each row alone (bit-equal); the head's matrix
  // products give a row the same value up to float rounding whatever the
  // other rows (a fresh run agrees to 1e-6, far inside the parity test's
  // tolerances), and the RPN-option re-run drops from ~1 s to ~0.1 s.
  struct HeadCache {
    std::map<std::array<uint32_t, 4>, int64_t> row;  // box bits -> row
    torch::Tensor feats, logits, reg;
    int sampling_ratio = 0;
    void clear() { *this = HeadCache{}; }
  } head_cache_;
};

void TvDetector::adopt_names() {
  // A model without names of its own ("class N": not COCO's 91, no classes
  // file) with as many classes as the dataset takes the dataset's, index for
  // index: that is how `rcnn train` numbers them (label + 1).
  const int n = int(cfg_.class_names.size());
  const bool adopt = n != 90 && !dataset_names_.empty() && int(dataset_names_.size()) == n &&
                     cfg_.class_names == torchvision_class_names("", n + 1);
  names_ = adopt ? dataset_names_ : cfg_.class_names;
}

torch::Tensor TvDetector::prepare(const Image& image, PipelineTrace& T) {
  const auto& o = model_->opts;
  auto hwc = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()), {image.height, image.width, 3}, torch::kByte);
  image_ = mt::image_from_rgb8(hwc.clone()).to(device_);
  model_->run_transform(r_, {image_});
  const auto& b = r_.batch;
  const int64_t H = b.tensors.size(2), W = b.tensors.size(3);
  const auto [rh, rw] = b.sizes[0];
  T.image_width = image.width;
  T.image_height = image.height;
  T.input_width = int(W);
  T.input_height = int(H);
  T.input_size = int(std::max(H, W));
  T.scale_x = float(rw) / float(image.width);
  T.scale_y = float(rh) / float(image.height);
  T.pad_x = T.pad_y = 0;
  T.clip_width = float(rw);  // torchvision clips to the resized image, not the padded batch
  T.clip_height = float(rh);
  const double s = std::min(double(o.min_size) / std::min(image.width, image.height),
                            double(o.max_size) / std::max(image.width, image.height));
  T.input_note = "scale min(" + std::to_string(o.min_size) + " / short side, " + std::to_string(o.max_size) +
                 " / long side) = " + fmt(s) + ", resized to " + std::to_string(rw) + "×" + std::to_string(rh) +
                 ", zero-padded to a multiple of " + std::to_string(o.size_divisible);
  // What the model saw, un-normalised; the padding shown black.
  auto mean = torch::tensor(o.image_mean, torch::kFloat).view({3, 1, 1});
  auto stdv = torch::tensor(o.image_std, torch::kFloat).view({3, 1, 1});
  auto x = (b.tensors[0].cpu() * stdv + mean).clamp(0, 1);
  x.slice(1, rh).zero_();
  x.slice(2, rw).zero_();
  auto u8 = x.mul(255).round().to(torch::kByte).permute({1, 2, 0}).contiguous();
  T.input_rgb.assign(u8.data_ptr<uint8_t>(), u8.data_ptr<uint8_t>() + u8.numel());
  // The resized image in [0, 1], unpadded: what the RoI crops are cut from.
  return torch::nn::functional::interpolate(image_.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                     .size(std::vector<int64_t>{rh, rw})
                                                                     .mode(torch::kBilinear)
                                                                     .align_corners(false));
}

MappedGt TvDetector::map_gt(const GtObject& obj) const {
  // The dataset's labels mapped to the model's classes by name.
  const auto& names = names_;
  int label = obj.label;
  if (!dataset_names_.empty()) {
    label = -1;
    const std::string want = obj.label >= 0 && obj.label < int(dataset_names_.size())
                                 ? norm_name(dataset_names_[size_t(obj.label)])
                                 : std::string();
    for (size_t c = 0; c < names.size() && !want.empty(); ++c)
      if (norm_name(names[c]) == want) label = int(c);
  }
  if (label < 0 || label >= cfg_.num_classes) return {false, {}, -1};
  auto bx = torch::tensor({obj.box.x1, obj.box.y1, obj.box.x2, obj.box.y2}, torch::kFloat).view({1, 4});
  auto m = mt::resize_boxes(bx, r_.batch.original[0], r_.batch.sizes[0]);
  auto a = m.accessor<float, 2>();
  return {true, box_of(a, 0), label};
}

pipeline::AnchorSet TvDetector::anchors() {
  model_->run_anchors(r_);
  std::vector<mt::LevelGrid> grids;
  for (const auto& f : r_.features)
    grids.push_back({f.size(2), f.size(3), r_.batch.tensors.size(2) / f.size(2), r_.batch.tensors.size(3) / f.size(3)});
  return {tv_level_infos(model_->opts, grids), r_.anchors.to(torch::kFloat)};
}

pipeline::RoiOutputs TvDetector::roi_head() {
  run_box_head_cached();
  pipeline::RoiOutputs out;
  out.boxes = r_.proposals[0].boxes;
  // MultiScaleRoIAlign's level of each RoI (0 = '0').
  out.levels = r_.pooler.scales.size() > 1 ? mt::map_levels({out.boxes}, r_.pooler)
                                           : torch::zeros({out.boxes.size(0)}, torch::kLong);
  out.pooled = r_.roi_features;
  out.probs = torch::softmax(r_.class_logits, -1);
  out.level_assignment = "size";
  out.canonical_size = 224;
  out.canonical_level = 4;
  return out;
}

pipeline::FeatureLevels TvDetector::features() const {
  // RoIAlign's levels take MultiScaleRoIAlign's scales; the rest ('pool') their stride.
  pipeline::FeatureLevels f;
  f.maps = r_.features;
  for (size_t l = 0; l < r_.features.size(); ++l)
    f.steps.push_back(l < r_.pooler.scales.size()
                          ? float(1.0 / r_.pooler.scales[l])
                          : float(r_.batch.tensors.size(3) / std::max<int64_t>(1, r_.features[l].size(3))));
  f.offset = 0.f;  // aligned = False
  return f;
}

modeling::TrainStep TvDetector::train_step(const torch::Tensor& gt, torch::Generator& gen) {
  // torchvision's training step on the features of this run (the model stays
  // in eval mode: FrozenBatchNorm2d either way; BatchNorm2d with its running
  // statistics, which the view says). GT labels are the model's minus one.
  mt::TvTarget t{gt.slice(1, 0, 4).to(torch::kFloat), gt.select(1, 4).to(torch::kLong) + 1};
  modeling::TrainStep step;
  mt::training_losses_on(*model_, r_, {t}, nullptr, nullptr, gen, &step);
  return step;
}

TrainView TvDetector::train_settings() const {
  const auto& o = model_->opts;
  TrainView v;
  v.rpn_box_weight = v.roi_box_weight = 1;  // torchvision sums the four losses unweighted
  v.roi_iou_lo = o.box_bg_iou_thresh;
  v.roi_iou_hi = o.box_fg_iou_thresh;
  v.roi_fg_fraction = o.box_positive_fraction;
  v.roi_batch = int(o.box_batch_size_per_image);
  v.pre_nms_topk_train = int(o.rpn_pre_nms_top_n_train);
  v.post_nms_topk_train = int(o.rpn_post_nms_top_n_train);
  v.add_gt = true;  // torchvision's add_gt_proposals
  v.rpn_smooth_l1 = true;  // F.smooth_l1_loss(beta=1/9, reduction="sum") / #samples
  v.batchnorm = o.arch == TvArch::ResNet50FPNv2;
  return v;
}

std::map<std::string, torch::Tensor> TvDetector::batch_losses(const pipeline::LossBatch& b,
                                                              std::optional<torch::Generator> gen,
                                                              const modeling::SampleNormalizer& normalizer) {
  std::vector<torch::Tensor> images;
  std::vector<mt::TvTarget> targets;
  pipeline::tv_train::to_tv_batch(b, device_, images, targets);
  const auto L = mt::training_losses(*model_, images, targets, nullptr, nullptr, gen, nullptr, normalizer);
  return {{"rpn_obj", L.objectness}, {"rpn_box", L.rpn_box_reg}, {"roi_cls", L.classifier}, {"roi_box", L.box_reg}};
}

void TvDetector::run_box_head_cached() {
  auto& C = head_cache_;
  const auto& o = model_->opts;
  if (C.sampling_ratio != o.roi_sampling_ratio || (C.feats.defined() && C.feats.size(0) > 4000)) C.clear();
  C.sampling_ratio = o.roi_sampling_ratio;
  const auto& boxes = r_.proposals[0].boxes;
  auto b = boxes.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t R = b.size(0);
  if (R == 0) {
    model_->run_box_head(r_);
    return;
  }
  const float* p = b.data_ptr<float>();
  std::vector<int64_t> src(size_t(R), -1), missing;
  std::vector<std::array<uint32_t, 4>> keys(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) {
    std::memcpy(keys[size_t(i)].data(), p + 4 * i, 16);
    const auto it = C.row.find(keys[size_t(i)]);
    if (it != C.row.end())
      src[size_t(i)] = it->second;
    else
      missing.push_back(i);
  }
  if (!missing.empty()) {
    mt::TvInference tmp;
    tmp.batch = r_.batch;
    tmp.features = r_.features;
    auto idx = torch::tensor(missing, torch::kLong).to(boxes.device());
    tmp.proposals = {mt::Proposals{boxes.index_select(0, idx), {}, {}}};
    model_->run_box_head(tmp);
    r_.pooler = tmp.pooler;
    const int64_t base = C.feats.defined() ? C.feats.size(0) : 0;
    C.feats = C.feats.defined() ? torch::cat({C.feats, tmp.roi_features}) : tmp.roi_features;
    C.logits = C.logits.defined() ? torch::cat({C.logits, tmp.class_logits}) : tmp.class_logits;
    C.reg = C.reg.defined() ? torch::cat({C.reg, tmp.box_regression}) : tmp.box_regression;
    for (size_t k = 0; k < missing.size(); ++k) {
      src[size_t(missing[k])] = base + int64_t(k);
      C.row.emplace(keys[size_t(missing[k])], base + int64_t(k));
    }
  }
  auto sel = torch::tensor(src, torch::kLong).to(C.feats.device());
  r_.roi_features = C.feats.index_select(0, sel);
  r_.class_logits = C.logits.index_select(0, sel);
  r_.box_regression = C.reg.index_select(0, sel);
}


}  // namespace

std::unique_ptr<pipeline::AnchorModel> make_tv_anchor_model(const DetectorConfig& cfg);  // tv_anchor_model.cpp

namespace {

std::unique_ptr<pipeline::Detector> load_tv(const std::string& path, const DetectorConfig& current,
                                            const torch::Device& d) {
  if (pipeline::tv_train::is_training_checkpoint(path)) {  // a training run's last.pt / best.pt
    DetectorConfig c;
    auto m = pipeline::tv_train::load_training_checkpoint(path, c);
    return std::make_unique<TvDetector>(c, d, m);
  }
  const auto sd = serialize::read_state_dict(path);
  DetectorConfig c = torchvision_config_for(sd, path, current);
  mt::TvFasterRCNN m(torchvision_options(c));
  m->load(sd, path);  // throws naming the key; the current model stays
  return std::make_unique<TvDetector>(c, d, m);
}

}  // namespace

}  // namespace rcnn::api

namespace rcnn::pipeline {

Family torchvision_family() {
  Family f;
  f.name = "torchvision";
  f.train_input = TrainInput::Decoded;
  f.is_default = false;
  f.owns_config = [](const DetectorConfig& c) { return c.is_torchvision(); };
  // A .pth, or any file holding the predictor's key (tried after the seed's reader).
  f.may_read = [](const std::string& path) {
    return (path.size() > 4 && path.compare(path.size() - 4, 4, ".pth") == 0) || api::is_torchvision_checkpoint(path) ||
           pipeline::tv_train::is_training_checkpoint(path);
  };
  f.build = [](const DetectorConfig& c, const torch::Device& d, uint64_t seed) -> std::unique_ptr<Detector> {
    torch::manual_seed(seed);
    return std::make_unique<api::TvDetector>(c, d, modeling::tv::TvFasterRCNN(torchvision_options(c)));
  };
  f.load = api::load_tv;
  f.anchor_model = api::make_tv_anchor_model;
  return f;
}

}  // namespace rcnn::pipeline
