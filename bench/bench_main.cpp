// rcnn_bench: Google Benchmark suite of the ops, the trace and the model.
// bench/compare_torchvision.py runs the same cases with torchvision.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <fstream>

#include "engine/device.h"
#include "engine/precision.h"
#include "modeling/anchor_generator.h"
#include "modeling/faster_rcnn.h"
#include "modeling/matcher.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "ops/box_iou.h"
#include "ops/nms.h"
#include "ops/roi_align.h"
#include "roofline.h"
#ifdef RCNN_BENCH_HAS_API
#include "capture_budget.h"
#include "explain_eval.h"
#include "label_doctor.h"
#endif
#ifdef RCNN_BENCH_HAS_API
#include <cstdlib>

#include "api/analyze_job.h"
#include "detail/coverage_internal.h"
#include "api/eval_job.h"
#include "api/session.h"
#endif

using namespace rcnn;

namespace {
// --device cuda (or cuda:N): the op, inference and training cases run there.
torch::Device g_device = torch::kCPU;
void device_sync() {
  if (g_device.is_cuda()) torch::cuda::synchronize();
}
// Runs a case body; a device the op has no kernel for skips the case with the reason.
template <class F>
void guarded(benchmark::State& st, F body) {
  try {
    body();
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

torch::Tensor random_boxes(int64_t n, double span, double max_wh, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  auto xy = torch::rand({n, 2}, g) * span;
  auto wh = torch::rand({n, 2}, g) * max_wh + 1;
  return torch::cat({xy, xy + wh}, 1);
}
torch::Tensor random_rois(int64_t n, int64_t batches, double span, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  auto b = torch::randint(0, batches, {n, 1}, g).to(torch::kFloat);
  return torch::cat({b, random_boxes(n, span, span / 2, seed + 1)}, 1);
}
DetectorConfig preset(const std::string& name, int classes = 10) {
  auto c = load_preset(name);
  c.num_classes = classes;
  return c;
}
}  // namespace

static void BM_BoxIoU(benchmark::State& st) {
  auto a = random_boxes(st.range(0), 224, 64, 1).to(g_device), b = random_boxes(st.range(1), 224, 64, 2).to(g_device);
  guarded(st, [&] {
    for (auto _ : st) {
      benchmark::DoNotOptimize(ops::box_iou(a, b));
      device_sync();
    }
  });
}
BENCHMARK(BM_BoxIoU)->Args({3087, 20})->Args({120000, 50})->Unit(benchmark::kMicrosecond);

static void BM_NMS(benchmark::State& st) {
  auto b = random_boxes(st.range(0), 1000, 100, 3);
  auto s = torch::rand({st.range(0)});
  for (auto _ : st) benchmark::DoNotOptimize(ops::nms(b, s, 0.7));
}
BENCHMARK(BM_NMS)->Arg(4000)->Arg(12000)->Unit(benchmark::kMicrosecond);

static void roi_case(benchmark::State& st, bool backward) {
  const int64_t C = st.range(0), H = st.range(1), R = st.range(2);
  auto f = torch::randn({2, C, H, H}).to(g_device);
  auto rois = random_rois(R, 2, H * 8.0, 4).to(g_device);
  ops::RoIAlignParams p{7, 7, 1.0 / 8, 2, true};
  if (backward) f.requires_grad_(true);
  guarded(st, [&] {
    for (auto _ : st) {
      auto o = ops::roi_align(f, rois, p);
      if (backward) o.sum().backward();
      benchmark::DoNotOptimize(o);
      device_sync();
    }
  });
}
static void BM_RoIAlignForward(benchmark::State& st) {
  roi_case(st, false);
}
static void BM_RoIAlignForwardBackward(benchmark::State& st) {
  roi_case(st, true);
}
BENCHMARK(BM_RoIAlignForward)->Args({64, 28, 200})->Args({256, 100, 1000})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RoIAlignForwardBackward)->Args({64, 28, 200})->Args({256, 100, 1000})->Unit(benchmark::kMillisecond);

static void BM_AnchorsAndMatching(benchmark::State& st) {
  modeling::AnchorGenerator gen(AnchorOptions{});
  auto gt = torch::cat({random_boxes(20, 160, 64, 5), torch::zeros({20, 1})}, 1);
  modeling::Matcher m{0.3, 0.6, false};
  for (auto _ : st) {
    std::vector<torch::Tensor> a;
    for (auto [hw, s] : {std::pair{28, 8}, {14, 16}, {7, 32}}) a.push_back(gen.level_anchors(hw, hw, s, torch::kFloat));
    benchmark::DoNotOptimize(m(torch::cat(a), gt).labels);
  }
}
BENCHMARK(BM_AnchorsAndMatching)->Unit(benchmark::kMicrosecond);

// Skips a bf16 case (with the reason) where the CPU has no bf16 arithmetic.
static bool bf16_skipped(benchmark::State& st, engine::Precision p) {
  std::string why;
  if (p == engine::Precision::BF16 && !engine::cpu_has_bf16(&why)) {
    st.SkipWithError(why.c_str());
    return true;
  }
  return false;
}

static void infer(benchmark::State& st, const std::string& name,
                  engine::Precision precision = engine::Precision::FP32) {
  if (bf16_skipped(st, precision)) return;
  torch::manual_seed(0);
  modeling::FasterRCNN m(preset(name));
  m->to(g_device);
  m->eval();
  torch::NoGradGuard ng;
  engine::PrecisionScope scope(precision);
  auto x = torch::randn({st.range(0), 3, 224, 224}).to(g_device);
  guarded(st, [&] {
    for (auto _ : st) {
      benchmark::DoNotOptimize(m->detect(x));
      device_sync();
    }
  });
  st.SetItemsProcessed(st.iterations() * st.range(0));
}
static void BM_InferSeed(benchmark::State& st) {
  infer(st, "seed");
}
static void BM_InferFast(benchmark::State& st) {
  infer(st, "fast");
}
static void BM_InferDefault(benchmark::State& st) {
  infer(st, "default");
}
BENCHMARK(BM_InferSeed)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InferFast)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InferDefault)->Arg(1)->Unit(benchmark::kMillisecond);
// The opt-in bf16 path (engine/precision.h) beside fp32 in the same run.
static void BM_InferDefaultBf16(benchmark::State& st) {
  infer(st, "default", engine::Precision::BF16);
}
BENCHMARK(BM_InferDefaultBf16)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond);

