#include "api/session_tv.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <sstream>

#include "api/match_trace.h"
#include "api/session.h"
#include "api/torchvision_model.h"
#include "api/feature_maps.h"
#include "api/tv_trace.h"
#include "config/config_fields.h"
#include "modeling/matcher.h"
#include "modeling/sampling.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/torchvision/tv_box_ops.h"
#include "ops/nms.h"
#include "ops/roi_align.h"
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

struct TvStages::Impl {
  explicit Impl(const torch::Device& d) : device_(d) {}
  DetectorConfig load(const std::string& path, const DetectorConfig& current);
  void set_config(const DetectorConfig& cfg);
  void run(PipelineTrace& t, unsigned dirty, const Image& image, const std::vector<GtObject>& gt,
           uint64_t sample_seed, bool display, const Timed& timed);
  std::vector<float> sampling_points(const PipelineTrace& t, int r, int* gh, int* gw,
                                    std::vector<float>* fmap = nullptr) const;
  void run_box_head_cached();  // RoIAlign and the head for the RoIs the cache lacks

  DetectorConfig cfg_;
  torch::Device device_;
  modeling::tv::TvFasterRCNN model_{nullptr};
  modeling::tv::TvInference r_;
  torch::Tensor image_;  // (3, H, W) float [0, 1]
  torch::Tensor gt_;     // (M, 5) input coordinates
  modeling::MatchResult match_;
  int64_t backbone_runs_ = 0;
  std::vector<std::string> dataset_names_;
  torch::Tensor raw_resized_;  // (1, 3, h, w) the resized image in [0, 1], for the RoI crops
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

TvStages::TvStages(const DetectorConfig& cfg, const std::string& device, uint64_t seed)
    : d_(new Impl(torch::Device(device))) {
  auto& D = *d_;
  D.cfg_ = cfg;
  if (D.cfg_.class_names.empty()) D.cfg_.class_names = torchvision_class_names("", cfg.num_classes + 1);
  torch::manual_seed(seed);
  D.model_ = mt::TvFasterRCNN(torchvision_options(D.cfg_));
  D.model_->to(D.device_);
  D.model_->eval();
}

TvStages::TvStages(const std::string& device) : d_(new Impl(torch::Device(device))) {}
TvStages::~TvStages() = default;

void TvStages::to(const std::string& device) {
  d_->device_ = torch::Device(device);
  if (d_->model_) d_->model_->to(d_->device_);
  d_->head_cache_.clear();  // its tensors live on the old device
}

DetectorConfig TvStages::load(const std::string& path, const DetectorConfig& current) {
  return d_->load(path, current);
}
void TvStages::set_config(const DetectorConfig& cfg) {
  d_->set_config(cfg);
}
void TvStages::run(PipelineTrace& t, unsigned dirty, const Image& image, const std::vector<GtObject>& gt,
                   uint64_t sample_seed, bool display, const Timed& timed) {
  d_->run(t, dirty, image, gt, sample_seed, display, timed);
}
std::vector<float> TvStages::sampling_points(const PipelineTrace& t, int r, int* gh, int* gw) const {
  return d_->sampling_points(t, r, gh, gw);
}
void TvStages::fill_features(PipelineTrace& t, int channel) const {
  const auto& D = *d_;
  // RoIAlign's levels take MultiScaleRoIAlign's scales; the rest ('pool') their stride.
  std::vector<float> steps;
  for (size_t l = 0; l < D.r_.features.size(); ++l)
    steps.push_back(l < D.r_.pooler.scales.size() ? float(1.0 / D.r_.pooler.scales[l])
                                                  : (l < t.levels.size() ? float(t.levels[l].stride) : 0.f));
  fill_feature_maps(t, D.r_.features, steps, 0.f, channel);  // aligned = False
}

int64_t TvStages::backbone_runs() const {
  return d_->backbone_runs_;
}
void TvStages::set_dataset_names(const std::vector<std::string>& names) {
  d_->dataset_names_ = names;
}
const DetectorConfig& TvStages::config() const {
  return d_->cfg_;
}


DetectorConfig TvStages::Impl::load(const std::string& path, const DetectorConfig& current) {
  const auto sd = serialize::read_state_dict(path);
  DetectorConfig c = torchvision_config_for(sd, path, current);
  head_cache_.clear();
  mt::TvFasterRCNN m(torchvision_options(c));
  m->load(sd, path);  // throws naming the key; the current model stays
  m->to(device_);
  m->eval();
  model_ = m;
  cfg_ = c;
  return c;
}

void TvStages::Impl::set_config(const DetectorConfig& cfg) {
  model_->set_options(torchvision_options(cfg));
  cfg_ = cfg;
}

void TvStages::Impl::run(PipelineTrace& T, unsigned dirty, const Image& image, const std::vector<GtObject>& gt_orig,
                   uint64_t sample_seed, bool display, const Timed& timed) {
  const auto& o = model_->opts;  // the model keeps torchvision_options(cfg_)
  T.torchvision = true;
  // A model without names of its own ("class N": not COCO's 91, no classes
  // file) with as many classes as the dataset takes the dataset's, index for
  // index: that is how `rcnn train` numbers them (label + 1).
  const int n = int(cfg_.class_names.size());
  if (n != 90 && !dataset_names_.empty() && int(dataset_names_.size()) == n &&
      cfg_.class_names == torchvision_class_names("", n + 1))
    cfg_.class_names = dataset_names_;
  T.class_names = cfg_.class_names;
  if (dirty & kStageImage)
    timed("image", [&] {
      auto hwc = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()), {image.height, image.width, 3}, torch::kByte);
      image_ = mt::image_from_rgb8(hwc.clone()).to(device_);
      raw_resized_ = torch::Tensor();
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
      // GT: the dataset's labels mapped to the model's classes by name.
      std::vector<float> g;
      T.gt.clear();
      T.crowd.clear();
      int unknown = 0;
      for (const auto& obj : gt_orig) {
        int label = obj.label;
        if (!dataset_names_.empty()) {
          label = -1;
          const std::string want = obj.label >= 0 && obj.label < int(dataset_names_.size())
                                       ? norm_name(dataset_names_[size_t(obj.label)])
                                       : std::string();
          for (size_t c = 0; c < cfg_.class_names.size() && !want.empty(); ++c)
            if (norm_name(cfg_.class_names[c]) == want) label = int(c);
        }
        if (label < 0 || label >= cfg_.num_classes) {
          ++unknown;
          continue;
        }
        auto bx = torch::tensor({obj.box.x1, obj.box.y1, obj.box.x2, obj.box.y2}, torch::kFloat).view({1, 4});
        auto m = mt::resize_boxes(bx, b.original[0], b.sizes[0]);
        auto a = m.accessor<float, 2>();
        if (obj.crowd) {  // an ignore region: not matched, not trained on
          T.crowd.push_back({box_of(a, 0), obj.box, label});
          continue;
        }
        g.insert(g.end(), {a[0][0], a[0][1], a[0][2], a[0][3], float(label)});
        GtInfo gi;
        gi.box = box_of(a, 0);
        gi.box_original = obj.box;
        gi.label = label;
        gi.difficult = obj.difficult;
        T.gt.push_back(gi);
      }
      if (unknown)
        T.input_note += "; " + std::to_string(unknown) + " GT box(es) of classes the model does not have left out";
      gt_ = torch::tensor(g, torch::kFloat).view({-1, 5}).to(device_);
    });
  if (dirty & kStageBackbone)
    timed("backbone+rpn_head", [&] {
      model_->run_backbone(r_);
      head_cache_.clear();
      ++backbone_runs_;
      T.objectness = to_vec(torch::sigmoid(r_.objectness.reshape({-1})));
      T.deltas = to_vec(r_.deltas);
      T.feature_channels = int(r_.features[0].size(1));
    });
  if (dirty & kStageAnchors)
    timed("anchors", [&] {
      model_->run_anchors(r_);
      T.levels.clear();
      const bool mobile = o.arch == TvArch::MobileNetV3LargeFPN;
      int offset = 0;
      for (size_t l = 0; l < r_.features.size(); ++l) {
        const auto& f = r_.features[l];
        LevelInfo li;
        li.name = l + 1 == r_.features.size() ? "'pool'" : "'" + std::to_string(l) + "'";
        if (!mobile) li.name = "p" + std::to_string(l + 2) + " " + li.name;
        li.height = int(f.size(2));
        li.width = int(f.size(3));
        li.stride = int(r_.batch.tensors.size(3) / f.size(3));
        li.stride_h = int(r_.batch.tensors.size(2) / f.size(2));
        li.centre_offset = 0;
        li.ratio_major = true;
        li.anchors_per_location = o.anchors_per_location(l);
        li.offset = offset;
        for (double s : o.anchor_sizes[l]) li.sizes.push_back(float(s));
        for (double r : o.ratios(l)) li.ratios.push_back(float(r));
        offset += li.count();
        T.levels.push_back(li);
      }
      auto a = r_.anchors.to(torch::kCPU, torch::kFloat).contiguous();
      auto acc = a.accessor<float, 2>();
      T.anchors.resize(size_t(a.size(0)));
      for (int64_t i = 0; i < a.size(0); ++i) T.anchors[size_t(i)] = box_of(acc, i);
    });
  if (dirty & kStageMatch)
    timed("matching", [&] {
      // torchvision's RPN matcher: Matcher(fg, bg, allow_low_quality_matches=True).
      modeling::Matcher m{o.rpn_bg_iou_thresh, o.rpn_fg_iou_thresh, true, true};
      match_ = m(r_.anchors, gt_);
      T.iou_lo = o.rpn_bg_iou_thresh;
      T.iou_hi = o.rpn_fg_iou_thresh;
      T.low_quality = true;
      fill_match_stage(T, match_);
    });
  if (dirty & kStageSample)
    timed("sampling", [&] {
      auto gen = at::detail::createCPUGenerator(sample_seed);
      auto s = modeling::subsample_labels(match_.labels, o.rpn_batch_size_per_image, o.rpn_positive_fraction, gen);
      auto f = s.fg.cpu(), bg = s.bg.cpu();
      T.sampled_fg.assign(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
      T.sampled_bg.assign(bg.data_ptr<int64_t>(), bg.data_ptr<int64_t>() + bg.numel());
      T.num_samples = o.rpn_batch_size_per_image;
      T.target_fg = int(o.rpn_batch_size_per_image * o.rpn_positive_fraction);
      T.target_bg = o.rpn_batch_size_per_image - T.target_fg;
      T.sample_seed = sample_seed;
    });
  if (dirty & kStageProposals)
    timed("proposals", [&] {
      model_->run_proposals(r_, /*keep_candidates=*/true);
      fill_tv_proposals(T, r_.candidates[0], o.rpn_nms_thresh);
    });
  if (dirty & kStageRoi)
    timed("roi_align+head", [&] {
      run_box_head_cached();
      T.roi_size = o.roi_output_size;
      T.level_assignment = "size";
      T.canonical_size = 224;
      T.canonical_level = 4;
      T.sampling_ratio = o.roi_sampling_ratio;
      T.aligned = false;
      T.roi_features = display ? to_vec(r_.roi_features) : std::vector<float>{};
      {
        // MultiScaleRoIAlign's level of each RoI (0 = '0').
        auto lv = r_.pooler.scales.size() > 1 ? mt::map_levels({r_.proposals[0].boxes}, r_.pooler)
                                              : torch::zeros({r_.proposals[0].boxes.size(0)}, torch::kLong);
        lv = lv.cpu().contiguous();
        T.roi_level.assign(lv.data_ptr<int64_t>(), lv.data_ptr<int64_t>() + lv.numel());
      }
      T.class_probs = to_vec(torch::softmax(r_.class_logits, -1));
      T.roi_points.clear();
      T.roi_points_fmap.clear();
      T.roi_point_offset.assign(1, 0);
      T.roi_grid.clear();
      T.roi_crops.clear();
      if (!display) return;
      // RoIAlign of the input image itself (what each RoI looks at), as the studio shows it.
      if (!raw_resized_.defined()) {
        const auto [rh, rw] = r_.batch.sizes[0];
        raw_resized_ = torch::nn::functional::interpolate(
            image_.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{rh, rw})
                                     .mode(torch::kBilinear)
                                     .align_corners(false));
      }
      const auto& raw = raw_resized_;
      auto boxes = r_.proposals[0].boxes;
      auto rois = torch::cat({torch::zeros({boxes.size(0), 1}, boxes.options()), boxes}, 1);
      ops::RoIAlignParams cp{T.crop_size, T.crop_size, 1.0, 2, false};
      T.roi_crops = to_vec(ops::roi_align(raw, rois, cp));
      for (int r = 0; r < int(T.kept.size()); ++r) {
        int gh = 0, gw = 0;
        std::vector<float> fm;
        auto pts = sampling_points(T, r, &gh, &gw, &fm);
        T.roi_points_fmap.insert(T.roi_points_fmap.end(), fm.begin(), fm.end());
        T.roi_points.insert(T.roi_points.end(), pts.begin(), pts.end());
        T.roi_point_offset.push_back(int(T.roi_points.size()));
        T.roi_grid.insert(T.roi_grid.end(), {gh, gw});
      }
    });
  if (dirty & kStagePred)
    timed("predictions", [&] {
      model_->run_postprocess(r_);
      fill_tv_predictions(T, r_, o);
      compute_gt_funnel(T);
    });
  if (dirty & kStageTrain) {
    T.train = TrainView{};
    T.train.note = "the training-step view covers the seed's detectors; for a torchvision model, rcnn train "
                   "--checkpoint fine-tunes it with torchvision's own step";
  }
}

