#pragma once
// TIDE's error analysis (Bolya et al., ECCV 2020), computed its way: the rules
// of tidecv's quantify.py, errors/ and ap.py, in plain C++ (no torch), so that
// the figures compare with the ones TIDE prints for the same detections.
//
// Per image (TIDEExample):
// - detections sorted by score (stable), cut to max_dets per image;
// - ignore regions (COCO crowd boxes, VOC difficult objects) are kept apart
//   from the GTs; a detection matches the best still-free GT of its class
//   with IoU >= pos_thresh (COCO's greedy rule), else it is ignored when a
//   region of its class covers it with crowd IoU (intersection / detection
//   area) > pos_thresh;
// - every detection that is not a true positive (ignored ones included) is
//   typed in this order: no GT in the image -> background; localisation
//   (same-class IoU in [bg, pos], used or not); classification (another
//   class, IoU >= pos); duplicate (a used same-class GT, IoU >= pos);
//   background (IoU <= bg with every GT); otherwise both;
// - a GT left unmatched is a false negative, and a Miss only when no
//   classification or localisation error aims at it (TIDE's "usable").
// Fixes (dAP): classification and localisation errors become true positives
// only for the highest-scoring error aimed at a still-free GT (one fix per GT,
// shared by both types); duplicates, background and both are removed; a Miss
// removes its GT from the count. Each type is fixed alone and dAP is clamped
// at 0. Special errors: false positives (every true positive scored 1, every
// false positive 0) and false negatives (every unmatched GT removed).
// AP: per class, 101-point interpolation of the smoothed PR curve, in points
// (0-100); mAP over the classes with a GT or a detection.
#include <array>
#include <cstdint>
#include <vector>

namespace rcnn::analysis::tide {

struct GtBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int label = 0;
  bool ignore = false;  // an ignore region (crowd, difficult), not a GT
};

struct DetBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int label = 0;
  double score = 0;
};

// The main error types in TIDE's order of report (quantify.py's _error_types).
enum class Error : int8_t { None = -1, Cls = 0, Loc, Both, Dupe, Bkg, Miss };
constexpr int kNumErrors = 6;
const char* error_key(Error e);  // "cls", "loc", "both", "dupe", "bkg", "miss"

struct Options {
  double pos_thresh = 0.5;  // tidecv's pos_threshold
  double bg_thresh = 0.1;   // tidecv's background_threshold
  int max_dets = 100;       // tidecv's Data(max_dets)
};

struct DetVerdict {
  bool evaluated = false;  // within the image's max_dets
  bool true_positive = false;
  bool ignored = false;  // on an ignore region: not in the AP, still typed
  Error error = Error::None;
  int gt = -1;  // the GT it matched, or its error's GT (Cls, Loc; index into the image's list)
};

struct GtVerdict {
  bool matched = false;
  bool usable = false;  // a classification or localisation error aims at it while it is free
  bool missed = false;  // TIDE's Miss: unmatched and not usable
};

struct Report {
  double ap50 = 0;                    // mAP at pos_thresh, points
  std::array<double, kNumErrors> dap{};  // main errors, indexed by Error, points, >= 0
  double dap_fp = 0, dap_fn = 0;      // special errors, points
  std::array<int, kNumErrors> count{};   // errors of each type
  std::vector<std::vector<DetVerdict>> detections;  // [image][detection as given]
  std::vector<std::vector<GtVerdict>> gts;          // [image][gt as given]
};

// One entry per image of `gts` (an image without detections still counts; as TIDE walks the GT's images,
// detections of an image past gts.size() are not evaluated).
Report evaluate(const std::vector<std::vector<GtBox>>& gts, const std::vector<std::vector<DetBox>>& detections,
                const Options& o = {});

// pycocotools' bbIou on (x1, y1, x2, y2) boxes in double: 0 when they do not
// overlap; a crowd region's union is the detection's area.
double coco_iou(const DetBox& d, const GtBox& g, bool crowd);

}  // namespace rcnn::analysis::tide
