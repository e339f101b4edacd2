#pragma once
// Batching with GT padded to (N, max_gt, 5) with class -1 rows (reference
// convention), background prefetch threads, shuffle and drop_last.
// Deterministic for a seed: the order and every flip depend only on
// (seed, epoch, image index), not on thread timing.
#include <torch/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace rcnn::data {

struct LoaderOptions {
  int batch_size = 16;
  bool shuffle = true;
  bool drop_last = true;
  bool hflip = false;  // random horizontal flip (training)
  double color_jitter = 0.0;  // random per-channel gain/offset and channel order
  double scale_jitter = 0.0;  // random zoom-out to [1 - scale_jitter, 1], random placement
  uint64_t seed = 42;
  int num_workers = 2;  // 0: build batches on the calling thread
  int input_size = 224;
  std::string resize = "stretch";
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  bool cache = true;  // keep resized images in memory
  // Keep each image as decoded (its own size, 8-bit RGB, objects in its
  // pixels; flips and colour jitter applied there): Batch::rgb and
  // Batch::objects instead of images and gt. For detectors whose own
  // transform resizes (torchvision's). No scale jitter, no cache.
  bool decoded = false;
  // Data parallelism (DistributedSampler semantics): every rank shuffles the
  // same epoch order; each global batch is batch_size * world_size
  // consecutive images of it, of which this rank takes the rank-th run of
  // batch_size. The shards are disjoint and together cover the epoch's
  // global batches.
  int world_size = 1;
  int rank = 0;
};

struct Batch {
  torch::Tensor images;                     // (N, 3, S, S) float
  torch::Tensor gt;                         // (N, M, 5) float, padded with -1 rows; crowd boxes excluded
  std::vector<size_t> indices;              // dataset indices
  std::vector<ResizeTransform> transforms;  // per image
  // LoaderOptions::decoded: the images and their objects (crowd boxes excluded).
  std::vector<cv::Mat> rgb;
  std::vector<std::vector<Annotation>> objects;
};

class DataLoader {
 public:
  DataLoader(const Dataset& ds, LoaderOptions opt);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  size_t batches_per_epoch() const;
  // Starts an epoch (shuffle with seed + epoch) at `first_image` of its
  // order (a resumed run: the images all ranks consumed before, whatever
  // the world size was then); prefetch threads begin work.
  void start_epoch(int64_t epoch, int64_t first_image = 0);
  // The epoch's shuffled order (the same on every rank).
  std::vector<size_t> epoch_order(int64_t epoch) const;
  int64_t global_batch() const { return int64_t(opt_.batch_size) * opt_.world_size; }
  // Next batch of the epoch, or nullopt at its end.
  std::optional<Batch> next();
  // Builds one batch synchronously (also used by the workers).
  Batch make_batch(const std::vector<size_t>& idx, int64_t epoch);

  // Images that failed to decode (counted, reported, left out of their batch).
  std::vector<std::string> issues() const;

 private:
  void stop_workers();
  cv::Mat load_resized(size_t i, ResizeTransform& t);

  const Dataset& ds_;
  LoaderOptions opt_;
  std::vector<std::vector<size_t>> plan_;
  int64_t epoch_ = 0;
  size_t next_out_ = 0;
  std::atomic<size_t> next_in_{0};
  std::map<size_t, Batch> ready_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  std::map<size_t, cv::Mat> cache_;
  std::map<size_t, ResizeTransform> cache_tf_;
  std::vector<std::string> issues_;
};

}  // namespace rcnn::data
