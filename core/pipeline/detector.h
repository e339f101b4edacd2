#pragma once
// The stage contract: what every detector family (the seed's, torchvision's)
// implements, once, in its own files. Internal to core (torch allowed).
//
// The Session (core/api/session.cpp, pipeline/stage_runner.cpp) runs the
// stages a change made stale, in pipeline order, and owns every fill the
// families share (pipeline/stage_fills.h): the trace's GT rows, anchors,
// matching, sampling, RPN head outputs, RoI features, crops and sampling
// points, feature maps, the training-step view and the funnel. A family
// computes each stage and fills only what is its own: how its input is made
// from the image, what became of each proposal, its detections.
//
// docs/architecture.md says which files a new family or a new stage touches.
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/coverage_job.h"
#include "api/trace.h"
#include "config/detector_config.h"
#include "engine/checkpoint.h"
#include "modeling/matcher.h"
#include "modeling/sampling.h"
#include "modeling/train_step.h"

namespace rcnn::pipeline {

// What a new config means for the weights a detector holds.
enum class ConfigChange {
  Keep,     // the same weights: configure() applies it in place
  Reload,   // the same file, read again under it (torchvision's frozen_bn_eps is folded in at load time)
  Rebuild,  // another architecture or head shape: a new detector (random weights)
};

// One GT object in the model's input frame, with the model's label (keep =
// false: a class the model does not have).
struct MappedGt {
  bool keep = true;
  api::Box box;
  int label = 0;
};

// The RPN head's outputs for the current image, in anchor order (K anchors).
struct RpnOutputs {
  std::vector<torch::Tensor> objectness;  // logits, pieces that concatenate to (K,) (per level, or one)
  std::vector<torch::Tensor> deltas;      // the same pieces, (K_l, 4)
  int channels = 0;          // feature channels
};

struct AnchorSet {
  std::vector<api::LevelInfo> levels;  // grids, strides, sizes and ratios; offsets into boxes
  torch::Tensor boxes;                 // (K, 4) float, input coordinates
};

// BalancedPositiveNegativeSampler's settings (RPN or RoI head).
struct SamplerRule {
  int batch = 256;
  double fg_fraction = 0.5;
};

// How RoIAlign pools one level: feature coordinate v sits at input pixel
// (v + (aligned ? 0.5 : 0)) / spatial_scale.
struct RoiPooling {
  double spatial_scale = 1;
  int output_size = 7, sampling_ratio = 2;
  bool aligned = false;
};

// The RoI head on the kept proposals (rows in PipelineTrace::kept order).
struct RoiOutputs {
  torch::Tensor boxes;   // (R, 4) input coordinates
  torch::Tensor levels;  // (R,) int64 pooling level of each
  torch::Tensor pooled;  // (R, C, s, s)
  torch::Tensor probs;   // (R, C + 1) softmax, background first
  // How RoIs are assigned to levels (shown in the RoIAlign stage).
  std::string level_assignment = "size";
  int canonical_size = 224, canonical_level = 4;
};

// The FPN levels as the feature-map view draws them: feats[l] (1, C, H, W),
// steps[l] input pixels per cell, offset as in RoiPooling.
struct FeatureLevels {
  std::vector<torch::Tensor> maps;
  std::vector<float> steps;
  float offset = 0;
};

// Attribution (api/explain.h): what Detector::gradients differentiates, on
// the last prepare()'s input.
struct GradientTarget {
  enum class Kind {
    RoiClass,    // one column of the RoI head's class scores on `box`
    RoiDelta,    // one of the RoI head's box deltas of a class on `box`
    Objectness,  // one anchor's RPN objectness
  };
  Kind kind = Kind::RoiClass;
  api::Box box;       // RoiClass / RoiDelta: the RoI, input coordinates
  int level = 0;      // its pooling level (the seed family's RoI level; torchvision's pooler assigns its own)
  int column = 0;     // RoiClass: a column of RoiOutputs::probs (0 = background); RoiDelta: that class's deltas
  int delta = 0;      // RoiDelta: 0 .. 3 = dx, dy, dw, dh
  int anchor = 0;     // Objectness: the global anchor index (AnchorSet order)
  bool logit = true;  // RoiClass: the logit (else the softmax probability); Objectness: the logit (else sigmoid)
  // How deep the gradient goes: to the input (every gradient), to the backbone's outputs (those and the FPN
  // levels'), or to the FPN levels only. Below it the network runs without autograd, as at inference: an
  // FPN-level Grad-CAM costs about one trace, not a backward pass through the backbone.
  enum class From { Input, Backbone, Fpn };
  From from = From::Input;
};

// The target's value and its gradient with respect to every FPN level, and
// (GradientTarget::from) to every backbone output and to the input.
struct Gradients {
  double value = 0;                         // the scalar differentiated
  double probability = 0;                   // RoiClass / RoiDelta: the RoI's softmax probability of `column`;
                                            // Objectness: sigmoid(logit)
  torch::Tensor input, input_grad;          // (1, 3, h, w): the normalised input and d value / d input (From::Input)
  std::vector<torch::Tensor> feats, grads;  // per FPN level (1, C, H_l, W_l): activations and d value / d them
  std::vector<float> steps;                 // input pixels per cell of each level
  std::vector<torch::Tensor> body, body_grads;  // the backbone's outputs the FPN reads, finest first (grads: not
                                                // From::Fpn)
  std::vector<float> body_steps;
  float offset = 0;  // feature coordinate v sits at input pixel (v + offset) * step
};

// One detection of a masked copy of the input (D-RISE): input coordinates,
// and its RoI's whole softmax (background first).
struct MaskedDetection {
  api::Box box;
  int label = 0;
  float score = 0;
  std::vector<float> probs;
};

// A training batch, in one of two forms (Family::train_input says which
// the training data path makes):
// - decoded: 8-bit RGB images in their own frames and their objects
//   (original pixels, the dataset's labels 0 .. C - 1); the family makes its
//   own input from them (torchvision's transform; the seed's resize);
// - resized: the seed's data loader's batch, `inputs` (N, 3, S, S) resized,
//   augmented and normalised, `gt` (N, M, 5) rows in input pixels padded
//   with class -1.
struct LossBatch {
  std::vector<api::Image> images;
  std::vector<std::vector<api::GtObject>> objects;
  torch::Tensor inputs, gt;
  int64_t size() const { return inputs.defined() ? inputs.size(0) : int64_t(images.size()); }
};

using engine::NamedTensor;  // what a checkpoint holds of a detector's weights

// A family's anchors and RPN matcher for a config, without weights: what
// dataset-wide anchor coverage and the anchor search (api/coverage_job.h)
// match every GT of a split against. The same anchors, box mapping and
// matcher as the family's Anchors and Matching stages.
class AnchorModel {
 public:
  virtual ~AnchorModel() = default;
  // The anchors of an image of width x height, in its input frame.
  virtual AnchorSet anchors(int width, int height) = 0;
  // A box of that image (original pixels) in its input frame.
  virtual api::Box to_input(const api::Box& box, int width, int height) const = 0;
  // The RPN matcher (with_low_quality = false: the same without the low-quality rule).
  virtual modeling::Matcher matcher(bool with_low_quality = true) const = 0;
  // Whether every image has the same anchors (the windowed matcher needs
  // one fixed grid of square cells).
  virtual bool fixed_grid() const = 0;
  // The anchor search's candidates (api/coverage_job.h): each with its
  // config settings and anchors per location (at most max_per_location),
  // from these aspect-ratio sets; and the config's own as the first, "current".
  virtual api::AnchorSuggestion current() const = 0;
  virtual std::vector<api::AnchorSuggestion> search_space(const std::vector<std::vector<double>>& ratio_sets,
                                                          int max_per_location) const = 0;
};

class Detector {
 public:
  virtual ~Detector() = default;
  // "seed" or "torchvision": what the log and the trace say runs.
  virtual const char* family() const = 0;
  virtual const DetectorConfig& config() const = 0;

