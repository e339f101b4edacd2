#pragma once
// metrics.jsonl: one JSON object per line (logged iterations and evaluations).
#include <fstream>
#include <mutex>
#include <string>

namespace rcnn::engine {

class MetricsLog {
 public:
  // Opens (appends to) path. With keep_until_iter >= 0, lines whose "iter" is
  // greater are dropped first, so a resumed run's curves continue without
  // the iterations that were lost after its last checkpoint.
  explicit MetricsLog(const std::string& path, int64_t keep_until_iter = -1);
  void append(const std::string& json_line);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
  std::mutex mu_;
};

}  // namespace rcnn::engine
