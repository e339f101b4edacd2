#pragma once
// Captures: what the studio shows of one image, in one file (.rcnncap) that
// opens later, elsewhere, with no model. The file is a zip of .npy arrays
// named <stage>/<field>.npy and one JSON member, capture.json:
//   {"format": "rcnncap", "version", "image", "model", "config", "trace", "view"}
// which numpy.load opens as an .npz. docs/capture-format.md lists every member.
// No torch here.
#include <cstdint>
#include <string>
#include <vector>

#include "api/trace.h"
#include "api/types.h"

namespace rcnn::api {

constexpr int kCaptureVersion = 1;

// Which model made the trace.
struct ModelIdentity {
  std::string family;        // "seed" | "torchvision"
  std::string preset;        // the torchvision preset ("" for the seed family)
  std::string checkpoint;    // the checkpoint's file name ("" with random weights)
  std::string weights_hash;  // FNV-1a 64 of every parameter and buffer, in name order (hex)
  bool random_weights = true;
  uint64_t weight_seed = 0;
};

// One FPN level as the RoI head pooled it: what a capture of the seed family stores instead of the pooled
// features when it is smaller (read_capture pools them again, bit for bit, with the same RoIAlign).
struct CaptureLevel {
  int channels = 0, height = 0, width = 0;
  std::vector<float> data;  // C * H * W
  double spatial_scale = 1;
  int output_size = 7, sampling_ratio = 2;
  bool aligned = true;
};

struct Capture {
  int version = kCaptureVersion;
  Image image;               // the original image
  std::string image_name;    // its file name (or "")
  std::vector<GtObject> gt;  // as given, original-image coordinates (crowd regions included)
  ModelIdentity model;
  std::string config_json;  // the resolved config (config_to_json_string)
  PipelineTrace trace;
  std::string view_json = "{}";       // the studio's view: {"stage", "selection", "zoom", ...}
  std::vector<std::string> warnings;  // load_capture: what it did not understand (a newer writer's fields)
  // Non-empty: trace.roi_features is not stored but pooled again from these levels when read.
  std::vector<CaptureLevel> levels;
};

// Throws std::runtime_error naming the file; an existing file is replaced only by a complete capture.
void save_capture(const std::string& path, const Capture& c);
// Throws std::runtime_error naming the file and, for a damaged capture, the member and what is wrong with it
// (also when the trace's arrays do not agree with each other). Unknown members and keys and a newer version
// open with a warning in Capture::warnings.
Capture load_capture(const std::string& path);
Capture read_capture(std::string bytes, const std::string& origin);
// read_capture without pooling the features again (plain C++: what the fuzzer reads); trace.roi_features is
// then empty when the capture stores levels.
Capture read_capture_raw(std::string bytes, const std::string& origin);
// trace.roi_features from c.levels (api/capture_pool.cpp). Throws std::runtime_error when they do not fit.
void pool_capture_features(Capture& c);
std::string capture_bytes(const Capture& c);  // what save_capture writes (tests, the fuzzer's seeds)

// The checks load_capture makes of a trace: every index in range and every per-anchor, per-proposal and
// per-RoI array of the length its count says. Throws std::runtime_error saying which.
void validate_trace(const PipelineTrace& t);

}  // namespace rcnn::api
