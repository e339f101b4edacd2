#include <gtest/gtest.h>

#include "data/dataset.h"

using namespace rcnn::data;

TEST(Coco, NonContiguousCategoriesAndCrowd) {
  LoadOptions o;
  o.strict = true;
  auto ds = open_dataset(std::string(RCNN_TEST_DATA) + "/coco/instances.json", o);
  EXPECT_EQ(ds.format, Format::COCO);
  // Categories sorted by id: 3 horse -> 0, 7 zebra -> 1.
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"horse", "zebra"}));
  ASSERT_EQ(ds.size(), 2u);
  const auto& a = ds.images[0];
  ASSERT_EQ(a.objects.size(), 2u);
  EXPECT_EQ(a.objects[0].label, 1);
  EXPECT_FLOAT_EQ(a.objects[0].x1, 2);
  EXPECT_FLOAT_EQ(a.objects[0].y2, 15);  // y + h
  EXPECT_TRUE(a.objects[1].crowd);
  // The annotation's own area is kept (pycocotools' area ranges use it); none given: < 0, the box stands in.
  EXPECT_FLOAT_EQ(a.objects[0].area, 87.5f);
  EXPECT_LT(a.objects[1].area, 0.f);
  EXPECT_NE(a.path.find("images/a.png"), std::string::npos);
  EXPECT_EQ(ds.images[1].objects[0].label, 0);
}

TEST(Folder, ListsImagesSorted) {
  auto ds = open_dataset(std::string(RCNN_TEST_DATA) + "/voc/JPEGImages");
  EXPECT_EQ(ds.format, Format::Folder);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.images[0].id, "img1");
  EXPECT_TRUE(ds.images[0].objects.empty());
}
