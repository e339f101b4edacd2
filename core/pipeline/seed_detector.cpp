// The seed's detector family (modeling/faster_rcnn.h) behind the stage
// contract: a square input (letterboxed or stretched), anchors on p3-p5,
// RoIAlign by box size, the seed's samplers and losses.
#include <torch/torch.h>

#include "data/transforms.h"
#include "engine/checkpoint.h"
#include "modeling/faster_rcnn.h"
#include "modeling/sampling.h"
#include "pipeline/anchor_search_space.h"
#include "pipeline/families.h"
#include "pipeline/seed_explain.h"
#include "pipeline/tv_trace.h"

namespace rcnn::pipeline {
namespace {

using api::PipelineTrace;

class SeedDetector final : public Detector {
 public:
  SeedDetector(modeling::FasterRCNN model, const DetectorConfig& cfg, const torch::Device& d)
      : cfg_(cfg), device_(d), model_(std::move(model)) {
    model_->to(device_);
    model_->eval();
  }
  const char* family() const override { return "seed"; }
  const DetectorConfig& config() const override { return cfg_; }
  ConfigChange change_for(const DetectorConfig& next) const override {
    return model_->compatible_with(next) ? ConfigChange::Keep : ConfigChange::Rebuild;
  }
  void configure(const DetectorConfig& next) override {
    model_->update_config(next);
    cfg_ = next;
  }
  void to(const torch::Device& d) override {
    model_->to(d);
    device_ = d;
  }
  void set_dataset_names(const std::vector<std::string>& names) override { names_ = names; }
  std::vector<std::string> class_names() const override { return names_; }

