#pragma once
// rcnn_bench --explain (bench/explain_eval.cpp): does a map point at the
// object (pointing game, deletion against baselines), and what it costs.
namespace rcnn::bench {
int explain_main(int argc, char** argv);
}  // namespace rcnn::bench
