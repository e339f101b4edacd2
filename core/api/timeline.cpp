#include "api/timeline.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

namespace rcnn::api {

ProbeGtPoint probe_gt_point(const PipelineTrace& t, int g) {
  ProbeGtPoint p;
  const auto& gt = t.gt[size_t(g)];
  p.funnel = gt.funnel;
  for (const auto& c : t.proposals) p.best_iou = std::max(p.best_iou, box_iou(c.box, gt.box));
  const size_t C1 = size_t(t.num_classes() + 1);
  if (gt.label >= 0 && size_t(gt.label) + 1 < C1)
    for (size_t r = 0; r < t.kept.size() && (r + 1) * C1 <= t.class_probs.size(); ++r)
      if (box_iou(t.proposals[size_t(t.kept[r])].box, gt.box) >= 0.5f)
        p.score = std::max(p.score, t.class_probs[r * C1 + size_t(gt.label) + 1]);
  return p;
}

std::vector<ProbeSeries> read_probe_timeline(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const fs::path index = fs::path(run_dir) / "probes" / "index.jsonl";
  std::vector<ProbeSeries> out;
  std::ifstream in(index);
  if (!in) return out;
  std::map<std::string, size_t> at;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      const std::string image = j.at("image").get<std::string>();
      auto it = at.find(image);
      if (it == at.end()) {
        it = at.emplace(image, out.size()).first;
        out.emplace_back();
        out.back().image = image;
        out.back().labels = j.value("labels", std::vector<int>{});
        out.back().class_names = j.value("class_names", std::vector<std::string>{});
      }
      auto& s = out[it->second];
      const auto& gts = j.at("gt");
      if (s.gt.empty()) s.gt.resize(gts.size());
      if (gts.size() != s.gt.size()) throw std::runtime_error("its GT count changed");
      s.iters.push_back(j.at("iter").get<int64_t>());
      s.files.push_back((fs::path(run_dir) / j.at("file").get<std::string>()).string());
      for (size_t g = 0; g < gts.size(); ++g) {
        ProbeGtPoint p;
        p.funnel = Funnel(gts[g].at("funnel").get<int>());
        if (int(p.funnel) < 0 || int(p.funnel) >= kNumFunnel) throw std::runtime_error("a funnel out of range");
        p.score = gts[g].at("score").get<float>();
        p.best_iou = gts[g].at("best_iou").get<float>();
        s.gt[g].push_back(p);
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(index.string() + ": line " + std::to_string(n) + " is malformed (" + e.what() + ")");
    }
  }
  for (auto& s : out) {
    s.forgotten.assign(s.gt.size(), {});
    for (size_t g = 0; g < s.gt.size(); ++g)
      for (size_t e = 1; e < s.gt[g].size(); ++e)
        if (s.gt[g][e - 1].funnel == Funnel::Detected && s.gt[g][e].funnel != Funnel::Detected)
          s.forgotten[g].push_back(int(e));
  }
  return out;
}

}  // namespace rcnn::api