  torch::Tensor prepare(const api::Image& image, PipelineTrace& T) override {
    const int S = cfg_.input.size;
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
    tf_ = data::make_resize(image.width, image.height, S, cfg_.input.resize);
    cv::Mat in = data::apply_resize(rgb, tf_);
    T.input_rgb.assign(in.data, in.data + in.total() * 3);
    input_ = data::to_tensor(in, cfg_.input.mean, cfg_.input.std).unsqueeze(0).to(device_);
    T.image_width = image.width;
    T.image_height = image.height;
    T.input_size = S;
    T.input_width = T.input_height = S;
    T.clip_width = T.clip_height = float(S);
    T.input_note = cfg_.input.resize == "letterbox" ? "letterboxed into the " + std::to_string(S) + "² square"
                                                    : "stretched to the " + std::to_string(S) + "² square";
    T.scale_x = tf_.sx;
    T.scale_y = tf_.sy;
    T.pad_x = tf_.pad_x;
    T.pad_y = tf_.pad_y;
    return data::to_tensor(in, {0, 0, 0}, {1, 1, 1}).unsqueeze(0).to(device_);
  }
  MappedGt map_gt(const api::GtObject& o) const override {
    const auto b = tf_.forward(data::Annotation{o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.label});
    return {true, {b.x1, b.y1, b.x2, b.y2}, o.label};
  }
  RpnOutputs backbone() override {
    rpn_ = model_->run_rpn(input_);
    RpnOutputs r;
    for (size_t l = 0; l < rpn_.objectness.size(); ++l) {
      r.objectness.push_back(rpn_.objectness[l][0]);
      r.deltas.push_back(rpn_.deltas[l][0]);
    }
    r.channels = int(rpn_.feats[0].size(1));
    return r;
  }
  AnchorSet anchors() override;
  modeling::Matcher rpn_matcher() const override { return model_->rpn_matcher(); }
  SamplerRule rpn_sampler() const override { return {cfg_.rpn.batch_size_per_image, cfg_.rpn.fg_fraction}; }
  std::pair<torch::Tensor, torch::Tensor> sample_anchors(const torch::Tensor& labels,
                                                         torch::Generator& gen) const override {
    auto s = modeling::subsample_labels(labels, cfg_.rpn.batch_size_per_image, cfg_.rpn.fg_fraction, gen);
    return {s.fg, s.bg};
  }
  void propose(PipelineTrace& T) override;
  RoiOutputs roi_head() override {
    second_ = model_->run_second_stage(rpn_, 0, props_);
    RoiOutputs r;
    r.boxes = second_.rois.slice(1, 1);
    r.levels = second_.roi_levels;
    r.pooled = second_.pooled;
    r.probs = second_.probs;
    r.level_assignment = cfg_.roi.level_assignment;
    r.canonical_size = cfg_.roi.canonical_size;
    r.canonical_level = cfg_.roi.canonical_level;
    return r;
  }
  RoiPooling pooling(int level) const override {
    const auto& st = model_->backbone->strides;
    const double stride = st[size_t(std::clamp<int>(level, 0, int(st.size()) - 1))];
    return {1.0 / stride, cfg_.roi.roi_size, cfg_.roi.sampling_ratio, cfg_.roi.aligned};
  }
  void predict(PipelineTrace& T) override;
  FeatureLevels features() const override {
    FeatureLevels f;
    f.maps = rpn_.feats;
    for (double s : model_->backbone->strides) f.steps.push_back(float(s));
    f.offset = cfg_.roi.aligned ? 0.5f : 0.f;
    return f;
  }
  Gradients gradients(const GradientTarget& target) override { return seed_gradients(*model_, cfg_, input_, target); }
  std::vector<std::vector<MaskedDetection>> detect_masked(const torch::Tensor& masks, bool mean_fill) override {
    return seed_detect_masked(*model_, cfg_, input_, masks, mean_fill);
  }
  modeling::TrainStep train_step(const torch::Tensor& gt, torch::Generator& gen) override {
    return model_->train_step(rpn_, gt.unsqueeze(0), gen);
  }
  api::TrainView train_settings() const override {
    api::TrainView v;
    v.rpn_box_weight = cfg_.rpn.box_loss_weight;
    v.roi_box_weight = cfg_.roi.box_loss_weight;
    v.roi_iou_lo = cfg_.roi.iou_lo;
    v.roi_iou_hi = cfg_.roi.iou_hi;
    v.roi_fg_fraction = cfg_.roi.fg_fraction;
    v.roi_batch = cfg_.roi.batch_size_per_image;
    v.pre_nms_topk_train = cfg_.rpn.pre_nms_topk_train;
    v.post_nms_topk_train = cfg_.rpn.post_nms_topk_train;
    v.add_gt = cfg_.roi.add_gt_to_proposals;
    v.batchnorm = cfg_.backbone.norm == "batch" || cfg_.roi.norm == "batch";
    return v;
  }
  std::map<std::string, torch::Tensor> batch_losses(const LossBatch& b, std::optional<torch::Generator> gen,
                                                    const modeling::SampleNormalizer& normalizer) override;
  torch::nn::Module& module() override { return *model_; }
  void start_training(const std::string& init, const std::function<void(const std::string&)>&) override {
    if (!init.empty())
      throw std::invalid_argument(init + ": the seed's detectors train from random weights (--checkpoint is for "
                                  "torchvision presets; continue a seed run with --resume)");
  }
  void set_training(bool on, bool freeze_norm) override {
    model_->train(on);
    // BatchNorm layers to eval mode (solver.freeze_bn): running statistics used, not updated.
    if (on && freeze_norm)
      for (auto& c : model_->modules(/*include_self=*/false))
        if (c->as<torch::nn::BatchNorm2d>() || c->as<torch::nn::BatchNorm1d>()) c->eval();
  }
  std::vector<NamedTensor> checkpoint_tensors() override {
    std::vector<NamedTensor> out;
    for (const auto& p : model_->named_parameters()) out.push_back({p.key(), p.value(), false});
    for (const auto& b : model_->named_buffers()) out.push_back({b.key(), b.value(), true});
    return out;
  }
  std::string export_weights(const std::string&) override { return {}; }
  std::vector<std::vector<api::Detection>> detect(const std::vector<api::Image>& images) override;

