#pragma once
// Explain a box (issue #31, first part): which pixels and features made a
// detection, or would have had to for a missed GT. Plain C++ types; the
// gradients come from the detector contract (pipeline::Detector::roi_gradients)
// on the Session's current image (api/session.h: Session::explain).
//
// Targets, on the Session's last trace:
//   det:K  the K-th detection of the trace (the order `rcnn detect` lists):
//          its RoI's score of its class, before NMS (the class logit, as
//          Grad-CAM differentiates y^c, or the softmax probability);
//   gt:K   the K-th GT: the probability of its own class at the kept RoI that
//          covers it best (highest IoU), what it "would have needed to see".
// Methods:
//   gradcam    Grad-CAM on one FPN level: w_c = mean over the level of
//              d score / d A_c, map = ReLU(sum_c w_c A_c);
//   inputgrad  input x gradient: |sum over RGB of x * d score / d x| on the
//              normalised input.
// Both maps are resampled to the original image's pixels: pixel (X, Y)'s
// centre goes to the input frame by the trace's scale and pad, and the map
// is read there bilinearly (a level's cell v sits at input (v + offset) * step).
#include <cstdint>
#include <string>
#include <vector>

#include "api/types.h"

namespace rcnn::api {

struct ExplainRequest {
  std::string target = "det";  // "det" | "gt"
  int index = 0;
  std::string method = "gradcam";  // "gradcam" | "inputgrad"
  int level = -1;                  // gradcam: FPN level index (0 = the finest); -1: the RoI's own pooling level
  // The scalar differentiated: "logit" (Grad-CAM's y^c, before the softmax: a confident RoI's probability
  // saturates and its gradient vanishes) or "prob" (the probability itself).
  std::string score = "logit";
};

struct ExplainResult {
  std::string target_kind;  // "det" | "gt"
  int index = 0;
  int label = -1;  // the class explained
  std::string class_name;
  double score = 0;         // the RoI's probability of the class (what ranks the detection)
  std::string score_space;  // what was differentiated: "logit" | "prob"
  double value = 0;         // its value
  Box box;                  // the target's box, original pixels (det: the detection; gt: the GT)
  Box roi;                  // the RoI whose score it is, original pixels
  std::string method;
  int level = -1;             // gradcam: the level used
  int width = 0, height = 0;  // original image
  std::vector<float> map;     // height * width, row-major, >= 0
};

// Grad-CAM of one level: activations and gradients (C, H, W) row-major ->
// ReLU(sum_c mean(G_c) A_c), H * W. Exposed for tests.
std::vector<float> gradcam_map(const std::vector<float>& activations, const std::vector<float>& gradients, int channels,
                               int height, int width);

// {"target": {"kind", "index", "class", "score", "box"}, "method", "width", "height", "map"} (+ "level", "roi").
std::string explain_to_json(const ExplainResult& r);
// The image with the map (scaled to its maximum) blended over it in a colour scale, the target's box drawn.
void save_explain_png(const std::string& image_path, const ExplainResult& r, const std::string& png_path);

}  // namespace rcnn::api
