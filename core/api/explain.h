#pragma once
// Explain a box (issue #31, docs/explain.md): which pixels and features made
// a detection, a proposal or an anchor score, or would have had to for a
// missed GT. Plain C++ types; the gradients come from the detector contract
// (pipeline::Detector::gradients) on the Session's current image
// (api/session.h: Session::explain).
//
// Targets, on the Session's last trace:
//   det:K       the K-th detection of the trace (the order `rcnn detect`
//               lists): its RoI's score of its class, before NMS (the class
//               logit, as Grad-CAM differentiates y^c, or the softmax
//               probability); with `delta`, one of the RoI's box deltas for
//               that class instead (dx, dy, dw, dh, as the head predicts them);
//   gt:K        the K-th GT: the same of its own class at the kept RoI that
//               covers it best (highest IoU), what it "would have needed to see";
//   roi:K       the K-th kept RoI (PipelineTrace::kept order, the RoIAlign
//               stage's): its most probable class (not the background);
//   proposal:K  the K-th proposal of the trace (PipelineTrace::proposals, any
//               fate): the RPN's objectness logit (or sigmoid) of its anchor;
//   anchor:K    the K-th anchor (global index): its objectness.
// Methods:
//   gradcam    Grad-CAM on one FPN level, or on the backbone level of the
//              same stride it is built from (`backbone`): w_c = mean over the
//              level of d score / d A_c, map = ReLU(sum_c w_c A_c);
//   hirescam   HiResCAM (Draelos & Carin, 2020), Grad-CAM with the gradient
//              kept per cell: map = ReLU(sum_c dv/dA_c * A_c). For a detector
//              this is the instance's own map (ODAM, Zhao et al., ICLR 2023):
//              Grad-CAM's level-wide mean weights the channels the RoI used
//              wherever they fire, border cells and other objects included;
//   inputgrad  input x gradient: |sum over RGB of x * d score / d x| on the
//              normalised input;
//   drise      D-RISE, black box: the mean of the masks, each weighted by the
//              best similarity of a detection of the masked image to the
//              target, IoU(box) x cos(class probabilities), less the mean
//              weight (ExplainRequest::baseline). Two-stage models
//              have no objectness, so that factor is 1. The target's vector
//              is its RoI's softmax (det) or the GT's class, one-hot (gt).
// Both maps are resampled to the original image's pixels: pixel (X, Y)'s
// centre goes to the input frame by the trace's scale and pad, and the map
// is read there bilinearly (a level's cell v sits at input (v + offset) * step).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/types.h"

namespace rcnn::api {

struct ExplainRequest {
  std::string target = "det";  // "det" | "gt" | "roi" | "proposal" | "anchor"
  int index = 0;
  std::string delta;  // det / gt / roi: "" (the class score) or "dx" | "dy" | "dw" | "dh"
  // "hirescam" | "gradcam" | "inputgrad" | "drise" (rcnn_bench --explain: HiResCAM points at the object on the
  // bundled model, Grad-CAM's level-wide weights do not; docs/explain.md)
  std::string method = "hirescam";
  // gradcam / hirescam: FPN level index (0 = the finest, PipelineTrace::levels' order); -1: the RoI's own pooling level
  // (proposal / anchor: the anchor's level).
  int level = -1;
  bool backbone = false;  // gradcam / hirescam: the backbone's output of that level's stride (c3 under p3) instead
  // The scalar differentiated: "logit" (Grad-CAM's y^c, before the softmax: a confident RoI's probability
  // saturates and its gradient vanishes) or "prob" (the probability itself).
  std::string score = "logit";
  // drise (Petsiuk et al., CVPR 2021): `masks` random masks, each an s x s grid (s = grid) of cells kept with
  // probability `prob`, upsampled bilinearly and shifted by a random fraction of a cell; deterministic for
  // `seed`; run `batch` masked images at a time. progress(done, total) after each batch; false cancels.
  int masks = 1000, grid = 16, batch = 16;
  double prob = 0.5;
  uint64_t seed = 0;
  // What a mask's 0 shows: "mean" (the image's mean colour) or "black" (the paper's product). On the bundled
  // model black patches make objects of their own and the target is lost under almost every mask.
  std::string fill = "mean";
  // "mean": each mask's weight less the mean weight, sum_i (w_i - mean w) M_i / N (a control variate: the
  // same map in expectation, without the masks' own pattern, which at 1000 masks is most of the paper's
  // sum; negative where keeping a pixel lowers the similarity); "none": the paper's sum_i w_i M_i / N.
  std::string baseline = "mean";
  std::function<bool(int done, int total)> progress;
};

struct ExplainResult {
  std::string target_kind;  // "det" | "gt" | "roi" | "proposal" | "anchor"
  int index = 0;
  int label = -1;           // the class explained (-1: objectness)
  std::string class_name;   // its name ("object" for proposal / anchor)
  std::string delta;        // the box delta explained, if one
  double score = 0;         // the RoI's probability of the class (proposal / anchor: sigmoid objectness)
  std::string score_space;  // what was differentiated: "logit" | "prob" | "delta" | "drise"
  double value = 0;         // its value
  Box box;                  // the target's box, original pixels (det: the detection; gt: the GT)
  Box roi;                  // the RoI (proposal / anchor: the anchor) whose score it is, original pixels
  std::string method;
  int level = -1;             // gradcam: the level used
  std::string level_name;     // gradcam: "p4" (FPN) or "c4" (backbone)
  int width = 0, height = 0;  // original image
  std::vector<float> map;     // height * width, row-major; >= 0 but D-RISE's centred map (baseline "mean")
};

// Grad-CAM of one level: activations and gradients (C, H, W) row-major ->
// ReLU(sum_c mean(G_c) A_c), H * W; elementwise (HiResCAM): ReLU(sum_c G_c * A_c). Exposed for tests.
std::vector<float> gradcam_map(const std::vector<float>& activations, const std::vector<float>& gradients, int channels,
                               int height, int width, bool elementwise = false);

// Input x gradient: the input and its gradient (C, H, W) row-major -> |sum_c X_c * G_c|, H * W.
std::vector<float> inputgrad_map(const std::vector<float>& input, const std::vector<float>& gradients, int channels,
                                 int height, int width);

// D-RISE's similarity of a detection to the target: IoU(boxes) x cosine(probability vectors).
double drise_similarity(const Box& target_box, const std::vector<float>& target_probs, const Box& box,
                        const std::vector<float>& probs);

// The deletion metric (Petsiuk et al., RISE, 2018; D-RISE's detector form):
// the original pixels are removed most salient first (ties in a seeded random
// order), a removed pixel showing the image's mean colour; after each of
// `steps` equal parts, the score is the best D-RISE similarity of a detection
// of the image to the target (det: its box and RoI softmax; gt: its box and
// class). Returns steps + 1 scores, the first on the whole image. A map that
// explains the target drops the score fastest; deletion_auc is the curve's
// area (trapezoids over the removed fraction 0 .. 1).
double deletion_auc(const std::vector<double>& curve);

// {"target": {"kind", "index", "class", "score", "box"}, "method", "width", "height", "map"} (+ "level", "roi").
std::string explain_to_json(const ExplainResult& r);
// The image with the map (scaled from its minimum to its maximum) blended over it in a colour scale, the
// target's box drawn.
void save_explain_png(const std::string& image_path, const ExplainResult& r, const std::string& png_path);

}  // namespace rcnn::api
