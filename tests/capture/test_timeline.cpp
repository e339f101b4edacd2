// Training timelines (api/timeline.h): a short run records its probe images at
// iteration 0, at every evaluation and at the end; each line's GT facts are
// those of its capture; forgetting events by hand; probes leave the trained
// weights as they are.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "api/capture.h"
#include "api/dataset.h"
#include "api/timeline.h"
#include "api/train_job.h"
#include "engine/checkpoint.h"

using namespace rcnn;
namespace fs = std::filesystem;

namespace {
api::TrainRequest request(const std::string& run, int probes) {
  api::TrainRequest r;
  r.config = "fast";
  r.run_dir = (fs::temp_directory_path() / ("rcnn_timeline_" + std::to_string(::getpid())) / run).string();
  fs::remove_all(r.run_dir);
  r.device = "cpu";
  r.max_iters = 12;
  r.eval_max_images = 4;
  r.probe_images = probes;
  r.overrides = {"solver.batch_size=2", "solver.eval_period=5", "solver.checkpoint_period=100", "solver.log_period=1",
                 "solver.warmup_iters=2"};
  return r;
}
std::string nlohmann_line(int iter, int f0, int f1) {
  const float score0 = iter == 300 ? 0.3f : 0.1f;
  return "{\"iter\": " + std::to_string(iter) + ", \"image\": \"a.jpg\", \"file\": \"probes/a/x.rcnncap\", " +
         "\"labels\": [0, 1], \"class_names\": [\"a\", \"b\"], \"gt\": [{\"funnel\": " + std::to_string(f0) +
         ", \"score\": " + std::to_string(score0) + ", \"best_iou\": 0.6}, {\"funnel\": " + std::to_string(f1) +
         ", \"score\": 0.9, \"best_iou\": 0.8}]}";
}
}  // namespace

TEST(Timeline, ProbesAtEveryEvaluationMatchTheirCaptures) {
  auto r = request("probes", 2);
  const auto out = api::TrainJob(r).run({});
  ASSERT_EQ(out.state, "completed") << out.message;
  const auto series = api::read_probe_timeline(r.run_dir);
  ASSERT_EQ(series.size(), 2u);
  api::OpenOptions oo;
  oo.split = "val";
  const auto val = api::open_dataset(api::default_dataset_dir(), oo);
  for (size_t p = 0; p < 2; ++p) {
    const auto& s = series[p];
    EXPECT_EQ(s.image, fs::path(val.images[p].path).filename().string());  // the first val images, in order
    EXPECT_EQ(s.iters, (std::vector<int64_t>{0, 5, 10, 12}));  // before training, evaluations at 5 and 10, the end
    ASSERT_EQ(s.gt.size(), val.images[p].objects.size());
    for (size_t e = 0; e < s.iters.size(); ++e) {
      const auto c = api::load_capture(s.files[e]);
      EXPECT_NE(c.trace.model_label.find("@ iteration " + std::to_string(s.iters[e])), std::string::npos);
      EXPECT_FALSE(c.model.random_weights);
      EXPECT_TRUE(c.trace.train.valid);
      for (size_t g = 0; g < s.gt.size(); ++g) {
        const auto q = api::probe_gt_point(c.trace, int(g));
        EXPECT_EQ(s.gt[g][e].funnel, q.funnel);
        EXPECT_FLOAT_EQ(s.gt[g][e].score, q.score);
        EXPECT_FLOAT_EQ(s.gt[g][e].best_iou, q.best_iou);
        EXPECT_EQ(s.gt[g][e].funnel, c.trace.gt[g].funnel);
      }
    }
    // The weights change between probes: the iteration-0 capture is not the last one.
    EXPECT_NE(api::load_capture(s.files.front()).model.weights_hash,
              api::load_capture(s.files.back()).model.weights_hash);
  }
  // The probes do not draw from the run's random stream: the same run without them trains the same weights.
  auto q = request("no_probes", 0);
  ASSERT_EQ(api::TrainJob(q).run({}).state, "completed");
  EXPECT_FALSE(fs::exists(q.run_dir + "/probes"));
  DetectorConfig cfg;
  auto a = engine::load_model(r.run_dir + "/last.pt", torch::kCPU, &cfg);
  auto b = engine::load_model(q.run_dir + "/last.pt", torch::kCPU, &cfg);
  auto pb = b->named_parameters();
  for (const auto& p : a->named_parameters()) ASSERT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  fs::remove_all(fs::path(r.run_dir).parent_path());
}

TEST(Timeline, ForgettingIsDetectedThenLost) {
  const auto dir = fs::temp_directory_path() / ("rcnn_forget_" + std::to_string(::getpid()));
  fs::create_directories(dir / "probes");
  const int D = int(api::Funnel::Detected), M = int(api::Funnel::Misclassified), S = int(api::Funnel::SuppressedByNms);
  {
    std::ofstream f(dir / "probes" / "index.jsonl");
    const int g0[] = {M, D, M, D, S}, g1[] = {D, D, D, D, D};
    for (int e = 0; e < 5; ++e) f << nlohmann_line(e * 100, g0[e], g1[e]) << "\n";
  }
  const auto s = api::read_probe_timeline(dir.string());
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].iters, (std::vector<int64_t>{0, 100, 200, 300, 400}));
  EXPECT_EQ(s[0].forgotten[0], (std::vector<int>{2, 4}));  // lost at 200 and at 400; the start (M) is no event
  EXPECT_TRUE(s[0].forgotten[1].empty());
  EXPECT_FLOAT_EQ(s[0].gt[0][3].score, 0.3f);
  std::ofstream(dir / "probes" / "index.jsonl", std::ios::app) << "{\"iter\": 5, \"image\": \"a.jpg\"}\n";
  try {
    api::read_probe_timeline(dir.string());
    ADD_FAILURE() << "a malformed line was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("index.jsonl: line 6 is malformed"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Timeline, TheGtPointIsItsBestCoveringRoisClassProbability) {
  api::PipelineTrace t;
  t.class_names = {"a", "b"};
  api::GtInfo g;
  g.box = {0, 0, 10, 10};
  g.label = 1;
  g.funnel = api::Funnel::Misclassified;
  t.gt = {g};
  api::Proposal p0, p1, p2;
  p0.box = {0, 0, 10, 10};  // IoU 1
  p1.box = {0, 0, 10, 5};   // IoU 0.5
  p2.box = {0, 0, 10, 4};   // IoU 0.4: not covering; but the best IoU is over every candidate
  t.proposals = {p0, p1, p2};
  t.kept = {1, 2, 0};
  // class_probs per kept RoI: background, a, b
  t.class_probs = {0.1f, 0.2f, 0.7f, /* p2 */ 0.0f, 0.1f, 0.9f, /* p0 */ 0.5f, 0.4f, 0.1f};
  const auto q = api::probe_gt_point(t, 0);
  EXPECT_FLOAT_EQ(q.score, 0.7f);  // p1's, not p2's 0.9 (IoU 0.4 < 0.5)
  EXPECT_FLOAT_EQ(q.best_iou, 1.f);
  EXPECT_EQ(q.funnel, api::Funnel::Misclassified);
}
