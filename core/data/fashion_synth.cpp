#include "data/fashion_synth.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "data/dataset.h"

namespace fs = std::filesystem;

namespace rcnn::data {
namespace {

struct Idx {
  std::vector<uint8_t> images;  // n * 28 * 28
  std::vector<uint8_t> labels;
  int n = 0;
};

std::vector<uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open (install the dataset-fashion-mnist package)");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  const bool err = n < 0;
  gzclose(f);
  if (err) throw DataError(path + ": corrupt gzip stream");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t i) {
  return (uint32_t(b[i]) << 24) | (uint32_t(b[i + 1]) << 16) | (uint32_t(b[i + 2]) << 8) | b[i + 3];
}

Idx read_idx(const std::string& dir, const std::string& prefix) {
  Idx r;
  const std::string ip = dir + "/" + prefix + "-images-idx3-ubyte.gz",
                    lp = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  auto im = read_gz(ip), lb = read_gz(lp);
  if (im.size() < 16 || be32(im, 0) != 2051) throw DataError(ip + ": not an IDX image file");
  if (lb.size() < 8 || be32(lb, 0) != 2049) throw DataError(lp + ": not an IDX label file");
  r.n = int(be32(im, 4));
  if (be32(im, 8) != 28 || be32(im, 12) != 28 || im.size() != 16 + size_t(r.n) * 784)
    throw DataError(ip + ": unexpected image size");
  if (int(be32(lb, 4)) != r.n || lb.size() != 8 + size_t(r.n)) throw DataError(lp + ": label count mismatch");
  r.images.assign(im.begin() + 16, im.end());
  r.labels.assign(lb.begin() + 8, lb.end());
  return r;
}

cv::Mat background(std::mt19937_64& rng, int S) {
  std::uniform_int_distribution<int> kind(0, 3), col(0, 255);
  cv::Mat bg(S, S, CV_8UC3);
  const cv::Vec3b a(col(rng), col(rng), col(rng)), b(col(rng), col(rng), col(rng));
  const int k = kind(rng);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      float t = 0;
      if (k == 1) t = float(x + y) / (2 * S);                                       // diagonal gradient
      if (k == 2) t = ((x / 16 + y / 16) & 1) ? 0.8f : 0.2f;                        // checker
      if (k == 3) t = 0.5f + 0.5f * std::sin(float(x) * 0.07f + float(y) * 0.03f);  // waves
      for (int c = 0; c < 3; ++c) bg.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uint8_t>(a[c] * (1 - t) + b[c] * t);
    }
  cv::Mat noise(S, S, CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(8));  // seeded below via cv::theRNG
  cv::Mat out;
  cv::add(bg, noise, out);
  return out;
}

void write_xml(const fs::path& p, const std::string& file, int S, const std::vector<std::array<int, 5>>& objs) {
  std::ofstream o(p);
  o << "<annotation>\n  <folder>JPEGImages</folder>\n  <filename>" << file << "</filename>\n"
    << "  <size><width>" << S << "</width><height>" << S << "</height><depth>3</depth></size>\n";
  for (const auto& b : objs) {
    // 0-based pixel columns c0..c1 inclusive -> VOC 1-based xmin = c0 + 1, xmax = c1 + 1.
    o << "  <object>\n    <name>" << fashion_class_names()[b[4]] << "</name>\n"
      << "    <difficult>0</difficult><truncated>0</truncated>\n"
      << "    <bndbox><xmin>" << b[0] + 1 << "</xmin><ymin>" << b[1] + 1 << "</ymin><xmax>" << b[2] << "</xmax><ymax>"
      << b[3] << "</ymax></bndbox>\n  </object>\n";
  }
  o << "</annotation>\n";
}

