#pragma once
// rcnn_bench --roofline (bench/roofline.cpp).
namespace rcnn::bench {
// argv[1] is "--roofline"; throws std::invalid_argument on a bad option.
int roofline_main(int argc, char** argv);
}  // namespace rcnn::bench
