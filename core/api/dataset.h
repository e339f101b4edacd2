#pragma once
// Datasets, image files and generated datasets as the front ends see them
// (plain C++). The readers live in core/data; this is the only way the CLI
// and the studio reach them.
#include <functional>
#include <string>
#include <vector>

#include "api/types.h"

namespace rcnn::api {

struct ImageEntry {
  std::string path;           // absolute or relative to the working directory
  std::string id;             // file stem / COCO id
  int width = 0, height = 0;  // 0 when unknown (image folder before decoding)
  std::vector<GtObject> objects;  // original-image coordinates
};

struct DatasetInfo {
  std::string format;  // "voc" | "coco" | "folder"
  std::string root, split;
  std::vector<std::string> class_names;
  std::vector<ImageEntry> images;
  std::vector<std::string> issues;  // lenient mode: one line per skipped/repaired item, the first 1000
  size_t problems = 0;              // every skipped/repaired item, listed or not
  int skipped_images = 0, skipped_objects = 0, clipped_objects = 0;
  size_t size() const { return images.size(); }
  size_t num_objects() const;
};

struct OpenOptions {
  std::string split = "train";
  bool strict = false;                   // strict: the first problem throws
  std::vector<std::string> class_names;  // fixed class list (else labels.txt or discovered)
};

// VOC directory, COCO .json (or a directory with annotations/), or a folder
// of images. Throws std::runtime_error naming the file and the problem.
DatasetInfo open_dataset(const std::string& path, const OpenOptions& opt = {});
// The embedded default dataset (datasets/fashion-mini; $RCNN_DATASETS overrides).
std::string default_dataset_dir();
// Image files of a folder, sorted.
std::vector<std::string> list_images(const std::string& dir);

// Decodes an image file to 8-bit RGB (throws naming the file).
Image load_image(const std::string& path);
// Writes `image_path` with the detections drawn (boxes in original coordinates) as a PNG.
void save_annotated_png(const std::string& image_path, const std::vector<Detection>& detections,
                        const std::vector<std::string>& class_names, const std::string& png_path);

// `rcnn make-dataset fashion`: Fashion-MNIST items composited on 224x224 canvases, VOC layout.
struct FashionRequest {
  std::string out;
  int train = 4000, val = 500, test = 500;
  uint64_t seed = 1;
  std::string source_dir = "/usr/share/datasets/fashion-mnist";
  // Non-empty: "missing=R,swap=R,badloc=R,spurious=R[,duplicate=R]": known label errors written into the
  // annotations (drawn from `seed`), each recorded in <out>/corruptions.json (data/corrupt.h has the rules).
  std::string corrupt;
};
struct CorruptionCounts {
  int images = 0, corrupted_images = 0, missing = 0, swap = 0, badloc = 0, spurious = 0, duplicate = 0;
};
CorruptionCounts make_fashion_dataset(const FashionRequest& req,
                                      const std::function<void(int done, int total)>& progress = {});

}  // namespace rcnn::api
