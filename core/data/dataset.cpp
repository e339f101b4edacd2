#include "data/dataset.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#ifndef RCNN_DATASET_DIR
#define RCNN_DATASET_DIR "datasets"
#endif

namespace fs = std::filesystem;

namespace rcnn::data {

size_t Dataset::num_objects() const {
  size_t n = 0;
  for (const auto& r : images) n += r.objects.size();
  return n;
}

static std::string fmt_box(const Annotation& a) {
  std::ostringstream os;
  os << "(" << a.x1 << ", " << a.y1 << ", " << a.x2 << ", " << a.y2 << ")";
  return os.str();
}

bool parse_number(const std::string& text, double lo, double hi, double* out, std::string* why) {
  const auto b = text.find_first_not_of(" \t\r\n"), e = text.find_last_not_of(" \t\r\n");
  const std::string t = b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
  auto quoted = "\"" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "\"";
  char* end = nullptr;
  errno = 0;
  const double v = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size()) {
    *why = quoted + " is not a number";
    return false;
  }
  if (!std::isfinite(v) || errno == ERANGE) {
    *why = quoted + " is not a finite number";
    return false;
  }
  if (v < lo || v > hi) {
    std::ostringstream os;
    os << quoted << " is outside [" << lo << ", " << hi << "]";
    *why = os.str();
    return false;
  }
  *out = v;
  return true;
}

bool validate_box(Annotation& a, int width, int height, const std::string& where, const LoadOptions& opt, Dataset& ds) {
  auto fail = [&](const std::string& why) {
    const std::string msg = where + ": box " + fmt_box(a) + " " + why;
    if (opt.strict) throw DataError(msg);
    ds.report(msg + " (object skipped)");
    ds.skipped_objects++;
    return false;
  };
  if (!std::isfinite(a.x1) || !std::isfinite(a.y1) || !std::isfinite(a.x2) || !std::isfinite(a.y2))
    return fail("has a non-finite coordinate");
  if (a.x2 <= a.x1) return fail("has x2 <= x1");
  if (a.y2 <= a.y1) return fail("has y2 <= y1");
  if (width > 0 && height > 0) {
    if (a.x2 <= 0 || a.y2 <= 0 || a.x1 >= width || a.y1 >= height)
      return fail("lies outside the " + std::to_string(width) + "x" + std::to_string(height) + " image");
    const float tol = 1.0f;  // annotation tools often overshoot by one pixel
    if (a.x1 < -tol || a.y1 < -tol || a.x2 > width + tol || a.y2 > height + tol) {
      const std::string msg = where + ": box " + fmt_box(a) + " extends outside the " + std::to_string(width) + "x" +
                              std::to_string(height) + " image";
      if (opt.strict) throw DataError(msg);
      ds.report(msg + " (clipped)");
      ds.clipped_objects++;
    }
    a.x1 = std::max(a.x1, 0.0f);
    a.y1 = std::max(a.y1, 0.0f);
    a.x2 = std::min(a.x2, float(width));
    a.y2 = std::min(a.y2, float(height));
    if (a.x2 - a.x1 < 1e-3f || a.y2 - a.y1 < 1e-3f) return fail("is empty after clipping to the image");
  }
  return true;
}

std::string default_dataset_dir() {
  if (const char* env = std::getenv("RCNN_DATASETS"); env && fs::is_directory(env))
    return (fs::path(env) / "fashion-mini").string();
  if (fs::is_directory(fs::path(RCNN_DATASET_DIR) / "fashion-mini"))
    return (fs::path(RCNN_DATASET_DIR) / "fashion-mini").string();
  return "datasets/fashion-mini";
}

Dataset open_dataset(const std::string& path, const LoadOptions& opt) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": no such file or directory");
  Dataset ds;
  if (fs::is_regular_file(path) && fs::path(path).extension() == ".json") {
    ds = read_coco(path, "", opt);
  } else if (fs::is_directory(path) && fs::is_directory(fs::path(path) / "Annotations")) {
    ds = read_voc(path, opt);
  } else if (fs::is_directory(path) &&
             fs::is_regular_file(fs::path(path) / "annotations" / ("instances_" + opt.split + ".json"))) {
    ds = read_coco((fs::path(path) / "annotations" / ("instances_" + opt.split + ".json")).string(), "", opt);
  } else if (fs::is_directory(path)) {
    ds = read_image_folder(path, opt);
  } else {
    throw DataError(path + ": not a dataset (expected a VOC directory, a COCO .json file or a folder of images)");
  }
  if (ds.images.empty())
    throw DataError(path + ": dataset split '" + opt.split + "' is empty" +
                    (ds.issues.empty()
                         ? std::string()
                         : " (" + std::to_string(ds.problem_count()) + " problems, first: " + ds.issues.front() + ")"));
  return ds;
}

}  // namespace rcnn::data
