#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include "analysis/tide.h"
using namespace rcnn::analysis::tide;
int main() {
  auto cases = nlohmann::json::parse(std::ifstream("cases.json"));
  auto expected = nlohmann::json::parse(std::ifstream("expected.json"));
  const char* names[] = {"Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"};
  int bad = 0;
  double worst = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    std::vector<std::vector<GtBox>> G;
    std::vector<std::vector<DetBox>> D;
    for (auto& im : cases[c]) {
      G.emplace_back(); D.emplace_back();
      for (auto& g : im["gts"]) G.back().push_back({g[0], g[1], g[2], g[3], g[4], g[5]});
      for (auto& d : im["dets"]) D.back().push_back({d[0], d[1], d[2], d[3], d[4], d[5]});
    }
    auto r = evaluate(G, D);
    auto& e = expected[c];
    auto chk = [&](const char* what, double ours, double theirs) {
      worst = std::max(worst, std::abs(ours - theirs));
      if (std::abs(ours - theirs) > 1e-9) { ++bad; std::printf("case %zu %s: ours %.9f tidecv %.9f\n", c, what, ours, theirs); }
    };
    chk("ap50", r.ap50, e["ap50"]);
    for (int t = 0; t < 6; ++t) { chk(names[t], r.dap[t], e["main"][names[t]]); chk((std::string("n") + names[t]).c_str(), r.count[t], e["counts"][names[t]]); }
    chk("FalsePos", r.dap_fp, e["special"]["FalsePos"]);
    chk("FalseNeg", r.dap_fn, e["special"]["FalseNeg"]);
  }
  std::printf("%zu cases, %d differences, largest |diff| %.3g\n", cases.size(), bad, worst);
  return bad != 0;
}
