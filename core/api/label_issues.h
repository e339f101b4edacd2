#pragma once
// The label doctor: the dataset's own mistakes, found from a model's
// predictions and the annotations (plain C++, no torch). The studio's Label
// issues panel, `rcnn label-issues` and the benchmark all use it.
//
// Kinds, each decided per image from boxes in original pixels:
//   missing    a confident prediction that no GT of any class overlaps
//              (IoU < missing_max_iou with every GT): a box to add;
//   swapped    a GT that a confident prediction of another class covers
//              (IoU >= swap_iou), surer than any of its own class there: a
//              class to change;
//   badloc     a GT whose best confident same-class prediction overlaps it
//              only partly (badloc_min_iou <= IoU < badloc_max_iou) and
//              overlaps no other GT better: a box to move;
//   spurious   a GT that no prediction of any class overlaps (IoU >=
//              spurious_near_iou), of a class the model finds well elsewhere
//              in the set: a GT to remove;
//   duplicate  two GTs on one object (IoU >= duplicate_iou): the one less
//              supported by the predictions to remove.
// Scores are in [0, 1], higher = more likely a label error (label_issues.cpp
// has each formula); an image's score is 1 - prod(1 - s) over its issues.
// Difficult GTs and crowd regions are never reported and only absorb
// predictions (a prediction on one is not "missing").
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace rcnn::api {

enum class LabelIssueKind : int { Missing, Swapped, BadLoc, Spurious, Duplicate };
constexpr int kNumLabelIssueKinds = 5;
const char* label_issue_kind_name(LabelIssueKind k);  // "missing", "swapped", "badloc", "spurious", "duplicate"
std::optional<LabelIssueKind> parse_label_issue_kind(const std::string& s);

// Every threshold of the finder. The defaults were chosen on the benchmark's seed-1 set and checked on
// seed 2 (docs/label_doctor.md).
struct LabelIssueOptions {
  float min_score = 0.05f;         // predictions below this are not looked at
  float confident = 0.25f;         // a prediction this sure can propose a fix
  float missing_max_iou = 0.2f;    // missing: IoU below this with every GT
  float swap_iou = 0.5f;           // swapped: the other class's box covers the GT
  float badloc_min_iou = 0.1f;     // badloc: the same-class box overlaps at least this ...
  float badloc_max_iou = 0.6f;     // ... and less than this
  float spurious_near_iou = 0.1f;  // spurious: no confident prediction at least this close
  float duplicate_iou = 0.7f;      // duplicate: two GTs this close
  float class_recall_iou = 0.5f;   // "finds the class well": a confident same-class box at this IoU
  // swapped: a class pair (labelled a, predicted b) the model proposes on a share q of a's GTs is likelier
  // its own confusion than a label error: the score is divided by 1 + q / swap_pair_prior (0: off).
  float swap_pair_prior = 0.05f;
};

// One image: its GTs (original pixels, in annotation-file order) and a
// model's predictions on it (box_original, label, score).
struct LabeledImage {
  std::string id;    // file stem
  std::string path;  // image file
  int width = 0, height = 0;
  std::vector<GtObject> gt;
  std::vector<Detection> predictions;
};

struct LabelIssue {
  int image = 0;  // index into the finder's input
  LabelIssueKind kind = LabelIssueKind::Missing;
  float score = 0;
  int gt_index = -1;                 // the object's 0-based position in its annotation file; -1 for missing
  int label = -1;                    // the GT's class (missing: the predicted class)
  std::optional<Box> box;            // the GT's box (missing: none)
  int suggested_label = -1;          // swapped: the class to give; missing: the class of the box to add
  std::optional<Box> suggested_box;  // missing: the box to add; badloc: where to move it
  int prediction = -1;               // the prediction behind the fix (-1: none)
  int other_gt = -1;                 // duplicate: the GT it duplicates (file position)
  float iou = 0;                     // the deciding overlap
  std::string why;                   // one sentence from the facts above
};

struct LabelIssueReport {
  std::vector<LabelIssue> issues;   // every kind, score-descending (ties: image, then gt_index)
  std::vector<float> image_scores;  // per input image
  std::vector<float> class_recall;  // per class: the share of its GTs found by a confident same-class box
};

LabelIssueReport find_label_issues(const std::vector<LabeledImage>& images, const std::vector<std::string>& class_names,
                                   const LabelIssueOptions& opt = {});

// Each image's score from its issues: 1 - prod(1 - s).
std::vector<float> label_image_scores(const std::vector<LabelIssue>& issues, size_t num_images);

// The `rcnn label-issues --json` document:
// {"issues": [{"image", "kind", "score", "gt_index", "class", "box", "suggested_class", "suggested_box"}],
//  "images": [{"image", "score"}]} with class names, boxes [x1, y1, x2, y2] in original pixels, null where
// not applicable (plus "why", "iou", "prediction", "other_gt" and a top-level "classes").
std::string label_issues_to_json(const LabelIssueReport& r, const std::vector<LabeledImage>& images,
                                 const std::vector<std::string>& class_names);
// Reads that document back for these images (matched by id) and classes; throws naming the file and the entry.
LabelIssueReport read_label_issues_json(const std::string& path, const std::vector<LabeledImage>& images,
                                        const std::vector<std::string>& class_names);

}  // namespace rcnn::api