static void train_step(benchmark::State& st, const std::string& name) {
  torch::manual_seed(0);
  modeling::FasterRCNN m(preset(name));
  m->to(g_device);
  m->train();
  torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  auto x = torch::randn({16, 3, 224, 224}).to(g_device);
  auto gt = torch::full({16, 6, 5}, -1.f);
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 3; ++k) gt[i][k] = torch::tensor({20.f + 40 * k, 30.f, 80.f + 40 * k, 120.f, float(k)});
  gt = gt.to(g_device);
  auto gen = at::detail::createCPUGenerator(1);
  guarded(st, [&] {
    for (auto _ : st) {
      auto l = m->forward_train(x, gt, gen);
      auto total = l["rpn_obj"] + l["rpn_box"] + l["roi_cls"] + l["roi_box"];
      opt.zero_grad();
      total.backward();
      opt.step();
      device_sync();
    }
  });
  st.SetItemsProcessed(st.iterations() * 16);
}
static void BM_TrainStepSeed(benchmark::State& st) {
  train_step(st, "seed");
}
static void BM_TrainStepFast(benchmark::State& st) {
  train_step(st, "fast");
}
static void BM_TrainStepDefault(benchmark::State& st) {
  train_step(st, "default");
}
BENCHMARK(BM_TrainStepSeed)->Unit(benchmark::kMillisecond)->MinTime(5);
BENCHMARK(BM_TrainStepFast)->Unit(benchmark::kMillisecond)->MinTime(5);
BENCHMARK(BM_TrainStepDefault)->Unit(benchmark::kMillisecond)->MinTime(5);


