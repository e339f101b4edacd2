#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "api/eval_job.h"
#include "api/train_job.h"
#include "data/dataset.h"
#include "data/fashion_synth.h"
#include "engine/checkpoint.h"
#include "engine/trainer.h"

namespace fs = std::filesystem;
using namespace rcnn;

namespace {
fs::path tiny_dataset() {
  static fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("rcnn_tiny_" + std::to_string(::getpid()));
    fs::remove_all(d);
    data::FashionOptions o;
    o.out = d.string();
    o.train = 8;
    o.val = 4;
    o.test = 2;
    o.seed = 5;
    data::make_fashion_dataset(o);
    return d;
  }();
  return dir;
}

api::TrainRequest request(const std::string& run) {
  api::TrainRequest r;
  r.dataset = tiny_dataset().string();
  r.config = "fast";
  r.run_dir = (fs::temp_directory_path() / ("rcnn_run_" + std::to_string(::getpid())) / run).string();
  fs::remove_all(r.run_dir);
  r.device = "cpu";
  r.max_iters = 20;
  r.overrides = {"solver.batch_size=2", "solver.eval_period=0", "solver.checkpoint_period=5", "solver.log_period=1",
                 "solver.warmup_iters=3"};
  return r;
}

std::map<std::string, torch::Tensor> weights(const std::string& ckpt) {
  DetectorConfig cfg;
  auto m = engine::load_model(ckpt, torch::kCPU, &cfg);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m->named_parameters()) out[p.key()] = p.value().clone();
  for (const auto& p : m->named_buffers()) out[p.key()] = p.value().clone();
  return out;
}
}  // namespace

TEST(FashionDataset, DeterministicVocLayout) {
  auto d = tiny_dataset();
  data::LoadOptions o;
  o.strict = true;
  auto ds = data::open_dataset(d.string(), o);
  EXPECT_EQ(ds.size(), 8u);
  EXPECT_EQ(ds.class_names.size(), 10u);
  for (const auto& r : ds.images) {
    EXPECT_GE(r.objects.size(), 1u);
    EXPECT_LE(r.objects.size(), 6u);
    for (const auto& a : r.objects) {
      EXPECT_GE(a.x1, 0);
      EXPECT_LE(a.x2, 224);
      const float side = std::max(a.x2 - a.x1, a.y2 - a.y1);
      EXPECT_GE(side, 12);  // items are 24-140 px; the tight box of the mask can be smaller than the item's cell
      EXPECT_LE(side, 141);
    }
  }
  auto d2 = fs::temp_directory_path() / ("rcnn_tiny2_" + std::to_string(::getpid()));
  data::FashionOptions fo;
  fo.out = d2.string();
  fo.train = 8;
  fo.val = 4;
  fo.test = 2;
  fo.seed = 5;
  data::make_fashion_dataset(fo);
  for (const char* f : {"Annotations/train_000003.xml", "Annotations/val_000001.xml"}) {
    std::ifstream a(d / f), b(d2 / f);
    std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_EQ(sa, sb) << f;
  }
}

TEST(Training, ResumeIsBitExact) {
  torch::set_num_threads(2);
  auto a = request("straight");
  auto ra = api::TrainJob(a).run({});
  ASSERT_EQ(ra.state, "completed") << ra.message;
  EXPECT_EQ(ra.iterations, 20);

  auto b = request("resumed");
  api::TrainJob first(b);
  api::TrainEvents ev;
  ev.on_progress = [&](const api::TrainProgress& p) {
    if (p.iter == 10) first.request_stop();
  };
  auto rb1 = first.run(ev);
  ASSERT_EQ(rb1.state, "stopped") << rb1.message;
  EXPECT_EQ(rb1.iterations, 10);
  b.resume = true;
  auto rb2 = api::TrainJob(b).run({});
  ASSERT_EQ(rb2.state, "completed") << rb2.message;
  EXPECT_EQ(rb2.iterations, 20);

  auto wa = weights(a.run_dir + "/last.pt"), wb = weights(b.run_dir + "/last.pt");
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [k, v] : wa) EXPECT_TRUE(torch::equal(v, wb[k])) << k;
  // The curve continues: one train line per iteration 1..20, no duplicates.
  std::ifstream log(b.run_dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(log, l);) lines += l.find("\"type\":\"train\"") != std::string::npos;
  EXPECT_EQ(lines, 20);
  EXPECT_TRUE(fs::exists(b.run_dir + "/config.json"));
}

TEST(Training, NanLossStopsAndKeepsLastCheckpoint) {
  auto cfg = load_preset("fast");
  cfg.solver.batch_size = 2;
  cfg.solver.checkpoint_period = 2;
  cfg.solver.eval_period = 0;
  engine::TrainOptions to;
  to.run_dir = (fs::temp_directory_path() / ("rcnn_nan_" + std::to_string(::getpid()))).string();
  fs::remove_all(to.run_dir);
  to.device = "cpu";
  to.max_iters = 10;
  engine::Trainer tr(cfg, to);
  int calls = 0;
  engine::DataSource src;
  src.start_epoch = [](int64_t, int64_t) {};
  src.next = [&]() -> std::optional<pipeline::LossBatch> {
    pipeline::LossBatch b;
    b.gt = torch::tensor({20.f, 20.f, 120.f, 100.f, 1.f}).view({1, 1, 5}).repeat({2, 1, 1});
    b.inputs = torch::randn({2, 3, 224, 224});
    if (++calls == 4) b.inputs[0][0][0][0] = NAN;
    return b;
  };
  auto r = tr.run(src, {});
  EXPECT_EQ(r.state, engine::TrainResult::State::Failed);
  EXPECT_NE(r.message.find("non-finite loss at iteration 3"), std::string::npos) << r.message;
  auto meta = engine::read_checkpoint_meta(to.run_dir + "/last.pt");
  EXPECT_EQ(meta.iteration, 2);
}

TEST(Evaluation, RunsOnADatasetSplit) {
  api::EvalRequest r;
  r.config = "fast";
  r.dataset = tiny_dataset().string();
  r.split = "val";
  r.device = "cpu";
  auto rep = api::run_evaluation(r);
  EXPECT_EQ(rep.result.num_images, 4);
  EXPECT_EQ(rep.detections.size(), 4u);
  EXPECT_GE(rep.result.map50, 0.0);
  EXPECT_LE(rep.result.map50, 1.0);
  r.dataset = "/nonexistent";
  EXPECT_THROW(api::run_evaluation(r), std::exception);
}

TEST(Training, SingleCocoFileNeedsAHeldOutValidationSet) {
  auto r = request("coco_single");
  r.dataset = std::string(RCNN_TEST_DATA) + "/coco/instances.json";
  r.max_iters = 1;
  api::TrainJob job(r);
  std::string said;
  api::TrainEvents ev;
  ev.on_message = [&](const std::string& m) { said += m + "\n"; };
  auto out = job.run(ev);
  EXPECT_EQ(out.state, "failed");
  EXPECT_NE(out.message.find("instances.json"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("--val-fraction"), std::string::npos) << out.message;
  // With a held-out fraction it trains, validating on images it does not train on.
  r.val_fraction = 0.5;
  api::TrainJob job2(r);
  said.clear();
  auto ok = job2.run(ev);
  EXPECT_EQ(ok.state, "completed") << ok.message;
  EXPECT_NE(said.find("1 images held out"), std::string::npos) << said;
  EXPECT_NE(said.find("train: 1 images"), std::string::npos) << said;
}
