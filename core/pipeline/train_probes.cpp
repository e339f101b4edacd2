// Probe captures during training: a Session of the probes' own holds a copy of
// the weights being trained, traces each probe image and saves it as a
// capture; index.jsonl gets one line per (iteration, image) with each GT's
// verdict, class score and best candidate IoU (api/timeline.h).
#include "pipeline/train_probes.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api/capture.h"
#include "api/session.h"
#include "api/timeline.h"
#include "pipeline/session_impl.h"

namespace rcnn::api {

namespace fs = std::filesystem;

ProbeRecorder::ProbeRecorder(const DetectorConfig& cfg, const DatasetInfo& val, int count, std::string run_dir,
                             bool resume)
    : run_dir_(std::move(run_dir)) {
  if (!resume) fs::remove_all(fs::path(run_dir_) / "probes");
  for (size_t i = 0; i < val.images.size() && int(i) < count; ++i) images_.push_back(val.images[i]);
  class_names_ = val.class_names;
  {
    // Making the probes' model seeds the global generator: the run's state is put back.
    auto cpu = at::detail::getDefaultCPUGenerator();
    torch::Tensor state;
    {
      std::lock_guard<std::mutex> lock(cpu.mutex());
      state = cpu.get_state();
    }
    session_ = std::make_unique<Session>(cfg, "cpu");
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(state);
  }
  std::ifstream in(fs::path(run_dir_) / "probes" / "index.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("iter") && j["iter"].is_number_integer()) done_.push_back(j["iter"].get<int64_t>());
  }
}

ProbeRecorder::~ProbeRecorder() = default;

bool ProbeRecorder::recorded(int64_t iter) const {
  return std::find(done_.begin(), done_.end(), iter) != done_.end();
}

void ProbeRecorder::record(pipeline::Detector& trained, int64_t iter) {
  if (images_.empty() || recorded(iter)) return;
  const auto t0 = std::chrono::steady_clock::now();
  // The run's random stream is not the probes' to draw from: a run with probes trains the same weights as one
  // without (and resumes to them).
  auto cpu = at::detail::getDefaultCPUGenerator();
  torch::Tensor rng;
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    rng = cpu.get_state();
  }
  struct Restore {
    at::Generator g;
    torch::Tensor& s;
    ~Restore() {
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_state(s);
    }
  } restore{cpu, rng};
  // The checkpoints come first: a round of probes is skipped where it would leave the run's disk with less
  // than 64 MB (a round takes about what the last one took; the first, 4 MB an image).
  {
    std::error_code ec;
    fs::create_directories(fs::path(run_dir_) / "probes", ec);
    const auto sp = fs::space(fs::path(run_dir_) / "probes", ec);
    const uintmax_t round = round_bytes_ ? round_bytes_ : uintmax_t(images_.size()) << 22;
    if (!ec && sp.available < round + (uintmax_t(64) << 20))
      throw std::runtime_error("skipped at iteration " + std::to_string(iter) + ": " +
                               std::to_string(sp.available >> 20) + " MB free on " + run_dir_ +
                               "'s disk, and a round of probes takes about " + std::to_string(round >> 20) +
                               " MB (the checkpoints come first)");
  }
  auto& D = SessionAccess::impl(*session_);
  {
    // The trained weights, by name, into the probes' model (the same config, so the same shapes).
    torch::NoGradGuard ng;
    auto src = trained.module().named_parameters(true);
    for (auto& p : D.det->module().named_parameters(true)) p.value().copy_(src[p.key()]);
    auto bsrc = trained.module().named_buffers(true);
    for (auto& b : D.det->module().named_buffers(true)) b.value().copy_(bsrc[b.key()]);
  }
  D.random = false;
  D.weights_hash.clear();  // new weights
  D.checkpoint = run_dir_ + " @ iteration " + std::to_string(iter);
  D.dirty = kAll;
  session_->set_train_view(true);
  char name[32];
  std::snprintf(name, sizeof name, "iter_%08lld.rcnncap", static_cast<long long>(iter));
  const fs::path dir = fs::path(run_dir_) / "probes";
  std::string lines;
  uintmax_t bytes = 0;
  for (const auto& im : images_) {
    session_->open_image(im.path, im.objects, class_names_);
    auto c = session_->capture();
    const std::string stem = fs::path(im.path).stem().string();
    fs::create_directories(dir / stem);
    const std::string rel = (fs::path("probes") / stem / name).string();
    save_capture((fs::path(run_dir_) / rel).string(), c);
    std::error_code ec;
    bytes += fs::file_size(fs::path(run_dir_) / rel, ec);
    nlohmann::json j{{"iter", iter}, {"image", fs::path(im.path).filename().string()}, {"file", rel}};
    nlohmann::json gts = nlohmann::json::array();
    std::vector<int> labels;
    for (size_t g = 0; g < c.trace.gt.size(); ++g) {
      const auto p = probe_gt_point(c.trace, int(g));
      gts.push_back({{"funnel", int(p.funnel)}, {"score", p.score}, {"best_iou", p.best_iou}});
      labels.push_back(c.trace.gt[g].label);
    }
    j["gt"] = gts;
    j["labels"] = labels;
    j["class_names"] = c.trace.class_names;
    lines += j.dump() + "\n";
  }
  std::ofstream out(dir / "index.jsonl", std::ios::app);
  out << lines;
  out.flush();
  if (!out) throw std::runtime_error((dir / "index.jsonl").string() + ": cannot write");
  done_.push_back(iter);
  round_bytes_ = bytes;
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace rcnn::api
