#include "data/loader.h"

#include <torch/torch.h>

#include <numeric>
#include <random>
#include <tuple>

#include <opencv2/imgproc.hpp>

#include "data/image_io.h"

namespace rcnn::data {

DataLoader::DataLoader(const Dataset& ds, LoaderOptions opt) : ds_(ds), opt_(std::move(opt)) {
  if (opt_.batch_size < 1) throw DataError("loader: batch_size must be >= 1");
  if (opt_.world_size < 1 || opt_.rank < 0 || opt_.rank >= opt_.world_size)
    throw DataError("loader: rank " + std::to_string(opt_.rank) + " outside world size " +
                    std::to_string(opt_.world_size));
  if (ds_.images.empty()) throw DataError(ds_.root + ": cannot load batches from an empty dataset");
  if (opt_.decoded && opt_.scale_jitter > 0)
    throw DataError("input.scale_jitter zooms the seed's square input; a detector with its own transform "
                    "(torchvision) trains on the images as decoded: set input.scale_jitter=0");
  if (opt_.decoded) opt_.cache = false;  // whole images: their own transform resizes them
}

DataLoader::~DataLoader() {
  stop_workers();
}

size_t DataLoader::batches_per_epoch() const {
  const size_t n = ds_.images.size(), b = size_t(global_batch());
  return opt_.drop_last ? std::max<size_t>(n / b, n < b && opt_.world_size == 1 ? 1 : 0) : (n + b - 1) / b;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  stop_ = false;
}

std::vector<size_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<size_t> order(ds_.images.size());
  std::iota(order.begin(), order.end(), 0);
  if (opt_.shuffle) {
    std::mt19937_64 rng(opt_.seed * 1000003ULL + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
  }
  return order;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_image) {
  stop_workers();
  epoch_ = epoch;
  const auto order = epoch_order(epoch);
  plan_.clear();
  // Global batches of batch_size * world_size from first_image on; this
  // rank's share of each is its rank-th run of batch_size images.
  const size_t G = size_t(global_batch()), b = size_t(opt_.batch_size);
  const size_t start = size_t(std::clamp<int64_t>(first_image, 0, int64_t(order.size())));
  const size_t left = order.size() - start;
  // A split smaller than one batch still gives one (partial) batch, on one process.
  const size_t nb = opt_.drop_last ? std::max<size_t>(left / G, start == 0 && order.size() < G && opt_.world_size == 1)
                                   : (left + G - 1) / G;
  for (size_t k = 0; k < nb; ++k) {
    const size_t s = std::min(order.size(), start + k * G + size_t(opt_.rank) * b);
    const size_t e = std::min(order.size(), s + b);
    plan_.emplace_back(order.begin() + s, order.begin() + e);
  }
  next_out_ = 0;
  next_in_ = 0;
  ready_.clear();
  const size_t depth = size_t(std::max(2, opt_.num_workers * 2));
  for (int w = 0; w < opt_.num_workers; ++w) {
    workers_.emplace_back([this, depth] {
      for (;;) {
        size_t k;
        {
          std::unique_lock<std::mutex> lk(mu_);
          cv_.wait(lk, [&] { return stop_ || next_in_ < next_out_ + depth; });
          if (stop_) return;
          k = next_in_++;
        }
        if (k >= plan_.size()) return;
        Batch b = make_batch(plan_[k], epoch_);
        {
          std::lock_guard<std::mutex> lk(mu_);
          ready_.emplace(k, std::move(b));
        }
        cv_.notify_all();
      }
    });
  }
}

std::optional<Batch> DataLoader::next() {
  if (next_out_ >= plan_.size()) return std::nullopt;
  if (opt_.num_workers == 0) return make_batch(plan_[next_out_++], epoch_);
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return ready_.count(next_out_) > 0; });
  Batch b = std::move(ready_[next_out_]);
  ready_.erase(next_out_);
  next_out_++;
  lk.unlock();
  cv_.notify_all();
  return b;
}

cv::Mat DataLoader::load_resized(size_t i, ResizeTransform& t) {
  if (opt_.cache) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cache_.find(i);
    if (it != cache_.end()) {
      t = cache_tf_[i];
      return it->second.clone();
    }
  }
  const auto& rec = ds_.images[i];
  cv::Mat rgb = load_image_rgb(rec.path);
  t = make_resize(rgb.cols, rgb.rows, opt_.input_size, opt_.resize);
  cv::Mat out = apply_resize(rgb, t);
  if (opt_.cache) {
    std::lock_guard<std::mutex> lk(mu_);
    cache_[i] = out.clone();
    cache_tf_[i] = t;
  }
  return out;
}

