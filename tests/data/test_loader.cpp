#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "data/loader.h"

using namespace rcnn::data;

namespace {
Dataset voc() {
  LoadOptions o;
  return read_voc(std::string(RCNN_TEST_DATA) + "/voc", o);
}
}  // namespace

TEST(Loader, PadsGtWithMinusOneRows) {
  auto ds = voc();
  LoaderOptions o;
  o.batch_size = 2;
  o.shuffle = false;
  o.num_workers = 0;
  o.input_size = 64;
  DataLoader L(ds, o);
  L.start_epoch(0);
  auto b = L.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->images.sizes(), (std::vector<int64_t>{2, 3, 64, 64}));
  EXPECT_EQ(b->gt.sizes(), (std::vector<int64_t>{2, 2, 5}));
  // Image 2 has one object: its second row is padding.
  EXPECT_TRUE(torch::equal(b->gt[1][1], torch::full({5}, -1.f)));
  // Image 1, object 0: (0, 0, 10, 20) scaled by 64/40, 64/30; class dog = 1.
  EXPECT_NEAR(b->gt[0][0][2].item<float>(), 10 * 64.f / 40.f, 1e-4);
  EXPECT_NEAR(b->gt[0][0][3].item<float>(), 20 * 64.f / 30.f, 1e-4);
  EXPECT_EQ(b->gt[0][0][4].item<float>(), 1.f);
  EXPECT_FALSE(L.next());
}

TEST(Loader, DeterministicAcrossWorkerCountsAndDropLast) {
  auto ds = voc();
  ds.images.push_back(ds.images[0]);
  ds.images.push_back(ds.images[1]);
  ds.images.push_back(ds.images[0]);  // 5 images
  LoaderOptions o;
  o.batch_size = 2;
  o.hflip = true;
  o.color_jitter = 0.3;
  o.scale_jitter = 0.5;
  o.seed = 3;
  o.input_size = 32;
  o.num_workers = 0;
  DataLoader a(ds, o);
  o.num_workers = 2;
  DataLoader b(ds, o);
  EXPECT_EQ(a.batches_per_epoch(), 2u);  // drop_last
  for (int epoch = 0; epoch < 2; ++epoch) {
    a.start_epoch(epoch);
    b.start_epoch(epoch);
    int n = 0;
    while (auto x = a.next()) {
      auto y = b.next();
      ASSERT_TRUE(y);
      EXPECT_EQ(x->indices, y->indices);
      EXPECT_TRUE(torch::equal(x->images, y->images));
      EXPECT_TRUE(torch::equal(x->gt, y->gt));
      // Zoom-out keeps every box inside the input.
      auto real = x->gt.select(2, 4) >= 0;
      auto coords = x->gt.narrow(2, 0, 4);
      EXPECT_TRUE(((coords >= 0) | ~real.unsqueeze(2)).all().item<bool>());
      EXPECT_TRUE(((coords <= 32) | ~real.unsqueeze(2)).all().item<bool>());
      ++n;
    }
    EXPECT_FALSE(b.next());
    EXPECT_EQ(n, 2);
  }
  o.drop_last = false;
  DataLoader c(ds, o);
  EXPECT_EQ(c.batches_per_epoch(), 3u);
}

// DistributedSampler semantics: every rank shuffles alike; the ranks' shards
// of an epoch are disjoint, together they are the one-process order cut into
// global batches, and a resumed epoch (first_image) continues it under any
// world size.
TEST(Loader, RankShardsAreDisjointAndCoverTheEpoch) {
  auto ds = voc();
  while (ds.images.size() < 23) ds.images.push_back(ds.images[ds.images.size() % 2]);  // 23 images
  LoaderOptions o;
  o.batch_size = 2;
  o.seed = 11;
  o.input_size = 16;
  o.num_workers = 0;
  o.cache = false;
  for (int world : {1, 2, 3}) {
    std::vector<std::vector<size_t>> per_rank(static_cast<size_t>(world));
    std::vector<size_t> order;
    size_t batches = 0;
    for (int r = 0; r < world; ++r) {
      auto opt = o;
      opt.world_size = world;
      opt.rank = r;
      DataLoader L(ds, opt);
      order = L.epoch_order(4);
      batches = L.batches_per_epoch();
      EXPECT_EQ(batches, 23u / size_t(2 * world));
      L.start_epoch(4);
      while (auto b = L.next()) {
        ASSERT_EQ(b->indices.size(), 2u);
        per_rank[size_t(r)].insert(per_rank[size_t(r)].end(), b->indices.begin(), b->indices.end());
      }
    }
    // Global batch k = ranks 0..W-1's k-th batches, in rank order = order[k*2W, (k+1)*2W).
    std::vector<size_t> joined;
    for (size_t k = 0; k < batches; ++k)
      for (int r = 0; r < world; ++r)
        joined.insert(joined.end(), per_rank[size_t(r)].begin() + long(2 * k), per_rank[size_t(r)].begin() + long(2 * k + 2));
    EXPECT_EQ(joined, std::vector<size_t>(order.begin(), order.begin() + long(batches * size_t(2 * world))))
        << "world " << world;
    EXPECT_EQ(std::set<size_t>(joined.begin(), joined.end()).size(), joined.size()) << "shards overlap";
  }
  // Resume: 2 ranks consumed 8 images; one process continues at image 8.
  auto opt = o;
  DataLoader one(ds, opt);
  const auto order = one.epoch_order(4);
  one.start_epoch(4, 8);
  auto b = one.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->indices, (std::vector<size_t>{order[8], order[9]}));
}