void TvStages::Impl::run_box_head_cached() {
  auto& C = head_cache_;
  const auto& o = model_->opts;  // the model keeps torchvision_options(cfg_)
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

std::vector<float> TvStages::Impl::sampling_points(const PipelineTrace& T, int r, int* gh, int* gw,
                                                   std::vector<float>* fmap) const {
  if (r < 0 || r >= int(T.kept.size())) return {};
  const auto& p = T.proposals[size_t(T.kept[size_t(r)])];
  const int level = T.roi_level.empty() ? 0 : T.roi_level[size_t(r)];
  const double scale = r_.pooler.scales.empty() ? 0.25 : r_.pooler.scales[size_t(level)];
  const auto& o = model_->opts;  // the model keeps torchvision_options(cfg_)
  ops::RoIAlignParams rp{o.roi_output_size, o.roi_output_size, scale, o.roi_sampling_ratio, false};
  auto g = ops::roi_align_sampling_points(p.box.x1, p.box.y1, p.box.x2, p.box.y2, rp);
  if (gh) *gh = int(g.grid_h);
  if (gw) *gw = int(g.grid_w);
  if (fmap) *fmap = g.xy;
  for (auto& v : g.xy) v = float(v / scale);  // aligned = false: feature x -> input x / scale
  return g.xy;
}

}  // namespace rcnn::api