  // --- configure ---
  virtual ConfigChange change_for(const DetectorConfig& next) const = 0;
  virtual void configure(const DetectorConfig& next) = 0;  // after Keep
  virtual void to(const torch::Device& device) = 0;        // weights kept
  // The dataset's class names (GT labels index them).
  virtual void set_dataset_names(const std::vector<std::string>& names) = 0;
  // The names the trace shows for the model's labels.
  virtual std::vector<std::string> class_names() const = 0;

  // --- the inference stages, in pipeline order ---
  // Image -> model input: fills the trace's image fields (sizes, scales,
  // input_rgb, input_note). Returns the input in [0, 1] (1, 3, h, w) in input
  // coordinates, what the RoI crops are cut from.
  virtual torch::Tensor prepare(const api::Image& image, api::PipelineTrace& t) = 0;
  // One GT object in the input frame of the last prepare().
  virtual MappedGt map_gt(const api::GtObject& object) const = 0;
  virtual RpnOutputs backbone() = 0;  // backbone, FPN, RPN head
  virtual AnchorSet anchors() = 0;
  virtual modeling::Matcher rpn_matcher() const = 0;
  virtual SamplerRule rpn_sampler() const = 0;
  // The RPN sampler's draw on matcher labels (fg, bg anchor indices).
  virtual std::pair<torch::Tensor, torch::Tensor> sample_anchors(const torch::Tensor& labels,
                                                                 torch::Generator& gen) const = 0;
  // Decode, top-k, NMS: fills t.proposals and t.kept (each candidate's fate).
  virtual void propose(api::PipelineTrace& t) = 0;
  virtual RoiOutputs roi_head() = 0;
  virtual RoiPooling pooling(int level) const = 0;
  // Post-processing: fills t.detections and the head's deltas and boxes.
  virtual void predict(api::PipelineTrace& t) = 0;
  virtual FeatureLevels features() const = 0;
  // Runs the network again with autograd on (the inference shortcuts are off then) and differentiates the
  // target; the trace's stages are untouched.
  virtual Gradients gradients(const GradientTarget& target) = 0;
  // Detections of masked copies of the last prepare()'s input: each mask m (N, 1, h, w) in [0, 1] blends the
  // image (in [0, 1], before normalisation) with black, x m (mean_fill: with the image's mean colour,
  // x m + mean (1 - m)); per mask, its detections with their RoIs' class probabilities.
  virtual std::vector<std::vector<MaskedDetection>> detect_masked(const torch::Tensor& masks, bool mean_fill) = 0;

