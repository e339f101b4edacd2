#include "api/session.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "api/match_trace.h"
#include "api/session_tv.h"
#include "api/torchvision_model.h"
#include "config/config_fields.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "data/transforms.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "modeling/faster_rcnn.h"
#include "modeling/sampling.h"
#include "ops/roi_align.h"

namespace rcnn::api {
namespace {

// The field table's stage bits (config_fields.h).
enum Dirty : unsigned {
  kImage = kStageImage,
  kBackbone = kStageBackbone,
  kAnchors = kStageAnchors,
  kMatch = kStageMatch,
  kSample = kStageSample,
  kProposals = kStageProposals,
  kRoi = kStageRoi,
  kPred = kStagePred,
  kAll = kStageAll
};

// Everything downstream of a stale stage is stale too. New feature-map sizes
// (after an input change) mean new anchors.
unsigned close_deps(unsigned d) {
  for (int k = 0; k < 4; ++k) {
    if (d & kImage) d |= kBackbone | kMatch;
    if (d & kBackbone) d |= kAnchors | kProposals;
    if (d & kAnchors) d |= kMatch | kProposals;
    if (d & kMatch) d |= kSample | kPred;
    if (d & kProposals) d |= kRoi;
    if (d & kRoi) d |= kPred;
  }
  return d;
}

std::vector<float> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

Box box_at(const torch::TensorAccessor<float, 2>& a, int64_t i) {
  return {a[i][0], a[i][1], a[i][2], a[i][3]};
}

}  // namespace

struct Session::Impl {
  DetectorConfig cfg;
  torch::Device device{torch::kCPU};
  modeling::FasterRCNN model{nullptr};
  bool random = true;
  uint64_t weight_seed = 0;
  std::string checkpoint;
  unsigned dirty = kAll;
  int64_t backbone_runs = 0;
  uint64_t sample_seed = 0;
  bool display = true;

  // Image
  Image image;
  bool has_image = false;
  std::vector<GtObject> gt_orig;
  data::ResizeTransform tf;
  torch::Tensor input;      // (1, 3, S, S) normalized
  torch::Tensor input_raw;  // (1, 3, S, S) RGB 0..1
  torch::Tensor gt;         // (M, 5) input coordinates
  // Stages
  modeling::RPNState rpn;
  torch::Tensor anchors_all;  // (K, 4)
  modeling::MatchResult match;
  modeling::ImageProposals props;
  modeling::SecondStage second;
  PipelineTrace trace;
  // A torchvision preset's stages (session_tv.h); null for the seed's presets.
  std::unique_ptr<TvStages> tv;
  std::vector<std::string> dataset_names;

  void build_model(uint64_t seed) {
    if (cfg.is_torchvision()) {
      tv = std::make_unique<TvStages>(cfg, device, seed);
      tv->set_dataset_names(dataset_names);
      cfg = tv->config();
      model = nullptr;
    } else {
      tv.reset();
      torch::manual_seed(seed);
      model = modeling::FasterRCNN(cfg);
      model->to(device);
      model->eval();
    }
    random = true;
    weight_seed = seed;
    checkpoint.clear();
    dirty = kAll;
  }
};

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
    auto fresh = d_->tv ? std::unique_ptr<TvStages>() : std::make_unique<TvStages>(d_->device);
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
  const auto& cfg = D.cfg;
  const int S = cfg.input.size;
  auto timed = [&](const char* name, auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    T.timings_ms[name] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    T.recomputed.push_back(name);
  };
  T.random_weights = D.random;
  T.model_label = model_label();
  T.device = D.device.str();
  if (D.tv) {
    D.tv->run(T, dirty, D.image, D.gt_orig, D.sample_seed, D.display,
              [&](const char* name, const std::function<void()>& fn) { timed(name, fn); });
    D.dirty = 0;
    return T;
  }
  T.torchvision = false;
  T.class_names = D.dataset_names;

