#include "pipeline/families.h"

#include <exception>
#include <stdexcept>
#include <vector>

namespace rcnn::pipeline {
namespace {

// A file is tried by each family that may read it, in this order.
const std::vector<Family>& families() {
  static const std::vector<Family> t{seed_family(), torchvision_family()};
  return t;
}

}  // namespace

const Family& family_of(const DetectorConfig& cfg) {
  for (const auto& f : families())
    if (!f.is_default && f.owns_config(cfg)) return f;
  for (const auto& f : families())
    if (f.is_default) return f;
  throw std::logic_error("no detector family owns the config " + cfg.name);
}

std::unique_ptr<Detector> make_detector(const DetectorConfig& cfg, const torch::Device& device, uint64_t seed) {
  return family_of(cfg).build(cfg, device, seed);
}

std::unique_ptr<AnchorModel> make_anchor_model(const DetectorConfig& cfg) {
  return family_of(cfg).anchor_model(cfg);
}

std::unique_ptr<Detector> load_detector(const std::string& path, const DetectorConfig& current,
                                        const torch::Device& device) {
  std::exception_ptr first;
  for (const auto& f : families()) {
    if (!f.may_read(path)) continue;
    try {
      return f.load(path, current, device);
    } catch (const std::exception&) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
  throw std::runtime_error(path + ": not a checkpoint of any detector family");
}

}  // namespace rcnn::pipeline
