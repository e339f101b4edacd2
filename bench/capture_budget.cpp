// rcnn_bench --capture [--images N] [--tv-size PX]
// The capture budgets (issue #32), on the embedded val split with the bundled
// model, and on one image with a random-weight torchvision ResNet-50-FPN:
// - size on disk, against the budget (224² seed family <= 2 MB, 800-px ResNet-50-FPN <= 40 MB);
// - write (Session::capture + save_capture) and open (load_capture) times, each against the trace of the
//   same image (open + run) in the same run: the peer is the work the capture saves a user from redoing.
#include "capture_budget.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "api/capture.h"
#include "api/dataset.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "engine/device.h"

namespace rcnn::bench {

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
std::string arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return def;
}

struct Row {
  std::vector<double> trace, write, open, mb;
};

void measure(api::Session& s, const std::string& path, const std::vector<api::GtObject>& gt,
             const std::vector<std::string>& names, const std::string& out, Row& row) {
  auto t = Clock::now();
  s.open_image(path, gt, names);
  s.run();
  row.trace.push_back(ms_since(t));
  t = Clock::now();
  api::save_capture(out, s.capture());
  row.write.push_back(ms_since(t));
  row.mb.push_back(double(fs::file_size(out)) / 1e6);
  t = Clock::now();
  const auto c = api::load_capture(out);
  row.open.push_back(ms_since(t));
  if (c.trace.anchors.size() != s.run().anchors.size()) throw std::runtime_error("the capture did not read back");
}

void print(const char* what, const Row& r, double mb_budget, double write_budget, double open_budget) {
  const double tr = median(r.trace), w = median(r.write), o = median(r.open);
  const double mb = *std::max_element(r.mb.begin(), r.mb.end());
  std::printf("%-34s %6zu %9.1f %9.1f (x%.2f) %9.1f (x%.2f) %8.2f\n", what, r.trace.size(), tr, w, w / tr, o, o / tr,
              mb);
  std::printf("%-34s %6s %9s %9s %9s   %8s\n", "  budget", "", "",
              write_budget > 0 ? ("< " + std::to_string(int(write_budget))).c_str() : "",
              open_budget > 0 ? ("< " + std::to_string(int(open_budget))).c_str() : "",
              ("<= " + std::to_string(int(mb_budget))).c_str());
}
}  // namespace

int capture_main(int argc, char** argv) {
  const int images = std::stoi(arg(argc, argv, "--images", "20"));
  const int tv_size = std::stoi(arg(argc, argv, "--tv-size", "800"));
  const std::string ckpt = std::string(RCNN_BENCH_RESOURCES) + "/models/fashion_default.pt";
  const auto dir = fs::temp_directory_path() / "rcnn_capture_bench";
  fs::create_directories(dir);
  api::OpenOptions oo;
  oo.split = "val";
  const auto val = api::open_dataset(api::default_dataset_dir(), oo);
  std::printf("capture budgets: BLAS %s; the peer is the trace of the same image (open + run)\n",
              engine::blas_name().c_str());
  std::printf("%-34s %6s %9s %20s %20s %8s\n", "", "images", "trace ms", "write ms (x trace)", "open ms (x trace)",
              "MB");
  {
    api::Session s(load_preset("default"), "cpu");
    s.load_checkpoint(ckpt);
    Row r;
    for (int i = 0; i < images && size_t(i) < val.images.size(); ++i)
      measure(s, val.images[size_t(i)].path, val.images[size_t(i)].objects, val.class_names,
              (dir / "seed.rcnncap").string(), r);
    print("seed family, 224², bundled model", r, 2, 100, 300);
  }
  if (tv_size > 0) {
    auto cfg = load_preset("torchvision_resnet50_fpn");
    cfg.torchvision.min_size = tv_size;
    cfg.torchvision.max_size = tv_size * 1333 / 800;
    api::Session s(cfg, "cpu");
    Row r;
    for (int i = 0; i < 2; ++i) measure(s, val.images[0].path, {}, {}, (dir / "tv.rcnncap").string(), r);
    print(("ResNet-50-FPN, " + std::to_string(tv_size) + " px, random").c_str(), r, 40, 0, 0);
  }
  fs::remove_all(dir);
  return 0;
}

}  // namespace rcnn::bench
