#pragma once
// The label doctor's two peers, written in our own code from their own
// rules, for the benchmark (bench/label_doctor.cpp) to run on the same
// predictions:
//  - FiftyOne Brain's compute_mistakenness (fiftyone/brain/internal/core/
//    mistakenness.py, detection branch, use_logits=False): class-agnostic
//    greedy matching at IoU 0.5 in confidence order; per matched GT
//    mistakenness (1 + c)/2 (labels differ) or (1 - c)/2 and mistakenness_loc
//    (c (2 i - 1) + 1)/2 with i = 2 (1 - IoU); possible_spurious = an
//    unmatched GT; possible_missing = an unmatched prediction with c > 0.95;
//    the image's mistakenness the max over its matched GTs (-1: none).
//  - cleanlab's ObjectLab (cleanlab/object_detection/rank.py): similarity
//    0.9 IoU + 0.1 exp(-0.1 d_centres); overlooked (per prediction, p >= 0.95
//    and no overlap with any label), badloc and swap (per label) sub-scores,
//    each pooled by a softmin at temperature 0.1, the image score their
//    geometric mean; lower = likelier a label error.
#include <vector>

#include "api/label_issues.h"

namespace rcnn::bench {

struct FiftyOneScores {
  std::vector<std::vector<float>> mistakenness, mistakenness_loc;  // per image, per GT (NaN: unmatched)
  std::vector<std::vector<char>> possible_spurious;                // per GT
  std::vector<std::vector<char>> possible_missing;                 // per prediction
  std::vector<float> image_mistakenness;                           // -1: no GT matched
  std::vector<int> image_flags;                                    // possible_missing + possible_spurious counts
};
FiftyOneScores fiftyone_mistakenness(const std::vector<api::LabeledImage>& images);

struct ObjectLabScores {
  std::vector<std::vector<float>> overlooked;    // per image, per prediction (NaN: not applicable)
  std::vector<std::vector<float>> badloc, swap;  // per image, per GT
  std::vector<float> image_score;                // lower = likelier mislabelled
  double min_sim = 1;
};
ObjectLabScores objectlab_scores(const std::vector<api::LabeledImage>& images);

}  // namespace rcnn::bench