 private:
  DetectorConfig cfg_;
  torch::Device device_;
  modeling::FasterRCNN model_;
  std::vector<std::string> names_;
  data::ResizeTransform tf_;
  torch::Tensor input_;  // (1, 3, S, S) normalised
  modeling::RPNState rpn_;
  modeling::ImageProposals props_;
  modeling::SecondStage second_;
};

AnchorSet SeedDetector::anchors() {
  AnchorSet a;
  rpn_.anchors.clear();
  int offset = 0;
  const char* names[] = {"p3", "p4", "p5"};
  for (size_t l = 0; l < rpn_.feats.size(); ++l) {
    const auto& f = rpn_.feats[l];
    const double stride = model_->backbone->strides[l];
    rpn_.anchors.push_back(model_->anchor_gen.level_anchors(f.size(2), f.size(3), stride, f.options()));
    api::LevelInfo li;
    li.name = names[l];
    li.stride = int(stride);
    li.height = int(f.size(2));
    li.width = int(f.size(3));
    li.anchors_per_location = int(model_->anchor_gen.num_anchors_per_location());
    li.offset = offset;
    for (double s : model_->anchor_gen.sizes(stride)) li.sizes.push_back(float(s));
    for (double r : cfg_.anchors.aspect_ratios) li.ratios.push_back(float(r));
    offset += li.count();
    a.levels.push_back(li);
  }
  a.boxes = torch::cat(rpn_.anchors).to(torch::kFloat);
  return a;
}

void SeedDetector::propose(PipelineTrace& T) {
  props_ = model_->propose(rpn_, 0, false);
  T.rpn_scale_clamp = cfg_.rpn.box_scale_clamp;
  T.proposals.clear();
  T.kept.clear();
  for (size_t l = 0; l < props_.levels.size(); ++l) {
    const auto& lp = props_.levels[l];
    const int base = int(T.proposals.size());
    auto boxes = lp.boxes.cpu().to(torch::kFloat).contiguous();
    auto acc = boxes.accessor<float, 2>();
    auto sc = api::to_vec(torch::sigmoid(lp.scores));
    auto idx = lp.topk_idx.cpu(), sup = lp.suppressed_by.cpu(), small = lp.too_small.cpu();
    for (int64_t i = 0; i < boxes.size(0); ++i) {
      api::Proposal p;
      p.box = api::box_of(acc, i);
      p.objectness = sc[size_t(i)];
      p.level = int(l);
      p.anchor = T.levels[l].offset + int(idx[i].item<int64_t>());
      const int64_t s = sup[i].item<int64_t>();
      p.state = small[i].item<bool>() ? api::ProposalState::TooSmall
                                      : (s >= 0 ? api::ProposalState::Suppressed : api::ProposalState::CutByPostTopk);
      p.suppressed_by = s >= 0 ? base + int(s) : -1;
      T.proposals.push_back(p);
    }
    auto keep = lp.keep.cpu();
    for (int64_t k = 0; k < keep.numel(); ++k) {
      const int pi = base + int(keep[k].item<int64_t>());
      T.proposals[size_t(pi)].state = api::ProposalState::Kept;
      T.proposals[size_t(pi)].kept_index = int(T.kept.size());
      T.kept.push_back(pi);
    }
  }
}

void SeedDetector::predict(PipelineTrace& T) {
  const int S = cfg_.input.size;
  auto det = modeling::postprocess_detections(props_.boxes, second_.probs, second_.box_deltas, cfg_.roi, S, S);
  auto b = det.boxes.cpu().to(torch::kFloat).contiguous();
  auto acc = b.accessor<float, 2>();
  auto sc = det.scores.cpu(), cl = det.classes.cpu(), pr = det.proposal.cpu();
  T.detections.clear();
  for (int64_t i = 0; i < b.size(0); ++i) {
    api::Detection d;
    d.box = api::box_of(acc, i);
    d.box_original = d.box;
    tf_.backward(d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2);
    d.score = sc[i].item<float>();
    d.label = int(cl[i].item<int64_t>());
    d.proposal = int(pr[i].item<int64_t>());
    T.detections.push_back(d);
  }
  T.score_thresh = cfg_.roi.score_thresh;
  T.nms_thresh = cfg_.roi.nms_thresh;
  T.detections_per_image = cfg_.roi.detections_per_image;
  T.box_regression = second_.box_deltas.defined();
  T.roi_deltas = T.box_regression ? api::to_vec(second_.box_deltas) : std::vector<float>{};
  const auto coder = modeling::roi_box_coder(cfg_.roi.box_scale_clamp);
  for (int c = 0; c < 4; ++c) T.roi_box_weights[c] = float(coder.weights[size_t(c)]);
  T.roi_scale_clamp = coder.scale_clamp;
  T.roi_class_boxes = props_.boxes.size(0) > 0
                          ? api::to_vec(modeling::class_boxes(props_.boxes, second_.box_deltas, cfg_.num_classes,
                                                              cfg_.roi.box_scale_clamp, S, S))
                          : std::vector<float>{};
}

std::map<std::string, torch::Tensor> SeedDetector::batch_losses(const LossBatch& b,
                                                                std::optional<torch::Generator> gen,
                                                                const modeling::SampleNormalizer& normalizer) {
  if (b.inputs.defined()) return model_->forward_train(b.inputs.to(device_), b.gt.to(device_), gen, normalizer);
  // Decoded images: the data loader's path without its augmentation:
  // resize, normalise, GT rows padded with class -1.
  const int S = cfg_.input.size;
  std::vector<torch::Tensor> imgs;
  size_t m = 0;
  for (const auto& o : b.objects) m = std::max(m, o.size());
  auto gt = torch::full({int64_t(b.images.size()), int64_t(m), 5}, -1.0f);
  for (size_t i = 0; i < b.images.size(); ++i) {
    const auto& im = b.images[i];
    cv::Mat rgb(im.height, im.width, CV_8UC3, const_cast<uint8_t*>(im.rgb.data()));
    const auto tf = data::make_resize(im.width, im.height, S, cfg_.input.resize);
    imgs.push_back(data::to_tensor(data::apply_resize(rgb, tf), cfg_.input.mean, cfg_.input.std));
    int64_t row = 0;
    for (const auto& o : b.objects[i]) {
      if (o.crowd) continue;
      const auto a = tf.forward(data::Annotation{o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.label});
      gt[int64_t(i)][row++].copy_(torch::tensor({a.x1, a.y1, a.x2, a.y2, float(o.label)}));
    }
  }
  return model_->forward_train(torch::stack(imgs).to(device_), gt.to(device_), gen, normalizer);
}

std::vector<std::vector<api::Detection>> SeedDetector::detect(const std::vector<api::Image>& images) {
  // As the evaluation's loader feeds the model: resized, normalised, one batch.
  torch::NoGradGuard ng;
  std::vector<std::vector<api::Detection>> out(images.size());
  if (images.empty()) return out;
  const int S = cfg_.input.size;
  std::vector<torch::Tensor> imgs;
  std::vector<data::ResizeTransform> tfs;
  for (const auto& im : images) {
    cv::Mat rgb(im.height, im.width, CV_8UC3, const_cast<uint8_t*>(im.rgb.data()));
    tfs.push_back(data::make_resize(im.width, im.height, S, cfg_.input.resize));
    imgs.push_back(data::to_tensor(data::apply_resize(rgb, tfs.back()), cfg_.input.mean, cfg_.input.std));
  }
  const auto dets = model_->detect(torch::stack(imgs).to(device_));
  for (size_t k = 0; k < images.size(); ++k) {
    auto bx = dets[k].boxes.cpu().to(torch::kFloat).contiguous();
    auto sc = dets[k].scores.cpu(), cl = dets[k].classes.cpu(), pr = dets[k].proposal.cpu();
    auto acc = bx.accessor<float, 2>();
    for (int64_t j = 0; j < bx.size(0); ++j) {
      api::Detection d;
      d.box = api::box_of(acc, j);
      d.box_original = d.box;
      tfs[k].backward(d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2);
      d.score = sc[j].item<float>();
      d.label = int(cl[j].item<int64_t>());
      d.proposal = int(pr[j].item<int64_t>());
      out[k].push_back(d);
    }
  }
  return out;
}

// The seed's anchors without weights: one grid per level (strides 8, 16, 32)
// of the square input, the same for every image.
class SeedAnchorModel final : public AnchorModel {
  static api::AnchorSuggestion suggestion(double stride_scale, int spo, const std::vector<double>& ratios) {
    api::AnchorSuggestion s;
    s.stride_scale = stride_scale;
    s.scales_per_octave = spo;
    s.aspect_ratios = ratios;
    s.per_location = int(ratios.size()) * spo;
    s.settings = {{"anchors.stride_scale", json_number(stride_scale)},
                  {"anchors.scales_per_octave", std::to_string(spo)},
                  {"anchors.aspect_ratios", json_list(ratios)}};
    return s;
  }