double iou(const std::array<int, 5>& a, const std::array<int, 5>& b) {
  const double iw = std::max(0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double ih = std::max(0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double in = iw * ih;
  const double u = double(a[2] - a[0]) * (a[3] - a[1]) + double(b[2] - b[0]) * (b[3] - b[1]) - in;
  return u > 0 ? in / u : 0;
}

}  // namespace

const std::vector<std::string>& fashion_class_names() {
  static const std::vector<std::string> names{"tshirt", "trouser", "pullover", "dress", "coat",
                                              "sandal", "shirt",   "sneaker",  "bag",   "ankle_boot"};
  return names;
}

void make_fashion_dataset(const FashionOptions& opt, const std::function<void(int, int)>& progress) {
  if (opt.out.empty()) throw DataError("make-dataset: --out is required");
  if (opt.train < 0 || opt.val < 0 || opt.test < 0 || opt.train + opt.val + opt.test == 0)
    throw DataError("make-dataset: split sizes must be >= 0 and not all 0");
  if (opt.min_side < 8 || opt.max_side < opt.min_side || opt.max_side > opt.canvas)
    throw DataError("make-dataset: need 8 <= min_side <= max_side <= canvas");
  const Idx train = read_idx(opt.source_dir, "train"), t10k = read_idx(opt.source_dir, "t10k");
  const fs::path root(opt.out);
  fs::create_directories(root / "JPEGImages");
  fs::create_directories(root / "Annotations");
  fs::create_directories(root / "ImageSets" / "Main");
  {
    std::ofstream l(root / "labels.txt");
    for (const auto& n : fashion_class_names()) l << n << "\n";
  }
  const int total = opt.train + opt.val + opt.test;
  int done = 0;
  struct Split {
    const char* name;
    int count;
    const Idx* src;
    uint64_t salt;
  };
  for (const Split& sp :
       {Split{"train", opt.train, &train, 11}, Split{"val", opt.val, &t10k, 23}, Split{"test", opt.test, &t10k, 37}}) {
    std::ofstream list(root / "ImageSets" / "Main" / (std::string(sp.name) + ".txt"));
    std::mt19937_64 rng(opt.seed * 0x9E3779B97F4A7C15ULL + sp.salt);
    // val and test draw from disjoint halves of t10k.
    int lo = 0, hi = sp.src->n;
    if (sp.src == &t10k) {
      lo = std::string(sp.name) == "val" ? 0 : t10k.n / 2;
      hi = std::string(sp.name) == "val" ? t10k.n / 2 : t10k.n;
    }
    std::uniform_int_distribution<int> pick(lo, hi - 1), nitems(opt.min_items, opt.max_items);
    std::uniform_real_distribution<double> logside(std::log(double(opt.min_side)), std::log(double(opt.max_side)));
    std::uniform_int_distribution<int> col(0, 255);
    for (int k = 0; k < sp.count; ++k) {
      cv::theRNG().state = rng();
      cv::Mat img = background(rng, opt.canvas);
      std::vector<std::array<int, 5>> objs;
      const int want = nitems(rng);
      for (int tries = 0; int(objs.size()) < want && tries < 60; ++tries) {
        const int idx = pick(rng);
        cv::Mat item(28, 28, CV_8UC1, const_cast<uint8_t*>(&sp.src->images[size_t(idx) * 784]));
        cv::Mat nz;
        cv::findNonZero(item > 20, nz);
        if (nz.empty()) continue;
        const cv::Rect tight = cv::boundingRect(nz);
        const double side = std::exp(logside(rng));
        const double s = side / std::max(tight.width, tight.height);
        const int w = std::max(2, int(std::lround(tight.width * s))),
                  h = std::max(2, int(std::lround(tight.height * s)));
        if (w > opt.canvas || h > opt.canvas) continue;
        std::uniform_int_distribution<int> px(0, opt.canvas - w), py(0, opt.canvas - h);
        const int x0 = px(rng), y0 = py(rng);
        cv::Mat alpha;
        cv::resize(item(tight), alpha, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
        cv::Mat m;
        cv::findNonZero(alpha > 40, m);
        if (m.empty()) continue;
        const cv::Rect tb = cv::boundingRect(m);
        std::array<int, 5> box{x0 + tb.x, y0 + tb.y, x0 + tb.x + tb.width, y0 + tb.y + tb.height,
                               sp.src->labels[size_t(idx)]};
        bool ok = true;
        for (const auto& o : objs) ok = ok && iou(o, box) <= opt.max_overlap;
        if (!ok) continue;
        const cv::Vec3b tint(col(rng), col(rng), col(rng));
        const cv::Vec3b bgmean = img.at<cv::Vec3b>(y0 + h / 2, x0 + w / 2);
        // Make sure the item stands out from the local background.
        cv::Vec3b c = tint;
        int diff = 0;
        for (int q = 0; q < 3; ++q) diff += std::abs(int(c[q]) - int(bgmean[q]));
        if (diff < 150)
          for (int q = 0; q < 3; ++q) c[q] = uint8_t(255 - bgmean[q]);
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x) {
            const float a = alpha.at<uint8_t>(y, x) / 255.0f;
            auto& p = img.at<cv::Vec3b>(y0 + y, x0 + x);
            for (int q = 0; q < 3; ++q) p[q] = cv::saturate_cast<uint8_t>(p[q] * (1 - a) + c[q] * a);
          }
        objs.push_back(box);
      }
      char id[32];
      std::snprintf(id, sizeof id, "%s_%06d", sp.name, k);
      const std::string file = std::string(id) + ".jpg";
      cv::Mat bgr;
      cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
      if (!cv::imwrite((root / "JPEGImages" / file).string(), bgr, {cv::IMWRITE_JPEG_QUALITY, opt.jpeg_quality}))
        throw DataError((root / "JPEGImages" / file).string() + ": cannot write image");
      write_xml(root / "Annotations" / (std::string(id) + ".xml"), file, opt.canvas, objs);
      list << id << "\n";
      if (progress) progress(++done, total);
    }
  }
}

}  // namespace rcnn::data
