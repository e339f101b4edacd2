#pragma once
// "Export corrected": the label doctor's accepted fixes applied to a copy of
// the dataset (plain C++). The original annotation files are never written.
#include <string>
#include <vector>

#include "api/dataset.h"
#include "api/label_issues.h"

namespace rcnn::api {

enum class LabelDecisionState : int { Undecided, Accepted, Rejected };

struct LabelDecision {
  std::string image;  // image id (file stem)
  LabelIssue issue;   // issue.gt_index, label, box, suggested_* as found
  LabelDecisionState state = LabelDecisionState::Undecided;
};

struct ExportCorrectedResult {
  std::string out;                                        // what was written: a VOC folder or a COCO .json
  std::string decisions_json;                             // the decisions file written beside it
  int added = 0, removed = 0, relabelled = 0, moved = 0;  // accepted fixes applied
  std::vector<std::string> notes;  // fixes that could not be applied, and why (e.g. two fixes on one object)
};

// Applies the accepted decisions to the dataset `ds` (opened from ds.root):
//  - VOC (ds.format "voc"): `out` is a new directory with JPEGImages/ (copied), ImageSets/, labels.txt and
//    Annotations/ where each decided image's XML has its objects removed, relabelled, moved or added (other
//    elements kept as they were); undecided images' XML copied byte for byte;
//  - COCO ("coco"): `out` is a new .json: the original document with the annotations removed, recategorised,
//    moved (bbox and area) or added (new ids above the largest).
// missing: add suggested_box with suggested_label; swapped: relabel to suggested_label; badloc: move to
// suggested_box; spurious and duplicate: remove. Boxes are in continuous 0-based pixels (VOC written as
// xmin = x1 + 1, ymin = y1 + 1, xmax = x2, ymax = y2, rounded to whole pixels).
// Also writes `<out>.decisions.json` (VOC: <out>/decisions.json): every decision with its issue and state.
// Throws std::runtime_error naming the file when `out` exists and is not empty, is inside the dataset, or a
// file cannot be read or written.
ExportCorrectedResult export_corrected(const DatasetInfo& ds, const std::vector<LabelDecision>& decisions,
                                       const std::string& out);

}  // namespace rcnn::api
