#pragma once
// The torchvision family's side of training (tv_detector.cpp's Detector
// methods call these): the start from a user's state dict, a decoded batch
// as torchvision's images and targets, the detections the trainer's
// validation scores, and the torch.save(state_dict) copy of a checkpoint's
// weights. Internal to core.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "api/types.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/torchvision/tv_training.h"
#include "pipeline/detector.h"

namespace rcnn::pipeline::tv_train {

// Fine-tuning's start: the state dict at `path` (its box predictor replaced
// by the model's fresh one when the file has another number of classes, as
// torchvision's fine-tuning tutorial does; empty path: the random weights
// kept), then torchvision's trainable_backbone_layers.
void start(modeling::tv::TvFasterRCNNImpl& m, const std::string& path,
           const std::function<void(const std::string&)>& say);

// A decoded batch as torchvision takes it: images (3, H, W) in [0, 1] and
// targets in original pixels with labels 1.. (the dataset's label + 1);
// crowd objects left out. Throws for a resized (seed) batch.
void to_tv_batch(const LossBatch& b, const torch::Device& device, std::vector<torch::Tensor>& images,
                 std::vector<modeling::tv::TvTarget>& targets);

// Detections image by image (as `rcnn eval` runs a torchvision model), in
// original pixels with the dataset's labels (the model's label - 1).
std::vector<std::vector<api::Detection>> detect(modeling::tv::TvFasterRCNNImpl& m, const std::vector<api::Image>& images,
                                                const torch::Device& device);

// Writes the weights to <checkpoint without its extension>.pth as
// torch.save(model.state_dict()) does (torchvision's load_state_dict reads
// it); returns that path.
std::string export_state_dict(modeling::tv::TvFasterRCNNImpl& m, const std::string& checkpoint);

// The state dict's entries as a checkpoint holds them (BatchNorm2d's
// counters included): the tensors themselves, so loading fills the model.
std::vector<engine::NamedTensor> state_tensors(modeling::tv::TvFasterRCNNImpl& m);

// Whether a file is a training checkpoint (engine/checkpoint.h, last.pt)
// of a torchvision config; false for anything else.
bool is_training_checkpoint(const std::string& path);
// The model such a checkpoint holds, with its config; BatchNorm2d where the
// checkpoint has the layer's counter, FrozenBatchNorm2d elsewhere. Throws
// naming the file.
modeling::tv::TvFasterRCNN load_training_checkpoint(const std::string& path, DetectorConfig& cfg);

}  // namespace rcnn::pipeline::tv_train
