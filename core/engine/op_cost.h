#pragma once
// What a piece of inference costs, stage by stage: the time spent, the
// floating-point work done and the bytes its operators touched; the
// roofline (rcnn_bench --roofline) and the studio's status bar read it.
//
// A CostRecorder watches every ATen operator this thread dispatches while it
// lives (through ATen's RecordFunction callbacks, the hooks PyTorch's own
// profiler uses). Only the outermost operator of a call counts — conv2d, not
// the convolution -> mkldnn_convolution it calls inside:
//  - FLOPs, 2 per multiply-add: a convolution 2 x output elements x
//    (C_in / groups x kh x kw), a matrix product 2 x M x N x K (linear,
//    addmm, mm, bmm, matmul, oneDNN's inner product); elementwise work is
//    not counted (it is bandwidth, not arithmetic);
//  - bytes: the sizes of its tensor operands and results, each counted once
//    (the traffic it cannot avoid if nothing stays in cache).
// The project's own kernels announce themselves the same way
// (RECORD_FUNCTION "rcnn::nms", "rcnn::roi_align"), and their time goes to
// the stage of that name wherever they run.
//
// Stages are named by StageMark scopes in the models (pipeline order:
// transform, backbone, fpn, rpn_head, anchors_decode, nms, roi_align,
// box_head, postprocess); time outside any mark is "other". A nested mark
// takes the time over and hands it back: each stage's time is its own.
// Without a recorder on the thread a StageMark is one thread-local check.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rcnn::engine {

struct StageCost {
  std::string stage;
  double ms = 0, flops = 0, bytes = 0;
  int64_t ops = 0;     // outermost operators counted
  int64_t visits = 0;  // times the stage was entered
};

// One operator's share of a stage: its outermost calls, their time
// (inclusive of what they call) and work.
struct OpCost {
  std::string stage, op;
  int64_t calls = 0;
  double ms = 0, flops = 0, bytes = 0;
};

class CostRecorder {
 public:
  CostRecorder();  // throws std::logic_error when this thread already has one
  ~CostRecorder();
  CostRecorder(const CostRecorder&) = delete;
  CostRecorder& operator=(const CostRecorder&) = delete;
  static bool active();  // whether this thread has one

  // Per stage, in the order each was first entered; the time of a stage
  // still open is counted up to now.
  std::vector<StageCost> stages() const;
  StageCost total() const;  // stage "total": the sums
  // Per (stage, operator), the most time first.
  std::vector<OpCost> ops() const;

  struct State;  // the thread's open stages and totals (op_cost.cpp)

 private:
  std::unique_ptr<State> s_;
};

class StageMark {
 public:
  explicit StageMark(const char* stage);  // a string literal: kept by pointer
  ~StageMark();
  StageMark(const StageMark&) = delete;
  StageMark& operator=(const StageMark&) = delete;

 private:
  bool on_ = false;
};

// The FLOPs of one operator call from its name and operand shapes (the rule
// above), 0 for operators that are not convolutions or matrix products.
// `out` are the result's sizes. Exposed for the tests.
double op_flops(const std::string& op, const std::vector<std::vector<int64_t>>& in_sizes,
                const std::vector<int64_t>& out);

}  // namespace rcnn::engine
