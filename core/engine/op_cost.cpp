#include "engine/op_cost.h"

#include <ATen/record_function.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace rcnn::engine {

namespace {
using Clock = std::chrono::steady_clock;

double prod(const std::vector<int64_t>& s, size_t from = 0) {
  double p = 1;
  for (size_t i = from; i < s.size(); ++i) p *= double(s[i]);
  return p;
}

bool is_conv(const std::string& op) {
  static const char* names[] = {"aten::conv1d",
                                "aten::conv2d",
                                "aten::conv3d",
                                "aten::convolution",
                                "aten::_convolution",
                                "aten::_convolution_mode",
                                "aten::mkldnn_convolution"};
  for (const char* n : names)
    if (op == n) return true;
  return false;
}

void add_tensor_bytes(const c10::IValue& v, double& bytes) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (t.defined()) bytes += double(t.numel()) * double(t.element_size());
  } else if (v.isTensorList()) {
    for (const at::Tensor& t : v.toTensorList())
      if (t.defined()) bytes += double(t.numel()) * double(t.element_size());
  }
}
}  // namespace

double op_flops(const std::string& op, const std::vector<std::vector<int64_t>>& in, const std::vector<int64_t>& out) {
  if (out.empty() && !in.empty()) return 0;
  const auto K_of = [&](size_t i) { return i < in.size() && !in[i].empty() ? double(in[i].back()) : 0.0; };
  if (is_conv(op)) {
    if (in.size() < 2 || in[1].size() < 2) return 0;
    return 2 * prod(out) * prod(in[1], 1);  // 2 x outputs x (C_in/groups x kernel)
  }
  if (op == "aten::linear" || op == "aten::mkldnn_linear") return 2 * prod(out) * K_of(1);
  if (op == "aten::addmm" || op == "aten::baddbmm" || op == "aten::addbmm") return 2 * prod(out) * K_of(1);
  if (op == "aten::mm" || op == "aten::bmm" || op == "aten::matmul") return 2 * prod(out) * K_of(0);
  return 0;
}

struct CostRecorder::State {
  std::vector<StageCost> costs;            // in first-entered order
  std::vector<size_t> open;                // the open stages (indices into costs), innermost last
  Clock::time_point since = Clock::now();  // when the current stage's running time started
  int depth = 0;                           // operators in flight on this thread
  std::vector<OpCost> per_op;
  OpCost& op(size_t stage, const std::string& name) {
    for (auto& o : per_op)
      if (o.op == name && o.stage == costs[stage].stage) return o;
    per_op.push_back(OpCost{costs[stage].stage, name});
    return per_op.back();
  }
  at::CallbackHandle handle = 0;

  size_t index(const char* name) {
    for (size_t i = 0; i < costs.size(); ++i)
      if (costs[i].stage == name) return i;
    costs.push_back(StageCost{name});
    return costs.size() - 1;
  }
  size_t current() { return open.empty() ? index("other") : open.back(); }
  void accrue() {
    const auto now = Clock::now();
    costs[current()].ms += std::chrono::duration<double, std::milli>(now - since).count();
    since = now;
  }
  void enter(const char* name) {
    accrue();
    open.push_back(index(name));
    ++costs[open.back()].visits;
  }
  void leave() {
    accrue();
    if (!open.empty()) open.pop_back();
  }
};

namespace {
thread_local CostRecorder::State* t_state = nullptr;

struct OpContext : at::ObserverContext {
  std::string name;
  std::vector<std::vector<int64_t>> in_sizes;
  double in_bytes = 0;
  size_t stage = 0;
  Clock::time_point t0;
  bool own_stage = false;  // an rcnn:: kernel: its time is the stage of its name
};

// "rcnn::nms" -> "nms": the project's kernels are stages of their own.
const char* own_stage_of(const char* op) {
  if (std::strcmp(op, "rcnn::nms") == 0) return "nms";
  if (std::strcmp(op, "rcnn::roi_align") == 0) return "roi_align";
  return nullptr;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  auto* s = t_state;
  if (!s || s->depth++ > 0) return nullptr;
  auto ctx = std::make_unique<OpContext>();
  ctx->name = fn.name();
  if (const char* st = own_stage_of(fn.name())) {
    s->enter(st);
    ctx->own_stage = true;
  }
  ctx->stage = s->current();
  auto& c = s->costs[ctx->stage];
  ++c.ops;
  for (const auto& v : fn.inputs()) {
    add_tensor_bytes(v, ctx->in_bytes);
    if (v.isTensor() && v.toTensor().defined())
      ctx->in_sizes.push_back(v.toTensor().sizes().vec());
    else
      ctx->in_sizes.emplace_back();
  }
  c.bytes += ctx->in_bytes;
  ctx->t0 = Clock::now();
  return ctx;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* base) {
  auto* s = t_state;
  if (!s) return;
  --s->depth;
  auto* ctx = static_cast<OpContext*>(base);
  if (!ctx) return;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - ctx->t0).count();
  auto& c = s->costs[ctx->stage];
  std::vector<int64_t> out;
  double out_bytes = 0;
  for (const auto& v : fn.outputs()) {
    add_tensor_bytes(v, out_bytes);
    if (out.empty() && v.isTensor() && v.toTensor().defined()) out = v.toTensor().sizes().vec();
  }
  const double flops = op_flops(ctx->name, ctx->in_sizes, out);
  c.bytes += out_bytes;
  c.flops += flops;
  auto& o = s->op(ctx->stage, ctx->name);
  ++o.calls;
  o.ms += ms, o.flops += flops, o.bytes += ctx->in_bytes + out_bytes;
  if (ctx->own_stage) s->leave();
}
}  // namespace

CostRecorder::CostRecorder() : s_(std::make_unique<State>()) {
  if (t_state) throw std::logic_error("CostRecorder: this thread already records its costs");
  t_state = s_.get();
  s_->handle =
      at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end).needsInputs(true).needsOutputs(true));
}

CostRecorder::~CostRecorder() {
  at::removeCallback(s_->handle);
  t_state = nullptr;
}

bool CostRecorder::active() {
  return t_state != nullptr;
}

std::vector<StageCost> CostRecorder::stages() const {
  s_->accrue();
  return s_->costs;
}

StageCost CostRecorder::total() const {
  StageCost t{"total"};
  for (const auto& c : stages()) {
    t.ms += c.ms, t.flops += c.flops, t.bytes += c.bytes;
    t.ops += c.ops, t.visits += c.visits;
  }
  return t;
}

std::vector<OpCost> CostRecorder::ops() const {
  auto v = s_->per_op;
  std::stable_sort(v.begin(), v.end(), [](const OpCost& a, const OpCost& b) { return a.ms > b.ms; });
  return v;
}

StageMark::StageMark(const char* stage) {
  if (!t_state) return;
  t_state->enter(stage);
  on_ = true;
}

StageMark::~StageMark() {
  if (on_ && t_state) t_state->leave();
}

}  // namespace rcnn::engine
