#pragma once
// Internal to core (torch allowed): the parts of a trace every detector
// family fills the same way, from what its stages computed
// (pipeline/detector.h). The Session's stage runner calls them in pipeline
// order; a family never does.
#include <torch/torch.h>

#include <vector>

#include "api/trace.h"
#include "modeling/matcher.h"
#include "pipeline/detector.h"

namespace rcnn::api {

// GT rows and ignore regions from each object's mapping (crowd objects are
// ignore regions: not matched, not trained on); returns the (M, 5) rows
// (x1, y1, x2, y2, label) in input coordinates. A note names the objects of
// classes the model does not have.
torch::Tensor fill_gt(PipelineTrace& t, const std::vector<GtObject>& objects,
                      const std::vector<pipeline::MappedGt>& mapped);
// Objectness (sigmoid), deltas and channels.
void fill_rpn_outputs(PipelineTrace& t, const pipeline::RpnOutputs& r);
void fill_anchors(PipelineTrace& t, const pipeline::AnchorSet& a);
// The matcher's rules and every anchor's verdict (match_trace.h).
void fill_matching(PipelineTrace& t, const modeling::Matcher& m, const modeling::MatchResult& r);
void fill_sampling(PipelineTrace& t, const pipeline::SamplerRule& rule, const torch::Tensor& fg,
                   const torch::Tensor& bg, uint64_t seed);
// RoI features, levels and class probabilities; with `display` also each
// RoI's crop of the input and its RoIAlign sampling points.
void fill_roi(PipelineTrace& t, const pipeline::RoiOutputs& r, const pipeline::Detector& det,
              const torch::Tensor& input_raw, bool display);
// RoIAlign's sampling points of kept proposal r in input coordinates (fmap:
// the same in feature-map coordinates); empty when r is out of range.
std::vector<float> roi_sampling_points(const PipelineTrace& t, const pipeline::Detector& det, int r, int* gh,
                                       int* gw, std::vector<float>* fmap = nullptr);

}  // namespace rcnn::api
