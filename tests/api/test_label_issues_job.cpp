// The label doctor's job (api/label_issues_job.h), both detector families:
// K fold models, each trained on the other folds (the one trainer), each fold
// predicted by the model that did not see it; a rerun reuses the finished
// folds; a checkpoint whose run trained on the split is warned about.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "api/dataset.h"
#include "api/eval_job.h"
#include "api/label_issues_job.h"

namespace fs = std::filesystem;
using namespace rcnn::api;

namespace {

struct Family {
  const char* name;
  std::string preset;
  std::vector<std::string> overrides;
};
const Family kSeed{"seed", "fast", {"solver.batch_size=2"}};
const Family kTorchvision{"torchvision",
                          "torchvision_mobilenet_v3_large_fpn",
                          {"solver.batch_size=2", "torchvision.min_size=128", "torchvision.max_size=128"}};
void PrintTo(const Family& f, std::ostream* os) {
  *os << f.name;
}

fs::path scratch() {
  return fs::temp_directory_path() / ("rcnn_label_job_" + std::to_string(::getpid()));
}

class LabelIssuesJobTest : public ::testing::TestWithParam<Family> {
 protected:
  static void SetUpTestSuite() {
    FashionRequest r;
    r.out = (scratch() / "data").string();
    r.train = 12;
    r.val = 0;
    r.test = 0;
    r.seed = 5;
    make_fashion_dataset(r);
  }
  static void TearDownTestSuite() { fs::remove_all(scratch()); }

  LabelIssuesRequest request() const {
    LabelIssuesRequest q;
    q.dataset = (scratch() / "data").string();
    q.split = "train";
    q.folds = 2;
    q.config = GetParam().preset;
    q.overrides = GetParam().overrides;
    q.max_iters = 1;
    q.device = "cpu";
    q.run_root = (scratch() / (std::string(GetParam().name) + "_runs")).string();
    return q;
  }
};

}  // namespace

TEST_P(LabelIssuesJobTest, EachFoldIsPredictedByTheModelThatDidNotSeeIt) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto q = request();
  std::vector<std::string> said;
  LabelIssuesEvents ev;
  ev.on_message = [&](const std::string& m) { said.push_back(m); };
  const auto res = LabelIssuesJob(q).run(ev);
  ASSERT_EQ(res.state, "completed") << res.message;
  ASSERT_EQ(res.images.size(), 12u);
  std::set<std::string> ids[2];
  for (const auto& im : res.images) ids[fold_of(im.id, 2)].insert(im.id);
  for (int k = 0; k < 2; ++k) {
    const fs::path dir = fs::path(q.run_root) / ("fold" + std::to_string(k));
    const RunData rd = read_run_data(dir.string());
    ASSERT_TRUE(rd.found) << dir;
    EXPECT_EQ(rd.folds, 2);
    EXPECT_EQ(rd.fold, k);
    EXPECT_EQ(rd.train_split, "train");
    // It trained on the other fold's images only.
    EXPECT_EQ(size_t(rd.images), ids[1 - k].size());
    EXPECT_TRUE(fs::exists(dir / "last.pt"));
  }
  // Fold 0's images carry fold 0's model's predictions (the model that did not see them), not fold 1's.
  for (int k = 0; k < 2; ++k) {
    EvalRequest er;
    er.checkpoint = (fs::path(q.run_root) / ("fold" + std::to_string(k)) / "last.pt").string();
    er.config = q.config;
    er.dataset = q.dataset;
    er.split = "train";
    er.device = "cpu";
    er.score_thresh = q.options.min_score;
    er.image_ids.assign(ids[k].begin(), ids[k].end());
    const auto rep = run_evaluation(er);
    size_t compared = 0;
    for (size_t j = 0; j < rep.image_paths.size(); ++j)
      for (const auto& im : res.images)
        if (im.path == rep.image_paths[j]) {
          ASSERT_EQ(im.predictions.size(), rep.detections[j].size()) << im.id;
          for (size_t p = 0; p < im.predictions.size(); ++p)
            EXPECT_FLOAT_EQ(im.predictions[p].score, rep.detections[j][p].score);
          compared += im.predictions.size();
        }
    EXPECT_GT(compared, 0u) << "fold " << k << ": no predictions to compare";
  }
  // Rerun: both folds are reused, and the predictions are the same.
  said.clear();
  const auto again = LabelIssuesJob(q).run(ev);
  ASSERT_EQ(again.state, "completed") << again.message;
  int reused = 0;
  for (const auto& m : said) reused += m.find("trained before") != std::string::npos;
  EXPECT_EQ(reused, 2);
  for (size_t i = 0; i < res.images.size(); ++i) {
    ASSERT_EQ(res.images[i].predictions.size(), again.images[i].predictions.size());
    for (size_t p = 0; p < res.images[i].predictions.size(); ++p)
      EXPECT_FLOAT_EQ(res.images[i].predictions[p].score, again.images[i].predictions[p].score);
  }
  // A fold model used as the checkpoint: its run says it trained on this split.
  auto c = request();
  c.folds = 0;
  c.checkpoint = (fs::path(q.run_root) / "fold0" / "last.pt").string();
  const auto warned = LabelIssuesJob(c).run();
  ASSERT_EQ(warned.state, "completed") << warned.message;
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_NE(warned.warnings[0].find("was trained on this split (all but fold 0 of 2)"), std::string::npos)
      << warned.warnings[0];
}

INSTANTIATE_TEST_SUITE_P(Families, LabelIssuesJobTest, ::testing::Values(kSeed, kTorchvision),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LabelIssuesJobErrors, NeitherACheckpointNorFoldsIsAnErrorThatSaysWhatToPass) {
  LabelIssuesRequest q;
  q.split = "val";
  const auto r = LabelIssuesJob(q).run();
  EXPECT_EQ(r.state, "failed");
  EXPECT_NE(r.message.find("--checkpoint C"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("--folds K"), std::string::npos) << r.message;
}
