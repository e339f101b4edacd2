#include "distributed/launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "distributed/dist_env.h"

extern char** environ;

namespace rcnn::dist {

namespace fs = std::filesystem;

std::string worker_executable() {
  if (const char* e = std::getenv("RCNN_CLI")) {
    if (::access(e, X_OK) != 0) throw DistError(std::string("RCNN_CLI=") + e + " is not an executable file");
    return e;
  }
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  const auto exe = (ec ? fs::current_path() : self.parent_path()) / "rcnn";
  if (::access(exe.c_str(), X_OK) != 0)
    throw DistError("the worker processes run the rcnn CLI, and " + exe.string() +
                    " is not there; set RCNN_CLI to its path");
  return exe.string();
}

namespace {
std::string log_tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) all.push_back(l.substr(l.rfind('\r') == std::string::npos ? 0 : l.rfind('\r') + 1));
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : " | ") + all[i];
  return out;
}
}  // namespace

LocalWorkers::~LocalWorkers() { terminate_all(1.0); }

void LocalWorkers::spawn(int rank, const std::string& exe, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env, const std::string& log_path) {
  // Everything the child needs is built before fork(): after it, in a
  // multi-threaded parent, only async-signal-safe calls are allowed.
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const auto key = kv.substr(0, kv.find('='));
    if (!env.count(key)) envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argstore{exe};
  argstore.insert(argstore.end(), args.begin(), args.end());
  for (auto& s : argstore) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw DistError(log_path + ": cannot write the rank " + std::to_string(rank) + " log: " + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw DistError(std::string("fork() for rank ") + std::to_string(rank) + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(125);  // the parent died before prctl
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
  workers_.push_back(Worker{rank, pid, log_path});
}

void LocalWorkers::reap(bool block) {
  for (auto& w : workers_) {
    if (w.done) continue;
    int st = 0;
    const pid_t r = ::waitpid(w.pid, &st, block ? 0 : WNOHANG);
    if (r != w.pid) continue;
    w.done = true;
    w.status = st;
    const bool bad = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (bad && failure_.empty()) {
      std::string how = WIFSIGNALED(st) ? "was killed by signal " + std::to_string(WTERMSIG(st)) + " (" +
                                              std::string(::strsignal(WTERMSIG(st))) + ")"
                        : WEXITSTATUS(st) == 127 ? "could not start (exec failed)"
                                                 : "exited with status " + std::to_string(WEXITSTATUS(st));
      failure_ = "rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + ") " + how;
      const std::string tail = log_tail(w.log, 3);
      failure_ += tail.empty() ? "; its log " + w.log + " is empty" : "; its log " + w.log + " ends: " + tail;
    }
  }
}

std::string LocalWorkers::failure() {
  reap(false);
  return failure_;
}

std::string LocalWorkers::wait_all(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  for (;;) {
    reap(false);
    bool all = true;
    for (const auto& w : workers_) all = all && w.done;
    if (all) return failure_;
    if (std::chrono::steady_clock::now() > deadline) {
      for (const auto& w : workers_)
        if (!w.done && failure_.empty())
          failure_ = "rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + ") did not end within " +
                     std::to_string(int(timeout_s)) + " s after rank 0 finished";
      return failure_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void LocalWorkers::terminate_all(double grace_s) {
  reap(false);
  bool any = false;
  for (const auto& w : workers_)
    if (!w.done) ::kill(w.pid, SIGTERM), any = true;
  if (!any) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(grace_s * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (auto& w : workers_) {
      if (w.done) continue;
      int st = 0;
      if (::waitpid(w.pid, &st, WNOHANG) == w.pid)
        w.done = true, w.status = st;
      else
        all = false;
    }
    if (all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& w : workers_)
    if (!w.done) {
      ::kill(w.pid, SIGKILL);
      int st = 0;
      ::waitpid(w.pid, &st, 0);
      w.done = true;
    }
}

}  // namespace rcnn::dist
