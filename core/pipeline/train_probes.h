#pragma once
// Internal to core (torch allowed): the probe images of a training run,
// captured at every evaluation with the weights being trained
// (api/timeline.h has the layout on disk and the reader).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/dataset.h"
#include "config/detector_config.h"
#include "pipeline/detector.h"

namespace rcnn::api {

class Session;

class ProbeRecorder {
 public:
  // The first `count` images of `val` (its order), written under run_dir/probes/ (a new run starts it afresh,
  // a resumed one goes on with it).
  ProbeRecorder(const DetectorConfig& cfg, const DatasetInfo& val, int count, std::string run_dir, bool resume);
  ~ProbeRecorder();
  // Captures every probe image with `trained`'s current weights (copied into a session of its own on the
  // CPU) and appends their lines to probes/index.jsonl. Throws std::runtime_error naming the file.
  void record(pipeline::Detector& trained, int64_t iter);
  // Iterations already recorded (a resumed run does not record them twice).
  bool recorded(int64_t iter) const;
  double seconds() const { return seconds_; }  // time spent recording so far

 private:
  std::unique_ptr<Session> session_;
  std::vector<ImageEntry> images_;
  std::vector<std::string> class_names_;
  std::string run_dir_;
  std::vector<int64_t> done_;
  double seconds_ = 0;
  uintmax_t round_bytes_ = 0;  // what the last round wrote
};

}  // namespace rcnn::api
