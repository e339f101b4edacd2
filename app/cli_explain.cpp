#include "cli_explain.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/dataset.h"
#include "api/explain.h"
#include "api/session.h"
#include "cli_util.h"
#include "config/detector_config.h"

namespace fs = std::filesystem;

CLI::App* add_explain_command(CLI::App& app, ExplainArgs& a) {
  auto* c = app.add_subcommand("explain",
                               "which pixels and features made a detection, a missed GT's best RoI, a proposal or "
                               "an anchor score what it scores (Grad-CAM on an FPN or backbone level, input x "
                               "gradient, or the black-box D-RISE); both detector families");
  c->add_option("image", a.image, "the image")->required();
  c->add_option("--checkpoint", a.model.checkpoint, "the model (a seed-family .pt or a torchvision .pth)")->required();
  c->add_option("--config", a.model.config, "preset (for a checkpoint its own config is used)")->capture_default_str();
  c->add_option(
       "--target", a.target,
       "det:K (the K-th detection, as `rcnn detect` lists them at --score), gt:K "
       "(the K-th object of the image's annotation, with --dataset: its class at the RoI that covered it "
       "best), roi:K (the K-th kept RoI: its most probable class), proposal:K (the K-th RPN proposal, before NMS: its "
       "objectness) or anchor:K (global index)")
      ->capture_default_str();
  c->add_option("--method", a.method, "gradcam | hirescam | inputgrad | drise")->capture_default_str();
  c->add_option("--masks", a.req.masks, "drise: number of random masks")->capture_default_str();
  c->add_option("--grid", a.req.grid, "drise: cells per side of a mask")->capture_default_str();
  c->add_option("--prob", a.req.prob, "drise: the probability a cell is kept")->capture_default_str();
  c->add_option("--seed", a.req.seed, "drise: the masks' seed")->capture_default_str();
  c->add_option("--fill", a.req.fill,
                "drise: what a mask hides the image with: mean (its mean colour) or black (the paper)")
      ->capture_default_str();
  c->add_option("--baseline", a.req.baseline,
                "drise: mean (subtract the mean mask weight: the same map without the masks' own pattern) or "
                "none (the paper's weighted sum)")
      ->capture_default_str();
  c->add_option("--explained", a.req.score, "gradcam / hirescam / inputgrad: differentiate the class logit or prob")
      ->capture_default_str();
  c->add_option(
      "--level", a.level,
      "gradcam / hirescam: an FPN level (p3, p4, ... as the trace names them by stride), the backbone output of "
      "that stride (c3, c4, ...), or a 0-based FPN level index (default: the RoI's or anchor's own)");
  c->add_option("--delta", a.req.delta, "det / gt: explain this box delta of the class instead: dx, dy, dw or dh");
  c->add_option("--score", a.score, "score threshold of the detections det:K counts")->capture_default_str();
  c->add_option("--dataset", a.dataset, "the dataset the image belongs to (its GTs; needed for gt:K)");
  c->add_option("--split", a.split, "that dataset's split")->capture_default_str();
  c->add_option("--device", a.model.device)->capture_default_str();
  c->add_option("--out", a.out, "the image with the map blended over it (PNG)")->required();
  c->add_option("--json", a.json, "{target, method, width, height, map} with the map in the image's pixels");
  return c;
}

namespace {

// --level pN / cN (by stride 2^N) or an FPN level index, on the model's levels.
void resolve_level(const std::string& level, const rcnn::api::PipelineTrace& t, rcnn::api::ExplainRequest& req) {
  std::string names;
  for (size_t l = 0; l < t.levels.size(); ++l) {
    const std::string n = std::to_string(int(std::lround(std::log2(double(t.levels[l].stride)))));
    names += (l ? ", p" : "p") + n;
    if (level == "p" + n || level == "c" + n || level == std::to_string(l)) {
      req.level = int(l);
      req.backbone = level[0] == 'c';
      return;
    }
  }
  throw std::runtime_error("--level: '" + level + "' is not one of this model's levels (" + names +
                           ", their backbone outputs c.., or an index)");
}

}  // namespace

int run_explain_command(ExplainArgs& a) {
  rcnn::api::ExplainRequest req = a.req;
  req.progress = [](int d, int t) {
    bar("drise", d, t, "");
    return true;
  };
  const auto colon = a.target.find(':');
  if (colon == std::string::npos)
    throw std::runtime_error("--target: '" + a.target + "' is not det:K, gt:K, roi:K, proposal:K or anchor:K");
  req.target = a.target.substr(0, colon);
  try {
    req.index = std::stoi(a.target.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("--target: '" + a.target + "' has no index K");
  }
  req.method = a.method;
  std::vector<rcnn::api::GtObject> gt;
  std::vector<std::string> names;
  if (!a.dataset.empty()) {
    rcnn::api::OpenOptions oo;
    oo.split = a.split;
    const auto ds = rcnn::api::open_dataset(a.dataset, oo);
    names = ds.class_names;
    bool found = false;
    for (const auto& im : ds.images)
      if (fs::path(im.path).filename() == fs::path(a.image).filename()) gt = im.objects, found = true;
    if (!found) throw std::runtime_error(a.image + ": not an image of " + a.dataset + " (" + a.split + " split)");
  } else if (req.target == "gt") {
    throw std::runtime_error("--target gt:K needs --dataset D (the image's annotation)");
  }
  rcnn::api::Session s(rcnn::load_preset(a.model.config), a.model.device);
  s.load_checkpoint(a.model.checkpoint);
  auto cfg = s.config();
  cfg.roi.score_thresh = a.score;  // det:K counts what `rcnn detect --score` lists
  s.set_config(cfg);
  s.open_image(a.image, gt, names.empty() ? s.config().class_names : names);
  if (!a.level.empty()) resolve_level(a.level, s.run(), req);
  const auto r = s.explain(req);
  if (tty()) std::printf("\n");
  rcnn::api::save_explain_png(a.image, r, a.out);
  std::printf("%s:%d %s%s, score %.4f, %s%s -> %s\n", r.target_kind.c_str(), r.index, r.class_name.c_str(),
              r.delta.empty() ? "" : (" " + r.delta).c_str(), r.score, r.method.c_str(),
              r.level >= 0 ? (" on " + r.level_name).c_str() : "", a.out.c_str());
  if (!a.json.empty()) {
    std::ofstream out(a.json);
    out << rcnn::api::explain_to_json(r) << "\n";
    if (!out) throw std::runtime_error(a.json + ": cannot write");
  }
  return 0;
}