// torchvision's ResNet-50-FPN (random weights, 91 classes) on one 800x1067
// image: exact (torchvision's op order) and optimized for inference (folded
// BatchNorm, channels-last). bench/compare_torchvision.py times torchvision's
// fasterrcnn_resnet50_fpn on the same input size.
static void tv_resnet_case(benchmark::State& st, bool optimized,
                           engine::Precision precision = engine::Precision::FP32) {
  if (bf16_skipped(st, precision)) return;
  torch::manual_seed(0);
  modeling::tv::TvFasterRCNN m(modeling::tv::tv_preset("torchvision_resnet50_fpn", 91));
  if (optimized) m->optimize_for_inference();
  engine::PrecisionScope scope(precision);
  auto img = torch::rand({3, 800, 1067});
  for (auto _ : st) benchmark::DoNotOptimize(m->infer({img}).detections);
}
static void BM_TvResNet50FPNBf16(benchmark::State& st) {
  tv_resnet_case(st, true, engine::Precision::BF16);
}
BENCHMARK(BM_TvResNet50FPNBf16)->Unit(benchmark::kMillisecond)->MinTime(5);
static void BM_TvResNet50FPN(benchmark::State& st) {
  tv_resnet_case(st, true);
}
static void BM_TvResNet50FPNExact(benchmark::State& st) {
  tv_resnet_case(st, false);
}
BENCHMARK(BM_TvResNet50FPN)->Unit(benchmark::kMillisecond)->MinTime(5);
BENCHMARK(BM_TvResNet50FPNExact)->Unit(benchmark::kMillisecond)->MinTime(5);

#ifdef RCNN_BENCH_HAS_API
// `rcnn analyze` against its peer `rcnn eval` on the same split and model:
// RCNN_BENCH_DATASET (default: the embedded dataset), its val split.
static std::string bench_dataset() {
  const char* d = std::getenv("RCNN_BENCH_DATASET");
  return d ? d : "";
}
static void BM_AnalyzeSplit(benchmark::State& st) {
  api::AnalyzeRequest r;
  r.checkpoint = resource_dir() + "/models/fashion_default.pt";
  r.dataset = bench_dataset();
  for (auto _ : st) {
    auto rep = api::run_analysis(r);
    st.counters["images"] = double(rep.image_paths.size());
  }
}
BENCHMARK(BM_AnalyzeSplit)->Unit(benchmark::kSecond)->Iterations(1);
static void BM_EvalSplit(benchmark::State& st) {
  api::EvalRequest r;
  r.checkpoint = resource_dir() + "/models/fashion_default.pt";
  r.dataset = bench_dataset();
  r.device = "cpu";
  for (auto _ : st) {
    auto rep = api::run_evaluation(r);
    st.counters["images"] = double(rep.result.num_images);
  }
}
BENCHMARK(BM_EvalSplit)->Unit(benchmark::kSecond)->Iterations(1);