  if (dirty & kImage)
    timed("image", [&] {
      cv::Mat rgb(D.image.height, D.image.width, CV_8UC3, D.image.rgb.data());
      D.tf = data::make_resize(D.image.width, D.image.height, S, cfg.input.resize);
      cv::Mat in = data::apply_resize(rgb, D.tf);
      T.input_rgb.assign(in.data, in.data + in.total() * 3);
      D.input = data::to_tensor(in, cfg.input.mean, cfg.input.std).unsqueeze(0).to(D.device);
      D.input_raw = data::to_tensor(in, {0, 0, 0}, {1, 1, 1}).unsqueeze(0).to(D.device);
      T.image_width = D.image.width;
      T.image_height = D.image.height;
      T.input_size = S;
      T.input_width = T.input_height = S;
      T.input_note = cfg.input.resize == "letterbox" ? "letterboxed into the " + std::to_string(S) + "² square"
                                                     : "stretched to the " + std::to_string(S) + "² square";
      T.scale_x = D.tf.sx;
      T.scale_y = D.tf.sy;
      T.pad_x = D.tf.pad_x;
      T.pad_y = D.tf.pad_y;
      std::vector<float> g;
      T.gt.clear();
      for (const auto& o : D.gt_orig) {
        if (o.crowd) continue;
        data::Annotation a{o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.label};
        auto b = D.tf.forward(a);
        g.insert(g.end(), {b.x1, b.y1, b.x2, b.y2, float(o.label)});
        GtInfo gi;
        gi.box = {b.x1, b.y1, b.x2, b.y2};
        gi.box_original = o.box;
        gi.label = o.label;
        gi.difficult = o.difficult;
        T.gt.push_back(gi);
      }
      D.gt = torch::tensor(g, torch::kFloat).view({-1, 5}).to(D.device);
    });
  if (dirty & kBackbone)
    timed("backbone+rpn_head", [&] {
      auto s = D.model->run_rpn(D.input);
      D.rpn.feats = s.feats;
      D.rpn.objectness = s.objectness;
      D.rpn.deltas = s.deltas;
      D.backbone_runs++;
      std::vector<float> obj, del;
      for (size_t l = 0; l < s.objectness.size(); ++l) {
        auto o = to_vec(torch::sigmoid(s.objectness[l][0]));
        auto dd = to_vec(s.deltas[l][0]);
        obj.insert(obj.end(), o.begin(), o.end());
        del.insert(del.end(), dd.begin(), dd.end());
      }
      T.objectness = std::move(obj);
      T.deltas = std::move(del);
      T.feature_channels = int(s.feats[0].size(1));
    });
  if (dirty & kAnchors)
    timed("anchors", [&] {
      D.rpn.anchors.clear();
      T.levels.clear();
      int offset = 0;
      const char* names[] = {"p3", "p4", "p5"};
      for (size_t l = 0; l < D.rpn.feats.size(); ++l) {
        const auto& f = D.rpn.feats[l];
        const double stride = D.model->backbone->strides[l];
        D.rpn.anchors.push_back(D.model->anchor_gen.level_anchors(f.size(2), f.size(3), stride, f.options()));
        LevelInfo li;
        li.name = names[l];
        li.stride = int(stride);
        li.height = int(f.size(2));
        li.width = int(f.size(3));
        li.anchors_per_location = int(D.model->anchor_gen.num_anchors_per_location());
        li.offset = offset;
        for (double s : D.model->anchor_gen.sizes(stride)) li.sizes.push_back(float(s));
        for (double r : cfg.anchors.aspect_ratios) li.ratios.push_back(float(r));
        offset += li.count();
        T.levels.push_back(li);
      }
      D.anchors_all = torch::cat(D.rpn.anchors).to(torch::kFloat);
      auto a = D.anchors_all.cpu().contiguous();
      auto acc = a.accessor<float, 2>();
      T.anchors.resize(size_t(a.size(0)));
      for (int64_t i = 0; i < a.size(0); ++i) T.anchors[size_t(i)] = box_at(acc, i);
    });
  if (dirty & kMatch)
    timed("matching", [&] {
      auto m = D.model->rpn_matcher();
      D.match = m(D.anchors_all, D.gt);
      T.iou_lo = cfg.rpn.iou_lo;
      T.iou_hi = cfg.rpn.iou_hi;
      T.low_quality = cfg.rpn.allow_low_quality_matches;
      fill_match_stage(T, D.match);
    });
  if (dirty & kSample)
    timed("sampling", [&] {
      auto gen = at::detail::createCPUGenerator(D.sample_seed);
      auto s = modeling::subsample_labels(D.match.labels, cfg.rpn.batch_size_per_image, cfg.rpn.fg_fraction, gen);
      auto f = s.fg.cpu(), b = s.bg.cpu();
      T.sampled_fg.assign(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
      T.sampled_bg.assign(b.data_ptr<int64_t>(), b.data_ptr<int64_t>() + b.numel());
      T.num_samples = cfg.rpn.batch_size_per_image;
      T.target_fg = int(cfg.rpn.batch_size_per_image * cfg.rpn.fg_fraction);
      T.target_bg = cfg.rpn.batch_size_per_image - T.target_fg;
      T.sample_seed = D.sample_seed;
    });
  if (dirty & kProposals)
    timed("proposals", [&] {
      D.props = D.model->propose(D.rpn, 0, false);
      T.rpn_scale_clamp = cfg.rpn.box_scale_clamp;
      T.proposals.clear();
      T.kept.clear();
      for (size_t l = 0; l < D.props.levels.size(); ++l) {
        const auto& lp = D.props.levels[l];
        const int base = int(T.proposals.size());
        auto boxes = lp.boxes.cpu().to(torch::kFloat).contiguous();
        auto acc = boxes.accessor<float, 2>();
        auto sc = to_vec(torch::sigmoid(lp.scores));
        auto idx = lp.topk_idx.cpu(), sup = lp.suppressed_by.cpu(), small = lp.too_small.cpu();
        const int64_t P = boxes.size(0);
        for (int64_t i = 0; i < P; ++i) {
          Proposal p;
          p.box = box_at(acc, i);
          p.objectness = sc[size_t(i)];
          p.level = int(l);
          p.anchor = T.levels[l].offset + int(idx[i].item<int64_t>());
          const int64_t s = sup[i].item<int64_t>();
          p.state = small[i].item<bool>() ? ProposalState::TooSmall
                                          : (s >= 0 ? ProposalState::Suppressed : ProposalState::CutByPostTopk);
          p.suppressed_by = s >= 0 ? base + int(s) : -1;
          T.proposals.push_back(p);
        }
        auto keep = lp.keep.cpu();
        for (int64_t k = 0; k < keep.numel(); ++k) {
          const int pi = base + int(keep[k].item<int64_t>());
          T.proposals[size_t(pi)].state = ProposalState::Kept;
          T.proposals[size_t(pi)].kept_index = int(T.kept.size());
          T.kept.push_back(pi);
        }
      }
    });
  if (dirty & kRoi)
    timed("roi_align+head", [&] {
      D.second = D.model->run_second_stage(D.rpn, 0, D.props);
      T.roi_size = cfg.roi.roi_size;
      T.level_assignment = cfg.roi.level_assignment;
      T.canonical_size = cfg.roi.canonical_size;
      T.canonical_level = cfg.roi.canonical_level;
      T.sampling_ratio = cfg.roi.sampling_ratio;
      T.aligned = cfg.roi.aligned;
      T.roi_features = D.display ? to_vec(D.second.pooled) : std::vector<float>{};
      auto lv = D.second.roi_levels.cpu();
      T.roi_level.assign(lv.data_ptr<int64_t>(), lv.data_ptr<int64_t>() + lv.numel());
      T.class_probs = to_vec(D.second.probs);
      T.roi_points.clear();
      T.roi_point_offset.assign(1, 0);
      T.roi_grid.clear();
      T.roi_crops.clear();
      if (!D.display) return;
      ops::RoIAlignParams cp{T.crop_size, T.crop_size, 1.0, 2, cfg.roi.aligned};
      auto rois = D.second.rois.clone();
      rois.select(1, 0).zero_();
      T.roi_crops = to_vec(ops::roi_align(D.input_raw, rois, cp));
      // Sampling points of every RoI travel with the trace, so the studio
      // never asks the model thread for them.
      for (int r = 0; r < int(T.kept.size()); ++r) {
        int gh = 0, gw = 0;
        auto pts = sampling_points(r, &gh, &gw);
        T.roi_points.insert(T.roi_points.end(), pts.begin(), pts.end());
        T.roi_point_offset.push_back(int(T.roi_points.size()));
        T.roi_grid.insert(T.roi_grid.end(), {gh, gw});
      }
    });
  if (dirty & kPred)
    timed("predictions", [&] {
      auto det = modeling::postprocess_detections(D.props.boxes, D.second.probs, D.second.box_deltas, cfg.roi, S, S);
      auto b = det.boxes.cpu().to(torch::kFloat).contiguous();
      auto acc = b.accessor<float, 2>();
      auto sc = det.scores.cpu(), cl = det.classes.cpu(), pr = det.proposal.cpu();
      T.detections.clear();
      for (int64_t i = 0; i < b.size(0); ++i) {
        Detection d;
        d.box = box_at(acc, i);
        d.box_original = d.box;
        D.tf.backward(d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2);
        d.score = sc[i].item<float>();
        d.label = int(cl[i].item<int64_t>());
        d.proposal = int(pr[i].item<int64_t>());
        T.detections.push_back(d);
      }
      T.score_thresh = cfg.roi.score_thresh;
      T.nms_thresh = cfg.roi.nms_thresh;
      T.detections_per_image = cfg.roi.detections_per_image;
      T.box_regression = D.second.box_deltas.defined();
      T.roi_class_boxes = D.props.boxes.size(0) > 0
                              ? to_vec(modeling::class_boxes(D.props.boxes, D.second.box_deltas, cfg.num_classes,
                                                             cfg.roi.box_scale_clamp, S, S))
                              : std::vector<float>{};
      compute_gt_funnel(T);
    });
  D.dirty = 0;
  return T;
}

std::vector<float> Session::sampling_points(int r, int* gh, int* gw) const {
  const auto& T = d_->trace;
  if (d_->tv) return d_->tv->sampling_points(T, r, gh, gw);
  if (r < 0 || r >= int(T.kept.size())) return {};
  const auto& p = T.proposals[size_t(T.kept[size_t(r)])];
  const int level = T.roi_level.empty() ? p.level : T.roi_level[size_t(r)];
  const double stride = T.levels[size_t(level)].stride;
  ops::RoIAlignParams rp{d_->cfg.roi.roi_size, d_->cfg.roi.roi_size, 1.0 / stride, d_->cfg.roi.sampling_ratio,
                         d_->cfg.roi.aligned};
  auto g = ops::roi_align_sampling_points(p.box.x1, p.box.y1, p.box.x2, p.box.y2, rp);
  if (gh) *gh = int(g.grid_h);
  if (gw) *gw = int(g.grid_w);
  // Feature-map coordinates -> input pixels: pixel centre convention of aligned mode.
  const double off = d_->cfg.roi.aligned ? 0.5 : 0.0;
  for (auto& v : g.xy) v = float((v + off) * stride);
  return g.xy;
}

}  // namespace rcnn::api
