#pragma once
// Internal to core/api: the Session's stages for a torchvision preset. The
// same stage bits and the same PipelineTrace as the seed's path, filled from
// TvFasterRCNN's own stages (modeling/torchvision), so every panel of the
// studio reads a torchvision model as it reads the seed's.
#include <torch/torch.h>

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/trace.h"
#include "config/detector_config.h"
#include "modeling/matcher.h"
#include "modeling/torchvision/tv_faster_rcnn.h"

namespace rcnn::serialize {
struct StateDict;
}

namespace rcnn::api {

// The preset a torchvision state dict was written by, from its keys
// (MobileNet's two presets share their keys: `current` wins when it is one of
// them), with num_classes (background excluded) from the predictor. Throws
// std::runtime_error naming `path` when it is not a Faster R-CNN state dict.
DetectorConfig torchvision_config_for(const serialize::StateDict& sd, const std::string& path,
                                      const DetectorConfig& current);
// Whether a file is a torchvision state dict (a torch.save zip holding the
// predictor's key); false for anything else, including unreadable files.
bool is_torchvision_checkpoint(const std::string& path);

class TvStages {
 public:
  TvStages(const DetectorConfig& cfg, const torch::Device& device, uint64_t seed);
  // No model until load().
  explicit TvStages(const torch::Device& device) : device_(device) {}
  // Reads, checks and loads; on any error throws and keeps the current model.
  // Returns the config of the loaded model.
  DetectorConfig load(const std::string& path, const DetectorConfig& current);
  // Options that keep weight shapes (the caller has checked).
  void set_config(const DetectorConfig& cfg);

  using Timed = std::function<void(const char*, const std::function<void()>&)>;
  // Recomputes the stages in `dirty` (closed under dependencies).
  void run(PipelineTrace& t, unsigned dirty, const Image& image, const std::vector<GtObject>& gt,
           uint64_t sample_seed, bool display, const Timed& timed);
  std::vector<float> sampling_points(const PipelineTrace& t, int r, int* gh, int* gw) const;
  int64_t backbone_runs() const { return backbone_runs_; }
  // The dataset's class names: GT labels are mapped to the model's classes
  // by name (empty: the labels are the model's already).
  void set_dataset_names(const std::vector<std::string>& names);
  const DetectorConfig& config() const { return cfg_; }

 private:
  void fill_proposals(PipelineTrace& t);
  void run_box_head_cached();  // RoIAlign and the head for the RoIs the cache lacks
  void fill_predictions(PipelineTrace& t);

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

}  // namespace rcnn::api