// Dataset anchor coverage (`rcnn anchors`) of RCNN_BENCH_DATASET's train
// split under the default preset: the windowed matcher against its peer, the
// detector's Matcher on the dense IoU matrix, on the same opened split (the
// opening is not timed). Their results are compared and must be equal.
static const data::Dataset& coverage_split() {
  static const data::Dataset ds = [] {
    data::LoadOptions lo;
    lo.split = "train";
    const auto d = bench_dataset();
    return data::open_dataset(d.empty() ? data::default_dataset_dir() : d, lo);
  }();
  return ds;
}
static DetectorConfig coverage_config(const data::Dataset& ds) {
  DetectorConfig cfg = load_preset("default");
  cfg.num_classes = int(ds.class_names.size());
  cfg.class_names = ds.class_names;
  return cfg;
}
static void coverage_case(benchmark::State& st, api::CoverageMethod method) {
  const auto& ds = coverage_split();
  const auto cfg = coverage_config(ds);
  api::CoverageReport rep;
  for (auto _ : st) rep = api::coverage_on(ds, cfg, int(ds.size()), {}, {}, method);
  static api::CoverageReport first;
  static bool have_first = false;
  if (!have_first) {
    first = rep, have_first = true;
  } else {
    bool same = first.gts.size() == rep.gts.size();
    for (size_t i = 0; same && i < rep.gts.size(); ++i)
      same = first.gts[i].positives == rep.gts[i].positives &&
             first.gts[i].positives_no_lq == rep.gts[i].positives_no_lq &&
             first.gts[i].best_iou == rep.gts[i].best_iou && first.gts[i].reason_text == rep.gts[i].reason_text;
    if (!same) st.SkipWithError("windowed and dense coverage differ");
  }
  int anchors = 0;
  for (const auto& L : rep.levels) anchors += L.count();
  st.counters["gts"] = double(rep.gts.size());
  st.counters["anchors_per_image"] = anchors;
  st.counters["gts_per_s"] = benchmark::Counter(double(rep.gts.size()), benchmark::Counter::kIsIterationInvariantRate);
}
static void BM_CoverageWindowed(benchmark::State& st) {
  coverage_case(st, api::CoverageMethod::Windowed);
}
static void BM_CoverageDense(benchmark::State& st) {
  coverage_case(st, api::CoverageMethod::Dense);
}
BENCHMARK(BM_CoverageWindowed)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_CoverageDense)->Unit(benchmark::kMillisecond)->Iterations(1);
// The anchor search as `rcnn anchors --suggest 3` runs it (its default sample).
static void BM_SuggestAnchors(benchmark::State& st) {
  const auto& ds = coverage_split();
  const auto cfg = coverage_config(ds);
  api::SuggestRequest req;
  req.top = 3;
  for (auto _ : st) {
    const auto rep = api::suggest_on(ds, cfg, int(ds.size()), req);
    st.counters["configs"] = rep.candidates;
  }
}
BENCHMARK(BM_SuggestAnchors)->Unit(benchmark::kSecond)->Iterations(1);

static void trace_case(benchmark::State& st, bool post_only) {
  auto cfg = preset("fast");
  api::Session s(cfg, "cpu");
  api::Image im;
  im.width = im.height = 224;
  im.rgb.assign(224 * 224 * 3, 90);
  std::vector<api::GtObject> gt;
  for (int k = 0; k < 5; ++k) gt.push_back({{10.f + 40 * k, 20.f, 50.f + 40 * k, 90.f}, k});
  s.set_image(im, gt, std::vector<std::string>(10, "c"));
  s.run();
  double thr = 0.05;
  for (auto _ : st) {
    if (post_only) {
      auto c = s.config();
      c.roi.score_thresh = (thr = thr > 0.5 ? 0.05 : thr + 0.01);
      s.set_config(c);
    } else {
      s.set_image(im, gt, std::vector<std::string>(10, "c"));
    }
    benchmark::DoNotOptimize(s.run().detections.size());
  }
}
static void BM_TraceFull(benchmark::State& st) {
  trace_case(st, false);
}
static void BM_TraceScoreSlider(benchmark::State& st) {
  trace_case(st, true);
}
BENCHMARK(BM_TraceFull)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TraceScoreSlider)->Unit(benchmark::kMillisecond);

