#pragma once
// Detection datasets in memory: image records with their boxes. Plain C++;
// readers in voc.cpp, coco.cpp, image_folder.cpp.
//
// Coordinates: 0-based continuous pixels, (x1, y1, x2, y2) with x2 > x1;
// pixel column i covers [i, i + 1). PASCAL VOC's 1-based inclusive pixel
// corners (xmin..xmax) map to (xmin - 1, ymin - 1, xmax, ymax), as
// Detectron2 does; COCO's [x, y, w, h] maps to (x, y, x + w, y + h).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rcnn::data {

// A bad file or annotation. what() names the file and the problem.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Annotation {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int label = 0;           // 0-based index into Dataset::class_names
  bool difficult = false;  // VOC: ignored by the evaluator
  bool truncated = false;
  bool crowd = false;  // COCO iscrowd: an ignore region, not a target
  // COCO's `area` (the segmentation's area on real COCO; what pycocotools' area ranges use), or < 0 where
  // the annotation has none (the box's area stands in, as pycocotools' loadRes fills it).
  float area = -1;
  // The object's 0-based position in its annotation file (VOC: among the
  // <object>s; COCO: among the image's annotations, in file order), counting
  // objects the reader skipped; -1 where unknown.
  int source_index = -1;
};

struct ImageRecord {
  std::string path;           // absolute or relative to the working directory
  std::string id;             // file stem / COCO id
  int width = 0, height = 0;  // 0 when unknown (image folder before decoding)
  std::vector<Annotation> objects;
};

enum class Format { VOC, COCO, Folder };

struct LoadOptions {
  std::string split = "train";           // VOC ImageSets/Main/<split>.txt; ignored for COCO/folder
  bool strict = false;                   // strict: first problem throws; lenient: skip and count
  std::vector<std::string> class_names;  // fixed class list (else labels.txt or discovered)
};

struct Dataset {
  Format format = Format::Folder;
  std::string root;
  std::string split;
  std::vector<std::string> class_names;
  std::vector<ImageRecord> images;
  // Lenient mode: one line per skipped/repaired item ("file: problem"), the
  // first kMaxIssueLines of them; the rest are counted in issues_not_listed
  // (a file with a million bad boxes must not hold a million messages).
  static constexpr size_t kMaxIssueLines = 1000;
  std::vector<std::string> issues;
  size_t issues_not_listed = 0;
  int skipped_images = 0, skipped_objects = 0, clipped_objects = 0;

  void report(std::string line) {
    if (issues.size() < kMaxIssueLines)
      issues.push_back(std::move(line));
    else
      ++issues_not_listed;
  }
  size_t problem_count() const { return issues.size() + issues_not_listed; }

  size_t size() const { return images.size(); }
  size_t num_objects() const;
};

// Checks a box against its image: x2 <= x1 / y2 <= y1 / non-finite is
// invalid; a box reaching more than 1 px outside is clipped (lenient) or an
// error (strict); a box wholly outside is invalid. Returns false to drop it.
bool validate_box(Annotation& a, int width, int height, const std::string& where, const LoadOptions& opt, Dataset& ds);

// A whole annotation field as a number: surrounding blanks allowed, nothing
// else ("five", "12px", "" and "nan" are not numbers), finite, within
// [lo, hi]. On failure returns false and says why in *why ("\"five\" is not a
// number").
bool parse_number(const std::string& text, double lo, double hi, double* out, std::string* why);

// Detects the format: a directory with Annotations/ -> VOC; a .json file
// (or a directory with annotations/instances_<split>.json) -> COCO; any
// other directory -> folder of images. Throws DataError for an empty result.
Dataset open_dataset(const std::string& path, const LoadOptions& opt = {});

// The embedded default dataset (datasets/fashion-mini), $RCNN_DATASETS override.
std::string default_dataset_dir();

// Readers.
Dataset read_voc(const std::string& root, const LoadOptions& opt);
Dataset read_coco(const std::string& json_path, const std::string& image_dir, const LoadOptions& opt);
Dataset read_image_folder(const std::string& dir, const LoadOptions& opt);

}  // namespace rcnn::data