  // --- training ---
  // The training step on the current image (its GT rows `gt` (M, 5) in input
  // coordinates, as map_gt made them): the RPN sampler draws first from
  // `gen` (the Sampling stage's draw), then the RoI sampler. Every sample
  // and per-sample loss term is kept.
  virtual modeling::TrainStep train_step(const torch::Tensor& gt, torch::Generator& gen) = 0;
  // The settings the training-step view shows (TrainView without samples).
  virtual api::TrainView train_settings() const = 0;
  // The four losses of a batch ({"rpn_obj", "rpn_box", "roi_cls",
  // "roi_box"}, box weights included), with autograd history. The samplers
  // draw from `gen`. `normalizer` (data-parallel ranks, see
  // modeling::SampleNormalizer): what each loss's sum over its samples is
  // divided by; empty: this batch's own sample counts.
  virtual std::map<std::string, torch::Tensor> batch_losses(const LossBatch& batch,
                                                            std::optional<torch::Generator> gen,
                                                            const modeling::SampleNormalizer& normalizer = {}) = 0;

  // --- what engine::Trainer needs besides the losses ---
  // The network: its parameters (those requiring grad are the optimizer's) and buffers.
  virtual torch::nn::Module& module() = 0;
  // The start of a training run: the weights of `init` when given (a file of
  // the family's own format to fine-tune; a head of another class count
  // starts fresh), then which parameters train (torchvision's
  // trainable_backbone_layers). `say` reports what was done.
  virtual void start_training(const std::string& init, const std::function<void(const std::string&)>& say) = 0;
  // Train or eval mode; freeze_norm (solver.freeze_bn): BatchNorm layers
  // stay in eval mode (running statistics used, not updated).
  virtual void set_training(bool on, bool freeze_norm) = 0;
  // Every tensor of the weights a checkpoint holds, by name.
  virtual std::vector<NamedTensor> checkpoint_tensors() = 0;
  // The weights also written as the family's own tools read them, beside
  // the checkpoint `checkpoint` (torchvision: <stem>.pth, a torch.save
  // state dict); returns the file written, or "" (none: the seed's tools
  // read the checkpoint itself).
  virtual std::string export_weights(const std::string& checkpoint) = 0;
  // Detections of images in their own frames (original pixels, the
  // dataset's labels), in eval mode: what the trainer's validation scores.
  virtual std::vector<std::vector<api::Detection>> detect(const std::vector<api::Image>& images) = 0;
};

}  // namespace rcnn::pipeline
