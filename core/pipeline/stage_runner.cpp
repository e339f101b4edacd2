// The Session's dirty-stage loop: every stale stage of the detector
// (pipeline/detector.h) in pipeline order, each followed by its shared fill
// (pipeline/stage_fills.h). The same code for every family.
#include <torch/torch.h>

#include "api/session.h"
#include "pipeline/feature_maps.h"
#include "pipeline/session_impl.h"
#include "pipeline/stage_fills.h"
#include "pipeline/train_trace.h"

namespace rcnn::api {

void Session::Impl::run_stages(unsigned dirty, const StageTimer& timed) {
  auto& T = trace;
  auto& det = *this->det;
  T.torchvision = det.family() == std::string("torchvision");
  T.class_names = det.class_names();
  // One name per class (the views and captures size the per-class arrays by it): a model opened with no
  // names, or fewer than its classes, shows the rest as "class K" (1-based, as a VOC label file counts).
  for (int k = int(T.class_names.size()); k < det.config().num_classes; ++k)
    T.class_names.push_back("class " + std::to_string(k + 1));
  if (dirty & kImage)
    timed("image", [&] {
      input_raw = det.prepare(image, T);
      std::vector<pipeline::MappedGt> mapped;
      for (const auto& o : gt_orig) mapped.push_back(det.map_gt(o));
      gt = fill_gt(T, gt_orig, mapped).to(device);
    });
  if (dirty & kBackbone)
    timed("backbone+rpn_head", [&] {
      fill_rpn_outputs(T, det.backbone());
      ++backbone_runs;
    });
  if (dirty & kAnchors)
    timed("anchors", [&] {
      auto a = det.anchors();
      anchors = a.boxes;
      fill_anchors(T, a);
    });
  if (dirty & kMatch)
    timed("matching", [&] {
      const auto m = det.rpn_matcher();
      match = m(anchors, gt);
      fill_matching(T, m, match);
    });
  if (dirty & kSample)
    timed("sampling", [&] {
      auto gen = at::detail::createCPUGenerator(sample_seed);
      const auto [fg, bg] = det.sample_anchors(match.labels, gen);
      fill_sampling(T, det.rpn_sampler(), fg, bg, sample_seed);
    });
  if (dirty & kProposals) timed("proposals", [&] { det.propose(T); });
  if (dirty & kRoi) timed("roi_align+head", [&] { fill_roi(T, det.roi_head(), det, input_raw, display); });
  if (dirty & kPred)
    timed("predictions", [&] {
      det.predict(T);
      compute_gt_funnel(T);
    });
  // Feature-map images: new features, a new channel, or where the cells sit (RoIAlign's aligned mode) changed.
  if (display) {
    const auto fl = det.features();
    if ((dirty & kBackbone) || features_dirty || T.feature_maps.empty() || T.feature_maps[0].offset != fl.offset) {
      timed("feature_maps", [&] { fill_feature_maps(T, fl.maps, fl.steps, fl.offset, feature_channel); });
      features_dirty = false;
    }
  } else {
    T.feature_maps.clear();
  }
  run_train_view(dirty, timed);
}

void Session::Impl::run_train_view(unsigned dirty, const StageTimer& timed) {
  auto& T = trace;
  if (!(dirty & kTrain)) return;
  if (!display) {
    T.train = TrainView{};
    T.train.note = "the training step is computed only for the viewer";
    return;
  }
  if (!train_view) {
    T.train = TrainView{};
    T.train.note = "the training step is computed while the RoI sampling or Losses stage is open";
    train_stale = true;
    return;
  }
  train_stale = false;
  timed("training_step", [&] {
    // The trainer's step on this image alone: the RPN sampler draws first
    // from the seeded generator (the Sampling stage's draw), then the RoI
    // sampler.
    auto gen = at::detail::createCPUGenerator(sample_seed);
    auto step = det->train_step(gt, gen);
    fill_train_view(T, step, det->train_settings(), sample_seed);
  });
}

}  // namespace rcnn::api
