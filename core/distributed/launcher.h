#pragma once
// Starts the other local ranks of a data-parallel run as child processes of
// the `rcnn` CLI, with torchrun's environment variables, and watches them.
// The launching process is local rank 0 itself (so the studio and the CLI
// keep their progress, charts and stop button). Each child dies with its
// parent (PR_SET_PDEATHSIG) and writes its output to its own log file. No
// torch types.
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace rcnn::dist {

// The `rcnn` CLI the workers run: $RCNN_CLI, else `rcnn` next to this
// executable. Throws DistError naming where it looked.
std::string worker_executable();

class LocalWorkers {
 public:
  LocalWorkers() = default;
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;
  ~LocalWorkers();  // terminates any worker still running

  // Starts `exe args...` with `env` added to this process's environment,
  // stdout and stderr to `log_path`. Throws DistError.
  void spawn(int rank, const std::string& exe, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env, const std::string& log_path);

  // The first worker that ended abnormally (non-zero status or a signal),
  // described with the tail of its log: "rank 1 (pid 42) was killed by
  // signal 9 (Killed); ...". Empty while all are running or ended well.
  // Never blocks.
  std::string failure();
  // Waits up to timeout_s for every worker to end; returns failure().
  std::string wait_all(double timeout_s);
  // SIGTERM, then SIGKILL after grace_s, to every worker still running.
  void terminate_all(double grace_s = 3.0);
  size_t size() const { return workers_.size(); }

 private:
  struct Worker {
    int rank = 0;
    pid_t pid = -1;
    std::string log;
    bool done = false;
    int status = 0;
  };
  void reap(bool block);
  std::vector<Worker> workers_;
  std::string failure_;
};

}  // namespace rcnn::dist
