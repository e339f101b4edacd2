#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/transforms.h"

using namespace rcnn::data;

TEST(Transforms, StretchLetterboxFlipRoundTrip) {
  Annotation a;
  a.x1 = 10;
  a.y1 = 20;
  a.x2 = 110;
  a.y2 = 60;
  for (const char* mode : {"stretch", "letterbox"}) {
    for (bool flip : {false, true}) {
      auto t = make_resize(400, 200, 224, mode);
      cv::Mat img(200, 400, CV_8UC3, cv::Scalar(1, 2, 3));
      cv::Mat out = apply_resize(img, t);
      if (flip) apply_hflip(out, t);
      EXPECT_EQ(out.rows, 224);
      EXPECT_EQ(out.cols, 224);
      auto f = t.forward(a);
      float x1 = f.x1, y1 = f.y1, x2 = f.x2, y2 = f.y2;
      t.backward(x1, y1, x2, y2);
      EXPECT_NEAR(x1, 10, 1e-4);
      EXPECT_NEAR(y1, 20, 1e-4);
      EXPECT_NEAR(x2, 110, 1e-4);
      EXPECT_NEAR(y2, 60, 1e-4);
    }
  }
  // Hand values: stretch 400x200 -> 224: sx = 0.56, sy = 1.12.
  auto s = make_resize(400, 200, 224, "stretch").forward(a);
  EXPECT_FLOAT_EQ(s.x1, 5.6f);
  EXPECT_FLOAT_EQ(s.y2, 67.2f);
  // Letterbox keeps the aspect ratio: scale 0.56 on both axes.
  auto l = make_resize(400, 200, 224, "letterbox").forward(a);
  EXPECT_FLOAT_EQ(l.y2, 33.6f);
  // Flip mirrors x: x1' = 224 - x2 * sx.
  auto t = make_resize(400, 200, 224, "stretch");
  cv::Mat m(200, 400, CV_8UC3);
  cv::Mat r = apply_resize(m, t);
  apply_hflip(r, t);
  EXPECT_FLOAT_EQ(t.forward(a).x1, 224 - 110 * 0.56f);
}

TEST(Transforms, Normalization) {
  cv::Mat img(2, 2, CV_8UC3, cv::Scalar(255, 0, 51));
  auto t = to_tensor(img, {0.5f, 0.f, 0.f}, {0.5f, 1.f, 2.f});
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), 1.f);  // (1 - 0.5) / 0.5
  EXPECT_FLOAT_EQ(t[1][1][1].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(t[2][0][1].item<float>(), 0.1f);  // 0.2 / 2
}
