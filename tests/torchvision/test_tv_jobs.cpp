// The jobs on a torchvision model and preset: evaluation and analysis of a
// .pth (with a classes file), anchor coverage's grids, the anchor search.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <set>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../api/feature_map_rebuild.h"
#include "api/analyze_job.h"
#include "api/coverage_job.h"
#include "api/eval_job.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "config/torchvision_options.h"
#include "engine/precision.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "ops/box_iou.h"
#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_training.h"
#include "modeling/torchvision/tv_transform.h"
#include "serialize/state_dict.h"
#include "tv_fixture.h"

using namespace rcnn;
using namespace rcnn::api;

using namespace tv_fixture;

// `rcnn eval` (and the Evaluation panel) on a torchvision .pth: evaluated image by image through the Session.
// A VOC set whose GTs are exactly the model's own detections on the fixture image (every class a name of the
// dataset's) must score 1 on VOC mAP@0.5 and COCO's AP50, every detection a true positive, and agree with
// `rcnn analyze` of the same files.
TEST(TvSession, EvaluationOfATorchvisionModel) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  const std::vector<std::string> names{"a", "b", "c", "d", "e", "f"};
  Session s(oracle_config());
  s.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  s.set_image(fx.image, {}, names);
  const auto dets = s.run().detections;
  ASSERT_FALSE(dets.empty());
  namespace fs = std::filesystem;
  const fs::path root = fs::path(testing::TempDir()) / "tv_eval_voc";
  fs::remove_all(root);
  fs::create_directories(root / "JPEGImages");
  fs::create_directories(root / "Annotations");
  fs::create_directories(root / "ImageSets" / "Main");
  {
    std::vector<uint8_t> bgr(fx.image.rgb);
    for (size_t i = 0; i + 2 < bgr.size(); i += 3) std::swap(bgr[i], bgr[i + 2]);
    cv::Mat m(fx.image.height, fx.image.width, CV_8UC3, bgr.data());
    ASSERT_TRUE(cv::imwrite((root / "JPEGImages" / "img.png").string(), m));
  }
  {
    std::ofstream x(root / "Annotations" / "img.xml");
    x << "<annotation><filename>img.png</filename><size><width>" << fx.image.width << "</width><height>"
      << fx.image.height << "</height><depth>3</depth></size>";
    x.precision(9);
    for (const auto& d : dets)  // VOC corners: 1-based, inclusive
      x << "<object><name>" << names[size_t(d.label)] << "</name><difficult>0</difficult><bndbox><xmin>"
        << d.box_original.x1 + 1 << "</xmin><ymin>" << d.box_original.y1 + 1 << "</ymin><xmax>" << d.box_original.x2
        << "</xmax><ymax>" << d.box_original.y2 << "</ymax></bndbox></object>";
    x << "</annotation>\n";
  }
  std::ofstream(root / "ImageSets" / "Main" / "val.txt") << "img\n";
  {
    std::ofstream l(root / "labels.txt");
    for (const auto& n : names) l << n << "\n";
  }
  EvalRequest er;
  er.checkpoint = dir() + "/torchvision_resnet50_fpn.pth";
  er.dataset = root.string();
  er.split = "val";
  er.device = "cpu";
  er.config_json = config_to_json_string(oracle_config());
  const auto ev = run_evaluation(er);
  ASSERT_EQ(ev.detections.size(), 1u);
  EXPECT_EQ(ev.detections[0].size(), dets.size());
  EXPECT_DOUBLE_EQ(ev.result.map50, 1.0);
  EXPECT_DOUBLE_EQ(ev.coco.AP50, 1.0);
  for (const auto& c : ev.result.classes) EXPECT_TRUE(c.false_positives.empty()) << c.name;
  AnalyzeRequest ar;
  ar.checkpoint = er.checkpoint;
  ar.dataset = er.dataset;
  ar.config = "torchvision_resnet50_fpn";
  ar.config_json = er.config_json;
  EXPECT_DOUBLE_EQ(run_analysis(ar).map50, ev.result.map50);
  // The model's names from a classes file (ModelSpec::classes_file): the dataset now has 7 classes, in another
  // order, so the model (6 classes named "class N") cannot take the dataset's names index for index and, by
  // name, has none of them: without the file no GT is the model's, with it every one is found again.
  {
    std::ofstream l(root / "labels.txt");
    for (auto it = names.rbegin(); it != names.rend(); ++it) l << *it << "\n";
    l << "other\n";
    std::ofstream c(root / "classes.txt");
    for (const auto& n : names) c << n << "\n";
  }
  EvalRequest named = er;
  auto gts = [](const EvalReport& r) {
    int n = 0;
    for (const auto& c : r.result.classes) n += c.num_gt;
    return n;
  };
  const auto unnamed = run_evaluation(named);
  EXPECT_EQ(gts(unnamed), 0);  // every GT is of a class the model does not have
  named.classes_file = (root / "classes.txt").string();
  const auto with_names = run_evaluation(named);
  EXPECT_EQ(with_names.class_names, names);
  EXPECT_EQ(gts(with_names), int(dets.size()));
  EXPECT_DOUBLE_EQ(with_names.result.map50, 1.0);
  AnalyzeRequest an = ar;
  an.classes_file = named.classes_file;
  EXPECT_DOUBLE_EQ(run_analysis(an).map50, 1.0);
  // A .pth without its architecture is a clear error.
  EvalRequest bare = er;
  bare.config_json.clear();
  try {
    run_evaluation(bare);
    ADD_FAILURE() << "a .pth without --config was evaluated";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--config"), std::string::npos) << e.what();
  }
}

