// Reading files written by Python's torch.save (fixtures made by
// make_fixtures.py, checked in): values, dtypes, views that share a storage,
// the checkpoint form, and clear errors for what is not a state dict.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "serialize/state_dict.h"

using namespace rcnn::serialize;

namespace {
const std::string kDir = RCNN_SERIALIZE_FIXTURES;

std::string error_of(const std::string& path) {
  try {
    read_state_dict(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void expect_fixture(const StateDict& sd) {
  std::vector<std::string> keys;
  for (const auto& e : sd.entries) keys.push_back(e.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.running_var", "bn.num_batches_tracked",
                                            "half", "view.t", "view.row", "flags"}));
  const auto& w = *sd.find("conv.weight");
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{2, 3, 2, 2}));
  EXPECT_EQ(w.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(w, torch::arange(24, torch::kFloat).reshape({2, 3, 2, 2}) / 8 - 1));
  EXPECT_TRUE(torch::equal(*sd.find("conv.bias"), torch::tensor({0.5f, -2.25f})));
  const auto& v = *sd.find("bn.running_var");
  EXPECT_EQ(v.scalar_type(), torch::kDouble);
  EXPECT_EQ(v[0].item<double>(), 1e-5);
  const auto& n = *sd.find("bn.num_batches_tracked");
  EXPECT_EQ(n.dim(), 0);
  EXPECT_EQ(n.scalar_type(), torch::kLong);
  EXPECT_EQ(n.item<int64_t>(), 7);
  EXPECT_EQ(sd.find("half")->scalar_type(), torch::kHalf);
  EXPECT_EQ(sd.find("half")->to(torch::kFloat)[1].item<float>(), -0.125f);
  const auto base = torch::arange(12, torch::kInt).reshape({3, 4});
  EXPECT_TRUE(torch::equal(*sd.find("view.t"), base.t()));
  EXPECT_TRUE(torch::equal(*sd.find("view.row"), base[1]));
  EXPECT_EQ(sd.find("view.t")->storage().data(), sd.find("view.row")->storage().data());  // one storage
  EXPECT_TRUE(torch::equal(*sd.find("flags"), torch::tensor({true, false, true})));
  EXPECT_EQ(sd.find("missing"), nullptr);
}
}  // namespace

TEST(StateDict, ReadsAnOrderedDictAsTorchSaveWritesIt) {
  expect_fixture(read_state_dict(kDir + "/state_dict.pth"));
}

TEST(StateDict, ReadsTheModelOfACheckpointDict) {
  expect_fixture(read_state_dict(kDir + "/checkpoint.pth"));
}

TEST(StateDict, ErrorsNameTheFileAndTheProblem) {
  EXPECT_NE(error_of(kDir + "/list.pth").find("list.pth: holds a list, not a state dict"), std::string::npos)
      << error_of(kDir + "/list.pth");
  EXPECT_NE(error_of(kDir + "/legacy.pth").find("legacy.pth: not a torch.save zip archive"), std::string::npos);
  EXPECT_NE(error_of(kDir + "/nope.pth").find("nope.pth: cannot open"), std::string::npos);
  // Truncated: every prefix of the file is an error, never a crash.
  std::ifstream f(kDir + "/state_dict.pth", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const auto tmp = (std::filesystem::temp_directory_path() / "rcnn_truncated.pth").string();
  for (size_t cut : {size_t(10), bytes.size() / 3, bytes.size() / 2, bytes.size() - 30}) {
    std::ofstream(tmp, std::ios::binary).write(bytes.data(), std::streamsize(cut));
    const auto e = error_of(tmp);
    EXPECT_NE(e.find("rcnn_truncated.pth: "), std::string::npos) << cut << ": " << e;
  }
  std::filesystem::remove(tmp);
  // Found by scripts/fuzz.sh (pth): a record with a damaged local header made
  // getRecord throw a c10::Error (not a std::runtime_error, no file name).
  const std::string fuzzed = RCNN_FUZZ_CORPUS "/pth/regression_corrupt_record.pth";
  try {
    read_state_dict(fuzzed);
    FAIL() << "no error for " << fuzzed;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("regression_corrupt_record.pth: damaged zip archive"), std::string::npos)
        << e.what();
  }
}
