#include "engine/metrics_log.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "engine/checkpoint.h"

namespace rcnn::engine {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_until) : path_(path) {
  if (keep_until >= 0) {
    std::ifstream in(path);
    std::ostringstream kept;
    for (std::string line; std::getline(in, line);) {
      try {
        auto j = nlohmann::json::parse(line);
        if (j.value("iter", int64_t(0)) > keep_until) continue;
      } catch (...) {
        continue;  // a torn last line from a killed process
      }
      kept << line << "\n";
    }
    atomic_write(path, kept.str());
  }
  out_.open(path, std::ios::app);
  if (!out_) throw std::runtime_error(path + ": cannot open metrics log");
}

void MetricsLog::append(const std::string& line) {
  std::lock_guard<std::mutex> lk(mu_);
  out_ << line << "\n";
  out_.flush();
}

}  // namespace rcnn::engine
