#pragma once
// Internal to core/api (torch allowed): the Session's state, shared by
// session.cpp (the front ends' calls, the dispatch between the seed's stages
// and a torchvision model's) and session_seed.cpp (the seed's stages).
#include <chrono>
#include <functional>
#include <memory>

#include "api/session.h"
#include "api/session_tv.h"
#include "config/config_fields.h"
#include "data/transforms.h"
#include "engine/device.h"
#include "modeling/faster_rcnn.h"

namespace rcnn::api {
namespace session_detail {

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
  kTrain = kStageTrain,
  kAll = kStageAll
};

// Everything downstream of a stale stage is stale too. New feature-map sizes
// (after an input change) mean new anchors.
inline unsigned close_deps(unsigned d) {
  for (int k = 0; k < 4; ++k) {
    if (d & kImage) d |= kBackbone | kMatch;
    if (d & kBackbone) d |= kAnchors | kProposals;
    if (d & kAnchors) d |= kMatch | kProposals;
    if (d & kMatch) d |= kSample | kPred | kTrain;
    if (d & kSample) d |= kTrain;  // the RoI sampler draws after the RPN's
    if (d & kProposals) d |= kRoi | kTrain;
    if (d & kRoi) d |= kPred | kTrain;
  }
  return d;
}

}  // namespace session_detail
using namespace session_detail;


using StageTimer = std::function<void(const char*, const std::function<void()>&)>;

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
  bool train_view = true;   // compute trace.train (Session::set_train_view)
  bool train_stale = false;  // trace.train was left out while train_view was off
  int feature_channel = 0;
  bool features_dirty = true;  // the feature-map images need a refill (channel changed)

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

  // The seed's stages in `dirty` (session_seed.cpp).
  void run_seed_stages(unsigned dirty, const StageTimer& timed);
  // fmap (optional) receives the same points in feature-map coordinates.
  std::vector<float> seed_sampling_points(int r, int* gh, int* gw, std::vector<float>* fmap = nullptr) const;

  void build_model(uint64_t seed) {
    if (cfg.is_torchvision()) {
      tv = std::make_unique<TvStages>(cfg, device.str(), seed);
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

}  // namespace rcnn::api