// The studio on torchvision's ResNet-50-FPN (random weights, 91 classes), an
// 800x1067 image: a whole trace (the peer), and a re-run after an option
// change downstream of the backbone (its features are cached): the RPN's NMS
// threshold (proposals, RoIAlign, head, predictions re-run) and the box score
// threshold (predictions only).
static void tv_trace_case(benchmark::State& st, int which) {
  api::Session s(preset("torchvision_resnet50_fpn"), "cpu");
  api::Image im;
  im.width = 1067;
  im.height = 800;
  im.rgb.resize(size_t(im.width) * im.height * 3);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = uint8_t((i * 2654435761u) >> 24);
  std::vector<api::GtObject> gt{{{100, 120, 400, 500}, 0}, {{600, 200, 900, 700}, 16}};
  s.set_image(im, gt, {});
  s.run();
  bool flip = false;
  for (auto _ : st) {
    auto c = s.config();
    flip = !flip;
    if (which == 0) s.set_image(im, gt, {});
    if (which == 1) c.torchvision.rpn_nms_thresh = flip ? 0.65 : 0.7;
    if (which == 2) c.torchvision.box_score_thresh = flip ? 0.3 : 0.05;
    if (which) s.set_config(c);
    benchmark::DoNotOptimize(s.run().detections.size());
  }
}
static void BM_TvTraceFull(benchmark::State& st) {
  tv_trace_case(st, 0);
}
static void BM_TvTraceRpnNms(benchmark::State& st) {
  tv_trace_case(st, 1);
}
static void BM_TvTraceScore(benchmark::State& st) {
  tv_trace_case(st, 2);
}
BENCHMARK(BM_TvTraceFull)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TvTraceRpnNms)->Unit(benchmark::kMillisecond)->Iterations(6);
BENCHMARK(BM_TvTraceScore)->Unit(benchmark::kMillisecond)->Iterations(6);
#endif

// --roi-align-check IN OUT: IN is a torch.save'd dict-free tuple file written
// by compare_torchvision.py: (features, rois, grad_out) as a list of tensors;
// OUT receives (output, grad_features) for comparison with torchvision.
static int roi_align_check(const std::string& in, const std::string& out) {
  std::ifstream f(in, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  auto list = torch::pickle_load(bytes).toList();
  auto feats = list.get(0).toTensor().requires_grad_(true);
  auto rois = list.get(1).toTensor();
  auto grad = list.get(2).toTensor();
  auto params = list.get(3).toTensor();  // [pooled, scale, sampling, aligned]
  ops::RoIAlignParams p{params[0].item<int64_t>(), params[0].item<int64_t>(), params[1].item<double>(),
                        params[2].item<int64_t>(), params[3].item<double>() != 0};
  auto o = ops::roi_align(feats, rois, p);
  o.backward(grad);
  auto data = torch::pickle_save(c10::List<torch::Tensor>({o.detach(), feats.grad()}));
  std::ofstream(out, std::ios::binary).write(data.data(), std::streamsize(data.size()));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--roi-align-check") return roi_align_check(argv[2], argv[3]);
  if (argc >= 2 && std::string(argv[1]) == "--roofline") {
    engine::init_threads();
    try {
      return bench::roofline_main(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rcnn_bench --roofline: %s\n", e.what());
      return 2;
    }
  }
#ifdef RCNN_BENCH_HAS_API
  if (argc >= 2 && std::string(argv[1]) == "--explain") {
    engine::init_threads();
    try {
      return bench::explain_main(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rcnn_bench --explain: %s\n", e.what());
      return 2;
    }
  }
  if (argc >= 2 && std::string(argv[1]) == "--capture") {
    engine::init_threads();
    try {
      return bench::capture_main(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rcnn_bench --capture: %s\n", e.what());
      return 2;
    }
  }
  if (argc >= 2 && std::string(argv[1]) == "--label-doctor") {
    engine::init_threads();
    try {
      return bench::label_doctor_main(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rcnn_bench --label-doctor: %s\n", e.what());
      return 2;
    }
  }
#endif
  // --device D (before Google Benchmark's own flags are read).
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--device") {
      try {
        g_device = engine::resolve_device(argv[i + 1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rcnn_bench: %s\n", e.what());
        return 2;
      }
      for (int k = i; k + 2 <= argc; ++k) argv[k] = argv[k + 2];
      argc -= 2;
      break;
    }
  benchmark::AddCustomContext("device", g_device.str());
  const int threads = engine::init_threads();
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("blas", engine::blas_name());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
