#pragma once
// Session: one model + one image -> PipelineTrace. The front ends' only way
// into the detector (no torch types here). Not thread-safe: one job thread
// owns a Session.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/capture.h"
#include "api/explain.h"
#include "api/trace.h"
#include "api/types.h"
#include "config/detector_config.h"

namespace rcnn::api {

class Session {
 public:
  // Throws rcnn::ConfigError or std::invalid_argument (bad device).
  explicit Session(const DetectorConfig& cfg, const std::string& device = "auto", uint64_t weight_seed = 0);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Model. load_checkpoint keeps the current model when the file is bad and
  // throws std::runtime_error naming the file.
  void load_checkpoint(const std::string& path);
  void reset_random_weights(uint64_t seed);
  // The model's class names from a file, one per line (a first
  // "__background__" is skipped); there must be one per class. Throws
  // std::runtime_error naming the file; nothing changes then.
  void load_class_names(const std::string& path);
  bool random_weights() const;
  std::string model_label() const;
  std::string device_name() const;
  // Runs the model (its weights kept) and every stage on another device:
  // "cpu", "cuda", "cuda:N". Throws std::invalid_argument naming the device
  // when it is malformed or absent; nothing changes then.
  void set_device(const std::string& device);
  // Inference precision: "fp32" (default) or "bf16" (CPUs with AVX-512-BF16
  // or AMX; engine/precision.h). Throws std::invalid_argument saying why
  // where it cannot run; nothing changes then. Every stage re-runs.
  void set_precision(const std::string& precision);
  std::string precision() const;

  // Config: validated (throws ConfigError). Changes that keep the weight
  // shapes re-run only the stages downstream of them; others rebuild the
  // model with random weights.
  const DetectorConfig& config() const;
  void set_config(const DetectorConfig& cfg);

  // Image with GT in original coordinates.
  void set_image(const Image& image, const std::vector<GtObject>& gt, const std::vector<std::string>& class_names);
  // Decodes a file (throws rcnn::data::DataError naming it).
  void open_image(const std::string& path, const std::vector<GtObject>& gt,
                  const std::vector<std::string>& class_names);
  bool has_image() const;

  void set_sample_seed(uint64_t seed);
  // The channel of every level that trace.feature_maps shows besides the mean
  // and max (clamped to the levels' channels); refills only those images.
  void set_feature_channel(int channel);
  // Off: the trace leaves out what only a viewer needs (RoI features, RoI
  // image crops, sampling points); verdicts and every box stay. For
  // dataset-wide analysis.
  void set_display_outputs(bool on);
  // Off: the training step on this image (trace.train: the RoI sampling and Losses stages) is not computed
  // (about a tenth of a seed-family trace); trace.train is then invalid with a note saying so. Turning it on
  // computes only that step (when the trace's is out of date). On by default.
  void set_train_view(bool on);

  // Recomputes the dirty stages and returns the trace.
  const PipelineTrace& run();
  // Which pixels and features made a detection (or a GT's best RoI) score what it scores, on the current
  // image (api/explain.h). Runs the trace first if it is stale. Throws std::invalid_argument for a target or
  // method it cannot explain.
  ExplainResult explain(const ExplainRequest& req);
  // The deletion metric of a map (api/explain.h: deletion_curve) for req's target (det or gt).
  std::vector<double> deletion_curve(const ExplainRequest& req, const std::vector<float>& map, int steps,
                                     uint64_t seed = 0);

  // The current image's trace as a capture (api/capture.h): runs the stale stages first. `view_json` is the
  // front end's view ({"stage", "selection", ...}). Throws std::invalid_argument with no image open.
  Capture capture(const std::string& view_json = "{}");

  // RoIAlign sampling points of kept proposal r, (x, y) pairs in input-image
  // coordinates; grid_h/grid_w receive the per-bin sample counts.
  std::vector<float> sampling_points(int r, int* grid_h = nullptr, int* grid_w = nullptr) const;

  // How many times the backbone ran (tests check caching).
  int64_t backbone_runs() const;

 private:
  friend struct SessionAccess;  // core's probe recorder (pipeline/session_impl.h)
  struct Impl;
  std::unique_ptr<Impl> d_;
};

// Fills the GT funnel and per-GT matching info of a trace from its other
// fields (plain C++; session.cpp calls it, tests call it on built cases).
void compute_gt_funnel(PipelineTrace& t);

// Trace <-> JSON for `rcnn inspect` and the studio's export. Large arrays
// (iou_matrix, roi features, crops) are left out unless `full`.
std::string trace_to_json(const PipelineTrace& t, bool full = false);

}  // namespace rcnn::api
