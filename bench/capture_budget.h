#pragma once
// rcnn_bench --capture (bench/capture_budget.cpp): what a capture costs to
// write, to open and on disk, against the trace it holds.
namespace rcnn::bench {
int capture_main(int argc, char** argv);
}  // namespace rcnn::bench
