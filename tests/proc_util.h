#pragma once
// Child processes for the tests that run the rcnn CLI (data parallelism,
// kill -9 soak): start with extra environment variables, wait with a
// timeout, read their output.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" char** environ;

namespace proc_util {

namespace fs = std::filesystem;

struct Proc {
  pid_t pid = -1;
  std::string out;  // file with its stdout + stderr
};

inline Proc start(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           const std::string& out) {
  std::vector<std::string> store{RCNN_CLI};  // the including test defines RCNN_CLI
  store.insert(store.end(), args.begin(), args.end());
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.push_back(*e);
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(out.c_str(), "w");
    ::dup2(fileno(f), 1);
    ::dup2(fileno(f), 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return Proc{pid, out};
}

// Exit status, or -1 when it is still running after timeout_s.
inline int wait_for(const Proc& p, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < end) {
    int st = 0;
    if (::waitpid(p.pid, &st, WNOHANG) == p.pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline int run(const std::vector<std::string>& args, const std::string& out, double timeout_s = 300,
               const std::map<std::string, std::string>& env = {}) {
  auto p = start(args, env, out);
  const int st = wait_for(p, timeout_s);
  if (st < 0) ::kill(p.pid, SIGKILL), ::waitpid(p.pid, nullptr, 0);
  return st;
}

inline pid_t child_of(pid_t parent) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) return pid_t(std::stoi(name));
  }
  return -1;
}

inline bool wait_file(const std::string& path, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < end) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}
}  // namespace proc_util
