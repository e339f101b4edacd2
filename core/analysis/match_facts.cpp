#include "analysis/match_facts.h"

#include <algorithm>

namespace rcnn::analysis {
using namespace api;

void fill_gt_match_facts(PipelineTrace& T) {
  const int64_t K = int64_t(T.anchors.size()), M = int64_t(T.gt.size());
  const int A = T.levels.empty() ? 0 : T.levels[0].anchors_per_location;
  for (int64_t g = 0; g < M; ++g) {
    auto& info = T.gt[size_t(g)];
    info.positive_anchors = 0;
    info.best_iou = 0;
    info.best_anchor = -1;
    info.best_iou_per_level_shape.assign(T.levels.size() * size_t(A), 0.f);
    for (int64_t k = 0; k < K; ++k) {
      const float v = T.iou_matrix[size_t(k * M + g)];
      if (T.anchor_label[size_t(k)] == AnchorLabel::Positive && T.anchor_gt[size_t(k)] == g) info.positive_anchors++;
      if (v > info.best_iou) info.best_iou = v, info.best_anchor = int(k);
    }
    for (size_t l = 0; l < T.levels.size(); ++l) {
      const auto& L = T.levels[l];
      for (int k = L.offset; k < L.offset + L.count(); ++k) {
        float& b = info.best_iou_per_level_shape[l * size_t(A) + size_t((k - L.offset) % A)];
        b = std::max(b, T.iou_matrix[size_t(int64_t(k) * M + g)]);
      }
    }
  }
}

}  // namespace rcnn::analysis
