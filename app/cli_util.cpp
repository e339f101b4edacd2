#include "cli_util.h"

#include <unistd.h>

#include <cstdio>

bool tty() {
  return ::isatty(STDOUT_FILENO);
}

std::string hms(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  char buf[32];
  const int t = int(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
  return buf;
}

void bar(const std::string& what, int64_t done, int64_t total, const std::string& tail) {
  if (!tty()) return;
  const int W = 28;
  const int fill = total > 0 ? int(W * done / total) : 0;
  std::printf("\r%s [%s%s] %lld/%lld %s\033[K", what.c_str(), std::string(size_t(fill), '#').c_str(),
              std::string(size_t(W - fill), '.').c_str(), (long long)done, (long long)total, tail.c_str());
  std::fflush(stdout);
}

std::string losses_str(const rcnn::api::TrainProgress& p) {
  char buf[256];
  auto g = [&](const char* k) {
    auto it = p.losses.find(k);
    return it == p.losses.end() ? 0.0 : it->second;
  };
  std::snprintf(buf, sizeof buf,
                "loss %.3f (rpn_obj %.3f rpn_box %.3f roi_cls %.3f roi_box %.3f) lr %.4g %.1f img/s ETA %s", p.loss,
                g("rpn_obj"), g("rpn_box"), g("roi_cls"), g("roi_box"), p.lr, p.images_per_s, hms(p.eta_s).c_str());
  return buf;
}

void add_precision_option(CLI::App& command, std::string& precision) {
  command
      .add_option("--precision", precision,
                  "fp32, or bf16: convolutions and matrix products in bfloat16 (CPUs with AVX-512-BF16 or AMX; "
                  "refused elsewhere); anchors, NMS, RoIAlign and post-processing stay fp32")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
}
