#include <gtest/gtest.h>

#include "data/dataset.h"

using namespace rcnn::data;

TEST(Voc, ReadsSplitClassesAndConvention) {
  LoadOptions o;
  o.strict = true;
  auto ds = read_voc(std::string(RCNN_TEST_DATA) + "/voc", o);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));  // discovered, sorted
  const auto& a = ds.images[0];
  EXPECT_EQ(a.width, 40);
  EXPECT_EQ(a.height, 30);
  ASSERT_EQ(a.objects.size(), 2u);
  // VOC (1, 1, 10, 20) 1-based inclusive -> (0, 0, 10, 20) continuous.
  EXPECT_FLOAT_EQ(a.objects[0].x1, 0);
  EXPECT_FLOAT_EQ(a.objects[0].y1, 0);
  EXPECT_FLOAT_EQ(a.objects[0].x2, 10);
  EXPECT_FLOAT_EQ(a.objects[0].y2, 20);
  EXPECT_EQ(a.objects[0].label, 1);
  EXPECT_TRUE(a.objects[0].truncated);
  EXPECT_TRUE(a.objects[1].difficult);
  EXPECT_FLOAT_EQ(a.objects[1].x2, 40);  // touches the right edge: kept as is
  EXPECT_NE(ds.images[1].path.find("img2.jpg"), std::string::npos);
  o.split = "val";
  auto val = open_dataset(std::string(RCNN_TEST_DATA) + "/voc", o);
  EXPECT_EQ(val.format, Format::VOC);
  EXPECT_EQ(val.size(), 1u);
}