Batch DataLoader::make_batch(const std::vector<size_t>& idx, int64_t epoch) {
  Batch b;
  std::vector<torch::Tensor> imgs;
  std::vector<std::vector<Annotation>> boxes;
  for (size_t i : idx) {
    ResizeTransform t;
    cv::Mat img;
    try {
      img = opt_.decoded ? load_image_rgb(ds_.images[i].path) : load_resized(i, t);
    } catch (const DataError& e) {
      std::lock_guard<std::mutex> lk(mu_);
      issues_.push_back(std::string(e.what()) + " (left out of its batch)");
      continue;
    }
    // Every random choice of this image depends only on (seed, epoch, index).
    std::mt19937_64 rng(opt_.seed ^ (uint64_t(epoch) * 0x9E3779B97F4A7C15ULL) ^ (uint64_t(i) * 0xBF58476D1CE4E5B9ULL));
    std::uniform_real_distribution<double> U(0.0, 1.0);
    const bool flip = opt_.hflip && (rng() & 1);
    std::vector<Annotation> objs;
    if (opt_.decoded) {
      // The image's own frame: a flip mirrors x about its width.
      if (flip) cv::flip(img, img, 1);
      const float W = float(img.cols);
      for (auto a : ds_.images[i].objects) {
        if (a.crowd) continue;
        if (flip) std::tie(a.x1, a.x2) = std::make_pair(W - a.x2, W - a.x1);
        objs.push_back(a);
      }
    } else {
      if (flip) apply_hflip(img, t);
      for (const auto& a : ds_.images[i].objects)
        if (!a.crowd) objs.push_back(t.forward(a));
    }
    if (opt_.scale_jitter > 0 && !opt_.decoded) {
      // Zoom out: shrink the whole input and place it at a random offset,
      // so objects appear at new sizes and positions (boxes follow exactly).
      const double s = 1.0 - opt_.scale_jitter * U(rng);
      const int w = std::max(1, int(std::lround(img.cols * s))), h = std::max(1, int(std::lround(img.rows * s)));
      const int ox = int(U(rng) * (img.cols - w)), oy = int(U(rng) * (img.rows - h));
      cv::Mat small, canvas(img.rows, img.cols, img.type(), cv::mean(img));
      cv::resize(img, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      small.copyTo(canvas(cv::Rect(ox, oy, w, h)));
      img = canvas;
      const float sx = float(w) / float(t.size), sy = float(h) / float(t.size);
      for (auto& a : objs) {
        a.x1 = a.x1 * sx + float(ox);
        a.x2 = a.x2 * sx + float(ox);
        a.y1 = a.y1 * sy + float(oy);
        a.y2 = a.y2 * sy + float(oy);
      }
    }
    if (opt_.color_jitter > 0) {
      // Per-channel gain and offset, and a random channel order: object and
      // background colours carry no class information in these datasets.
      int perm[3] = {0, 1, 2};
      std::shuffle(perm, perm + 3, rng);
      std::vector<cv::Mat> ch(3), out(3);
      cv::split(img, ch);
      for (int c = 0; c < 3; ++c) {
        const double gain = 1.0 + opt_.color_jitter * (2 * U(rng) - 1);
        const double off = 40.0 * opt_.color_jitter * (2 * U(rng) - 1);
        ch[size_t(perm[c])].convertTo(out[size_t(c)], CV_8U, gain, off);
      }
      cv::merge(out, img);
    }
    if (opt_.decoded) {
      b.rgb.push_back(img);
      b.objects.push_back(std::move(objs));
    } else {
      imgs.push_back(to_tensor(img, opt_.mean, opt_.std));
      boxes.push_back(std::move(objs));
    }
    b.indices.push_back(i);
    b.transforms.push_back(t);
  }
  if (opt_.decoded) return b;
  size_t m = 1;
  for (const auto& v : boxes) m = std::max(m, v.size());
  const int64_t n = int64_t(imgs.size());
  b.gt = torch::full({n, int64_t(m), 5}, -1.0f);
  auto acc = b.gt.accessor<float, 3>();
  for (int64_t k = 0; k < n; ++k)
    for (size_t j = 0; j < boxes[k].size(); ++j) {
      const auto& a = boxes[k][j];
      acc[k][j][0] = a.x1;
      acc[k][j][1] = a.y1;
      acc[k][j][2] = a.x2;
      acc[k][j][3] = a.y2;
      acc[k][j][4] = float(a.label);
    }
  b.images = n ? torch::stack(imgs) : torch::zeros({0, 3, opt_.input_size, opt_.input_size});
  return b;
}

std::vector<std::string> DataLoader::issues() const {
  std::lock_guard<std::mutex> lk(mu_);
  return issues_;
}

}  // namespace rcnn::data