 public:
  explicit SeedAnchorModel(const DetectorConfig& cfg) : cfg_(cfg) {
    const int S = cfg.input.size;
    modeling::AnchorGenerator gen(cfg.anchors);
    const char* names[] = {"p3", "p4", "p5"};
    std::vector<torch::Tensor> per_level;
    int offset = 0;
    for (int l = 0; l < 3; ++l) {
      const int stride = 8 << l, hw = S / stride;
      per_level.push_back(gen.level_anchors(hw, hw, stride, torch::kFloat));
      api::LevelInfo L;
      L.name = names[l];
      L.stride = stride;
      L.height = L.width = hw;
      L.anchors_per_location = int(gen.num_anchors_per_location());
      L.offset = offset;
      for (double s : gen.sizes(stride)) L.sizes.push_back(float(s));
      for (double a : cfg.anchors.aspect_ratios) L.ratios.push_back(float(a));
      offset += L.count();
      set_.levels.push_back(L);
    }
    set_.boxes = torch::cat(per_level);
  }
  AnchorSet anchors(int, int) override { return set_; }
  api::Box to_input(const api::Box& b, int width, int height) const override {
    const auto tf = data::make_resize(width, height, cfg_.input.size, cfg_.input.resize);
    const auto a = tf.forward(data::Annotation{b.x1, b.y1, b.x2, b.y2, 0});
    return {a.x1, a.y1, a.x2, a.y2};
  }
  modeling::Matcher matcher(bool with_low_quality) const override {
    return {cfg_.rpn.iou_lo, cfg_.rpn.iou_hi, with_low_quality && cfg_.rpn.allow_low_quality_matches};
  }
  bool fixed_grid() const override { return true; }
  api::AnchorSuggestion current() const override {
    const auto& a = cfg_.anchors;
    return suggestion(a.stride_scale, a.scales_per_octave, a.aspect_ratios);
  }
  std::vector<api::AnchorSuggestion> search_space(const std::vector<std::vector<double>>& ratio_sets,
                                                  int max_per_location) const override {
    // anchors.stride_scale x anchors.scales_per_octave x the ratio sets.
    std::vector<api::AnchorSuggestion> out;
    for (double ss : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0})
      for (int spo = 1; spo <= 4; ++spo)
        for (const auto& rs : ratio_sets)
          if (int(rs.size()) * spo <= max_per_location) out.push_back(suggestion(ss, spo, rs));
    return out;
  }

 private:
  DetectorConfig cfg_;
  AnchorSet set_;
};

}  // namespace

Family seed_family() {
  Family f;
  f.name = "seed";
  f.train_input = TrainInput::Resized;
  f.is_default = true;
  f.owns_config = [](const DetectorConfig& c) { return !c.is_torchvision(); };
  f.may_read = [](const std::string& path) {
    return !(path.size() > 4 && path.compare(path.size() - 4, 4, ".pth") == 0);
  };
  f.build = [](const DetectorConfig& c, const torch::Device& d, uint64_t seed) -> std::unique_ptr<Detector> {
    torch::manual_seed(seed);
    return std::make_unique<SeedDetector>(modeling::FasterRCNN(c), c, d);
  };
  f.load = [](const std::string& path, const DetectorConfig&, const torch::Device& d) -> std::unique_ptr<Detector> {
    DetectorConfig c;
    auto m = engine::load_model(path, d, &c);  // throws naming the file
    return std::make_unique<SeedDetector>(m, c, d);
  };
  f.anchor_model = [](const DetectorConfig& c) -> std::unique_ptr<AnchorModel> {
    return std::make_unique<SeedAnchorModel>(c);
  };
  return f;
}

}  // namespace rcnn::pipeline
