#pragma once
// Internal to core/api: the Session's stages for a torchvision preset. The
// same stage bits and the same PipelineTrace as the seed's path, filled from
// TvFasterRCNN's own stages (modeling/torchvision), so every panel of the
// studio reads a torchvision model as it reads the seed's. No torch types
// here: the tensors live in TvStages::Impl.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/trace.h"
#include "config/detector_config.h"

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
  // device: as torch::Device parses it ("cpu", "cuda:0").
  TvStages(const DetectorConfig& cfg, const std::string& device, uint64_t seed);
  // No model until load().
  explicit TvStages(const std::string& device);
  ~TvStages();
  // Reads, checks and loads; on any error throws and keeps the current model.
  // Returns the config of the loaded model.
  DetectorConfig load(const std::string& path, const DetectorConfig& current);
  // Options that keep weight shapes (the caller has checked).
  void set_config(const DetectorConfig& cfg);
  // Moves the model (weights kept); the next run recomputes every stage there.
  void to(const std::string& device);

  using Timed = std::function<void(const char*, const std::function<void()>&)>;
  // Recomputes the stages in `dirty` (closed under dependencies).
  void run(PipelineTrace& t, unsigned dirty, const Image& image, const std::vector<GtObject>& gt,
           uint64_t sample_seed, bool display, const Timed& timed);
  std::vector<float> sampling_points(const PipelineTrace& t, int r, int* gh, int* gw) const;
  int64_t backbone_runs() const;
  // The feature-map images of the last run's features (PipelineTrace::feature_maps).
  void fill_features(PipelineTrace& t, int channel) const;
  // The dataset's class names: GT labels are mapped to the model's classes
  // by name (empty: the labels are the model's already).
  void set_dataset_names(const std::vector<std::string>& names);
  const DetectorConfig& config() const;

 private:
  struct Impl;  // the model and each stage's tensors (session_tv.cpp)
  std::unique_ptr<Impl> d_;
};

}  // namespace rcnn::api