// Coverage computes each level's grid without running the backbone
// (modeling::tv::level_grids): it must be the backbone's own feature-map
// sizes for both architectures, on padded sizes and on sizes that are not
// multiples of 32.
TEST(TvSession, LevelGridsWithoutTheBackboneAreTheBackbones) {
  namespace mt = modeling::tv;
  torch::NoGradGuard ng;
  for (const char* preset : {"torchvision_resnet50_fpn", "torchvision_mobilenet_v3_large_fpn"}) {
    auto c = load_preset(preset);
    c.num_classes = 3;
    torch::manual_seed(0);
    mt::TvFasterRCNN m(torchvision_options(c));
    m->eval();
    const bool mobile = std::string(preset).find("mobilenet") != std::string::npos;
    for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{320, 480}, {800, 1120}, {250, 331}}) {
      mt::TvInference r;
      r.batch.tensors = torch::zeros({1, 3, h, w});
      r.batch.sizes = {{h, w}};
      r.batch.original = {{h, w}};
      m->run_backbone(r);
      const auto g = mt::level_grids(h, w, mobile);
      ASSERT_EQ(g.size(), r.features.size()) << preset;
      for (size_t l = 0; l < g.size(); ++l) {
        EXPECT_EQ(g[l].height, r.features[l].size(2)) << preset << " " << h << "x" << w << " level " << l;
        EXPECT_EQ(g[l].width, r.features[l].size(3)) << preset << " " << h << "x" << w << " level " << l;
      }
    }
  }
}

