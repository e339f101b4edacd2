// The seed's stages of a Session run (session.cpp dispatches here unless a
// torchvision model is open): each fills its part of the trace.
#include <torch/torch.h>

#include "api/match_trace.h"
#include "api/session_impl.h"
#include "api/feature_maps.h"
#include "api/train_trace.h"
#include "api/tv_trace.h"
#include "data/image_io.h"
#include "modeling/sampling.h"
#include "ops/roi_align.h"

namespace rcnn::api {

void Session::Impl::run_seed_stages(unsigned dirty, const StageTimer& timed) {
  auto& D = *this;
  auto& T = D.trace;
  const auto& cfg = D.cfg;
  const int S = cfg.input.size;
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
      T.clip_width = T.clip_height = float(S);
      T.input_note = cfg.input.resize == "letterbox" ? "letterboxed into the " + std::to_string(S) + "² square"
                                                     : "stretched to the " + std::to_string(S) + "² square";
      T.scale_x = D.tf.sx;
      T.scale_y = D.tf.sy;
      T.pad_x = D.tf.pad_x;
      T.pad_y = D.tf.pad_y;
      std::vector<float> g;
      T.gt.clear();
      T.crowd.clear();
      for (const auto& o : D.gt_orig) {
        data::Annotation a{o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.label};
        auto b = D.tf.forward(a);
        if (o.crowd) {  // an ignore region: not matched, not trained on
          T.crowd.push_back({{b.x1, b.y1, b.x2, b.y2}, o.box, o.label});
          continue;
        }
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
      for (int64_t i = 0; i < a.size(0); ++i) T.anchors[size_t(i)] = box_of(acc, i);
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
          p.box = box_of(acc, i);
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
      T.roi_points_fmap.clear();
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
        std::vector<float> fm;
        auto pts = seed_sampling_points(r, &gh, &gw, &fm);
        T.roi_points_fmap.insert(T.roi_points_fmap.end(), fm.begin(), fm.end());
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
        d.box = box_of(acc, i);
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
      T.roi_deltas = T.box_regression ? to_vec(D.second.box_deltas) : std::vector<float>{};
      const auto coder = modeling::roi_box_coder(cfg.roi.box_scale_clamp);
      for (int c = 0; c < 4; ++c) T.roi_box_weights[c] = float(coder.weights[size_t(c)]);
      T.roi_scale_clamp = coder.scale_clamp;
      T.roi_class_boxes = D.props.boxes.size(0) > 0
                              ? to_vec(modeling::class_boxes(D.props.boxes, D.second.box_deltas, cfg.num_classes,
                                                             cfg.roi.box_scale_clamp, S, S))
                              : std::vector<float>{};
      compute_gt_funnel(T);
    });
  // Feature-map images: new features, a new channel, or RoIAlign's aligned mode (where cells sit) changed.
  const float cell_offset = cfg.roi.aligned ? 0.5f : 0.f;
  if (D.display && ((dirty & kBackbone) || D.features_dirty || T.feature_maps.empty() ||
                    T.feature_maps[0].offset != cell_offset)) {
    timed("feature_maps", [&] {
      std::vector<float> steps;
      for (double s : D.model->backbone->strides) steps.push_back(float(s));
      fill_feature_maps(T, D.rpn.feats, steps, cell_offset, D.feature_channel);
    });
    D.features_dirty = false;
  } else if (!D.display) {
    T.feature_maps.clear();
  }
  if (dirty & kTrain) {
    if (!D.display) {
      T.train = TrainView{};
      T.train.note = "the training step is computed only for the viewer";
      return;
    }
    if (!D.train_view) {
      T.train = TrainView{};
      T.train.note = "the training step is computed while the RoI sampling or Losses stage is open";
      D.train_stale = true;
      return;
    }
    D.train_stale = false;
    timed("training_step", [&] {
      // The trainer's step on this image alone: the RPN sampler draws first
      // from the seeded generator (the Sampling stage's draws), then the RoI
      // sampler.
      auto gen = at::detail::createCPUGenerator(D.sample_seed);
      auto step = D.model->train_step(D.rpn, D.gt.unsqueeze(0), gen);
      fill_train_view(T, step, cfg, D.sample_seed);
    });
  }
}

std::vector<float> Session::Impl::seed_sampling_points(int r, int* gh, int* gw, std::vector<float>* fmap) const {
  const auto& T = trace;
  if (r < 0 || r >= int(T.kept.size())) return {};
  const auto& p = T.proposals[size_t(T.kept[size_t(r)])];
  const int level = T.roi_level.empty() ? p.level : T.roi_level[size_t(r)];
  const double stride = T.levels[size_t(level)].stride;
  ops::RoIAlignParams rp{cfg.roi.roi_size, cfg.roi.roi_size, 1.0 / stride, cfg.roi.sampling_ratio,
                         cfg.roi.aligned};
  auto g = ops::roi_align_sampling_points(p.box.x1, p.box.y1, p.box.x2, p.box.y2, rp);
  if (gh) *gh = int(g.grid_h);
  if (gw) *gw = int(g.grid_w);
  if (fmap) *fmap = g.xy;
  // Feature-map coordinates -> input pixels: pixel centre convention of aligned mode.
  const double off = cfg.roi.aligned ? 0.5 : 0.0;
  for (auto& v : g.xy) v = float((v + off) * stride);
  return g.xy;
}

}  // namespace rcnn::api
