#pragma once
// Internal to core (torch allowed): the Session's state. session.cpp has the
// front ends' calls, stage_runner.cpp the dirty-stage loop over the
// detector's stages (pipeline/detector.h); neither knows a family.
#include <chrono>
#include <functional>
#include <memory>

#include "api/session.h"
#include "config/config_fields.h"
#include "engine/precision.h"
#include "pipeline/detector.h"

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
  std::unique_ptr<pipeline::Detector> det;
  torch::Device device{torch::kCPU};
  engine::Precision precision = engine::Precision::FP32;
  bool random = true;
  uint64_t weight_seed = 0;
  std::string checkpoint;
  unsigned dirty = kAll;
  int64_t backbone_runs = 0;
  uint64_t sample_seed = 0;
  bool display = true;
  bool train_view = true;    // compute trace.train (Session::set_train_view)
  bool train_stale = false;  // trace.train was left out while train_view was off
  int feature_channel = 0;
  bool features_dirty = true;  // the feature-map images need a refill (channel changed)

  // Image
  Image image;
  bool has_image = false;
  std::string image_path;  // open_image's file (set_image: empty)
  std::vector<GtObject> gt_orig;
  std::vector<std::string> dataset_names;
  // What the stages hand on to each other (the detector keeps its own tensors).
  torch::Tensor input_raw;  // (1, 3, h, w) in [0, 1], input coordinates: the RoI crops' source
  torch::Tensor gt;         // (M, 5) input coordinates, the model's labels
  torch::Tensor anchors;    // (K, 4)
  modeling::MatchResult match;
  PipelineTrace trace;

  const DetectorConfig& cfg() const { return det->config(); }
  std::string weights_hash;  // Session::capture's, of this model ("" = not yet computed)
  void use(std::unique_ptr<pipeline::Detector> d, bool random_weights, const std::string& path) {
    det = std::move(d);
    weights_hash.clear();
    det->set_dataset_names(dataset_names);
    random = random_weights;
    checkpoint = path;
    dirty = kAll;
  }
  // The stages in `dirty`, in pipeline order (stage_runner.cpp).
  void run_stages(unsigned dirty, const StageTimer& timed);
  // The training step on the current image, when a stage shows it.
  void run_train_view(unsigned dirty, const StageTimer& timed);
};

// Core's own way into a Session (the probe recorder copies trained weights into its model).
struct SessionAccess {
  static Session::Impl& impl(Session& s) { return *s.d_; }
};

}  // namespace rcnn::api