// The anchor search under a torchvision preset: torchvision.anchor_sizes and
// aspect_ratios with the same anchors per location on every level, scored
// with the preset's own coverage; deterministic, ranked, and each
// suggestion's settings reproduce its coverage when applied.
TEST(TvSession, AnchorSuggestionsForATorchvisionPreset) {
  SuggestRequest req;
  req.coverage.config = "torchvision_resnet50_fpn";
  req.coverage.split = "val";
  req.coverage.max_images = 8;
  req.coverage.overrides = {"torchvision.min_size=320", "torchvision.max_size=480"};
  req.search_images = 8;
  req.top = 3;
  const auto a = suggest_anchors(req);
  const auto b = suggest_anchors(req);
  ASSERT_EQ(a.best.size(), 3u);
  EXPECT_GT(a.candidates, 20);
  EXPECT_EQ(a.current.settings.at(0).first, "torchvision.anchor_sizes");
  EXPECT_EQ(a.current.per_location, 3);
  for (size_t k = 0; k < a.best.size(); ++k) {
    EXPECT_EQ(a.best[k].overrides(), b.best[k].overrides()) << k;
    if (k) EXPECT_GE(a.best[k - 1].all.bpr(), a.best[k].all.bpr()) << k;
    const auto cfg = config_from_json_string(config_with(req.coverage, a.best[k]), "suggestion");
    const auto o = torchvision_options(cfg);
    for (size_t l = 1; l < o.anchor_sizes.size(); ++l)
      EXPECT_EQ(o.anchors_per_location(l), o.anchors_per_location(0)) << k << " level " << l;
    EXPECT_EQ(o.anchors_per_location(0), a.best[k].per_location) << k;
    // Applied, it covers the split as reported.
    CoverageRequest cr = req.coverage;
    cr.overrides.clear();
    cr.config_json = config_with(req.coverage, a.best[k]);
    const auto r = run_coverage(cr);
    EXPECT_EQ(r.all.covered, a.best[k].all.covered) << k;
    EXPECT_EQ(r.all.positives, a.best[k].all.positives) << k;
  }
  // The preset's own anchors are a candidate (m = 1, one size per octave, ratios 0.5, 1, 2) and the sample is the
  // whole split here, so the best is at least as good by the ranking (BPR, then BPR without the low-quality rule).
  const auto& best = a.best[0].all;
  const auto& cur = a.current.all;
  EXPECT_TRUE(best.bpr() > cur.bpr() || (best.bpr() == cur.bpr() && best.bpr_no_lq() >= cur.bpr_no_lq()))
      << best.bpr() << " " << best.bpr_no_lq() << " vs " << cur.bpr() << " " << cur.bpr_no_lq();
  const auto j = nlohmann::json::parse(coverage_to_json(run_coverage(req.coverage), &a));
  EXPECT_TRUE(j["suggestions"][0]["anchors"].contains("anchor_sizes"));
  EXPECT_TRUE(j["current"]["anchors"].contains("aspect_ratios"));
}

// The bf16 path's drift on torchvision models (engine/precision.h), measured: each oracle architecture on the
// oracle's three images, fp32 against bf16, the share of fp32's detections that bf16 reproduces (same label,
// IoU >= 0.9, |score difference| <= 0.02). Skipped where the CPU has no bf16 arithmetic.
TEST(TvSession, Bf16DetectionsAgreeWithFp32) {
  std::string why;
  if (!engine::cpu_has_bf16(&why)) GTEST_SKIP() << "no bf16 on this CPU: " << why;
  ASSERT_FALSE(dir().empty());
  for (const std::string arch : {"torchvision_resnet50_fpn", "torchvision_resnet50_fpn_v2",
                                 "torchvision_mobilenet_v3_large_fpn"}) {
    auto opts = modeling::tv::tv_preset(arch, 7);
    opts.min_size = 320;
    opts.max_size = 480;
    opts.frozen_bn_eps = 1e-5;
    opts.box_score_thresh = 0.05;
    modeling::tv::TvFasterRCNN model(opts);
    model->load(serialize::read_state_dict(dir() + "/" + arch + ".pth"), arch);
    const auto out = serialize::read_state_dict(dir() + "/" + arch + "_outputs.pth");
    int matched = 0, total = 0;
    for (int i = 0; i < 3; ++i) {
      const auto img = modeling::tv::image_from_rgb8(*out.find("image" + std::to_string(i)));
      const auto a = model->infer({img}).detections[0];
      modeling::tv::TvDetections b;
      {
        engine::PrecisionScope bf16(engine::Precision::BF16);
        b = model->infer({img}).detections[0];
      }
      ASSERT_EQ(b.boxes.scalar_type(), torch::kFloat);
      const auto iou = a.boxes.size(0) && b.boxes.size(0) ? ops::box_iou(a.boxes, b.boxes) : torch::zeros({0, 0});
      for (int64_t j = 0; j < a.boxes.size(0); ++j) {
        ++total;
        for (int64_t k = 0; k < b.boxes.size(0); ++k)
          if (b.labels[k].item<int64_t>() == a.labels[j].item<int64_t>() && iou[j][k].item<float>() >= 0.9f &&
              std::abs(b.scores[k].item<float>() - a.scores[j].item<float>()) <= 0.02f) {
            ++matched;
            break;
          }
      }
    }
    std::printf("%s bf16: %d of %d fp32 detections reproduced (IoU >= 0.9, |d score| <= 0.02): %.1f %%\n",
                arch.c_str(), matched, total, total ? 100.0 * matched / total : 0.0);
    EXPECT_GT(total, 0) << arch;
  }
}
