#pragma once
// The detector families and how a config or a checkpoint file picks one.
// Internal to core (torch allowed). A new family is one entry in
// families.cpp's table plus its own files (docs/architecture.md).
#include <torch/torch.h>

#include <memory>
#include <string>

#include "pipeline/detector.h"

namespace rcnn::pipeline {

// The form of LossBatch the training data path makes for a family.
enum class TrainInput {
  Resized,  // the seed's loader: resized, augmented, normalised tensors
  Decoded,  // the images as decoded (the family's own transform resizes them)
};

struct Family {
  const char* name;
  TrainInput train_input;
  // The family of every config no other family owns (the seed's).
  bool is_default;
  // Whether a config is this family's (its presets).
  bool (*owns_config)(const DetectorConfig& cfg);
  // Whether a file may be this family's checkpoint (cheap, by name or keys).
  bool (*may_read)(const std::string& path);
  // Random weights from `seed`.
  std::unique_ptr<Detector> (*build)(const DetectorConfig& cfg, const torch::Device& device, uint64_t seed);
  // Reads and checks a checkpoint; throws std::runtime_error naming the file.
  // `current`: the session's config (options the file does not hold).
  std::unique_ptr<Detector> (*load)(const std::string& path, const DetectorConfig& current,
                                    const torch::Device& device);
  // Anchors and matcher of a config without weights (coverage, anchor search).
  std::unique_ptr<AnchorModel> (*anchor_model)(const DetectorConfig& cfg);
};

// The family of a config: the one that owns it, else the default one.
const Family& family_of(const DetectorConfig& cfg);
std::unique_ptr<Detector> make_detector(const DetectorConfig& cfg, const torch::Device& device, uint64_t seed);
std::unique_ptr<AnchorModel> make_anchor_model(const DetectorConfig& cfg);
// Each family that may read the file tries it in table order; the first
// failure's error is thrown when none loads it.
std::unique_ptr<Detector> load_detector(const std::string& path, const DetectorConfig& current,
                                        const torch::Device& device);

// The families' entries (each in its own file).
Family seed_family();         // seed_detector.cpp
Family torchvision_family();  // tv_detector.cpp

}  // namespace rcnn::pipeline
