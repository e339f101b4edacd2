#include "engine/train_support.h"

#include <nlohmann/json.hpp>

namespace rcnn::engine {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& m, const SolverOptions& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : m.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (p.value().dim() <= 1 ? no_decay : decay).push_back(p.value());
  }
  if (s.optimizer == "adamw") {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                              torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay)));
    g.emplace_back(no_decay,
                   std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(s.lr).weight_decay(0)));
    return std::make_unique<torch::optim::AdamW>(g);
  }
  std::vector<torch::optim::OptimizerParamGroup> g;
  g.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(
                            torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay)));
  g.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(
                               torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(0)));
  return std::make_unique<torch::optim::SGD>(g, torch::optim::SGDOptions(s.lr));
}

void set_learning_rate(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

uint64_t step_seed(uint64_t seed, int64_t iter, int rank) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * uint64_t(iter + 1) + 0xD1B54A32D192ED03ULL * uint64_t(rank + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string status_json(const TrainStatus& st) {
  nlohmann::ordered_json j;
  j["type"] = "train";
  j["iter"] = st.iter;
  j["epoch"] = st.epoch;
  j["loss"] = st.loss;
  for (const auto& [k, v] : st.losses) j[k] = v;
  j["lr"] = st.lr;
  j["images_per_s"] = st.images_per_s;
  j["eta_s"] = st.eta_s;
  j["elapsed_s"] = st.elapsed_s;
  if (st.world_size > 1) {
    j["world_size"] = st.world_size;
    j["allreduce_ms"] = st.allreduce_ms;
  }
  return j.dump();
}

std::string config_diff(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(a, nullptr, false), jb = nlohmann::json::parse(b, nullptr, false);
  if (ja.is_discarded() || jb.is_discarded()) return "unreadable config";
  std::string out;
  int n = 0;
  for (const auto& op : nlohmann::json::diff(ja, jb)) {
    const std::string path = op.value("path", "");
    if (n++ == 3) {
      out += ", ...";
      break;
    }
    nlohmann::json::json_pointer ptr(path);
    const std::string va = ja.contains(ptr) ? ja.at(ptr).dump() : "(absent)";
    const std::string vb = jb.contains(ptr) ? jb.at(ptr).dump() : "(absent)";
    out += (out.empty() ? "" : ", ") + path.substr(1) + " = " + vb + " (rank 0: " + va + ")";
  }
  for (auto& ch : out)
    if (ch == '/') ch = '.';
  return out.empty() ? "differs" : out;
}

}  // namespace rcnn::engine
