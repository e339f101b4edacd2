#!/usr/bin/python3
"""Ours vs torchvision 0.14, same machine, same thread count, one run.

Needs Debian's torchvision (not needed by the test command):
    apt-get install -y python3-torchvision
Usage (after building):
    /usr/bin/python3 bench/compare_torchvision.py [--build build] [--reps 5]

Case by case, runs build/bin/rcnn_bench (Google Benchmark, JSON) for the case,
then the same case with torchvision as installed, then torchvision with the
runtime settings rcnn applies to itself (heap kept, OpenBLAS single-threaded;
see TUNED_ENV), each in its own process, and prints: case, ours, torchvision,
ratio, torchvision tuned, ratio. Also checks RoIAlign forward and gradient
equality (target 1e-5) on the same inputs via rcnn_bench --roi-align-check.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torchvision
    from torchvision.ops import box_iou, nms, roi_align
except ImportError:
    sys.exit("compare_torchvision: needs Debian's python3-torchvision (apt-get install -y python3-torchvision)")


# --device cuda (passed to the workers as RCNN_BENCH_DEVICE): both sides on the GPU.
DEV = torch.device(os.environ.get("RCNN_BENCH_DEVICE", "cpu"))


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, reps):
    fn()
    sync()
    best = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        best.append(time.perf_counter() - t)
    best.sort()
    return best[len(best) // 2] * 1e3  # median, ms


def rand_boxes(n, span, max_wh, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * span
    wh = torch.rand(n, 2, generator=g) * max_wh + 1
    return torch.cat([xy, xy + wh], 1)


def rand_rois(n, batches, span, seed):
    g = torch.Generator().manual_seed(seed)
    b = torch.randint(0, batches, (n, 1), generator=g).float()
    return torch.cat([b, rand_boxes(n, span, span / 2, seed + 1)], 1)


def tv_cases():
    """Case name -> (function to time, repetition divisor)."""
    out = {}
    a1, b1 = rand_boxes(3087, 224, 64, 1).to(DEV), rand_boxes(20, 224, 64, 2).to(DEV)
    out["BM_BoxIoU/3087/20"] = lambda: box_iou(a1, b1)
    a2, b2 = rand_boxes(120000, 224, 64, 1).to(DEV), rand_boxes(50, 224, 64, 2).to(DEV)
    out["BM_BoxIoU/120000/50"] = lambda: box_iou(a2, b2)
    for n in (4000, 12000):
        bx, s = rand_boxes(n, 1000, 100, 3).to(DEV), torch.rand(n).to(DEV)
        out[f"BM_NMS/{n}"] = (lambda bx, s: lambda: nms(bx, s, 0.7))(bx, s)
    for c, h, r in ((64, 28, 200), (256, 100, 1000)):
        f = torch.randn(2, c, h, h).to(DEV)
        rois = rand_rois(r, 2, h * 8.0, 4).to(DEV)
        out[f"BM_RoIAlignForward/{c}/{h}/{r}"] = (lambda f, rois: lambda: roi_align(f, rois, 7, 1 / 8, 2, True))(
            f, rois)
        fg = f.clone().requires_grad_(True)

        def fb(fg=fg, rois=rois):
            o = roi_align(fg, rois, 7, 1 / 8, 2, True)
            o.sum().backward()
        out[f"BM_RoIAlignForwardBackward/{c}/{h}/{r}"] = fb
    return out


def tv_faster_rcnn(train):
    """torchvision FasterRCNN of the seed's shape: RegNetX-400MF + FPN 64 on c3-c5, 3 anchors per location,
    RPN stem of two 3x3 conv, 300 RoIs per image, RoI head of two 3x3 conv + linear."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.rpn import RPNHead
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models import regnet_x_400mf
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.feature_pyramid_network import ExtraFPNBlock

    class NoExtraLevel(ExtraFPNBlock):  # p3-p5 only, like the seed
        def forward(self, results, x, names):
            return results, names

    from collections import OrderedDict
    r = regnet_x_400mf()
    body = torch.nn.Sequential(OrderedDict([("stem", r.stem)] + list(r.trunk_output.named_children())))
    bb = BackboneWithFPN(body, {"block2": "p3", "block3": "p4", "block4": "p5"}, [64, 160, 400], 64,
                         extra_blocks=NoExtraLevel())
    sizes = ((64,), (128,), (256,))  # stride * 8
    ag = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 3)
    # The seed's second stage: two 3x3 conv + ReLU on the 7x7 RoI features,
    # then a linear classifier (torchvision's predictor adds box regression,
    # which the seed does not have: a 3136 x 44 matrix, negligible).
    conv = lambda: torch.nn.Conv2d(64, 64, 3, padding=1)
    head = torch.nn.Sequential(conv(), torch.nn.ReLU(), conv(), torch.nn.ReLU(), torch.nn.Flatten())
    m = FasterRCNN(bb, num_classes=None, rpn_anchor_generator=ag, min_size=224, max_size=224,
                   rpn_head=RPNHead(64, 3, conv_depth=2),  # the seed's RPN stem: two 3x3 conv 64
                   rpn_fg_iou_thresh=0.6, rpn_bg_iou_thresh=0.3,
                   # top-k 400 per level, then 100 per level after NMS = 300 RoIs per image, as the seed
                   rpn_pre_nms_top_n_train=400, rpn_pre_nms_top_n_test=400,
                   rpn_post_nms_top_n_train=300, rpn_post_nms_top_n_test=300,
                   box_roi_pool=MultiScaleRoIAlign(["p3", "p4", "p5"], 7, -1), box_head=head,
                   box_predictor=FastRCNNPredictor(64 * 7 * 7, 11),
                   rpn_batch_size_per_image=16, box_batch_size_per_image=32)
    m.train(train)
    return m


def tv_model_cases():
    out = {}
    m = tv_faster_rcnn(False).to(DEV)
    x1 = [torch.randn(3, 224, 224).to(DEV)]
    x16 = [torch.randn(3, 224, 224).to(DEV) for _ in range(16)]

    def infer(x):
        with torch.no_grad():
            return m(x)
    out["BM_InferSeed/1"] = lambda: infer(x1)
    out["BM_InferSeed/16"] = lambda: infer(x16)
    mt = tv_faster_rcnn(True).to(DEV)
    opt = torch.optim.SGD(mt.parameters(), lr=0.01, momentum=0.9)
    tg = [{"boxes": torch.tensor([[20. + 40 * k, 30., 80. + 40 * k, 120.] for k in range(3)]),
           "labels": torch.tensor([1, 2, 3])} for _ in range(16)]
    tg = [{k: v.to(DEV) for k, v in t.items()} for t in tg]

    def step():
        loss = sum(mt(x16, tg).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    out["BM_TrainStepSeed"] = step
    torch.manual_seed(0)
    rn = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval().to(DEV)
    big = [torch.rand(3, 800, 1067).to(DEV)]

    def infer_rn():
        with torch.no_grad():
            return rn(big)
    out["BM_TvResNet50FPN"] = infer_rn
    return out


def ours(build, name, reps):
    """Median real time (ms) of one of our Google Benchmark cases, and the run's context."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([os.path.join(build, "bin", "rcnn_bench"), f"--benchmark_out={f.name}",
                        "--benchmark_out_format=json", f"--benchmark_repetitions={reps}",
                        "--benchmark_report_aggregates_only=true", f"--benchmark_filter=^{name}(/min_time.*)?$"]
                       + (["--device", str(DEV)] if DEV.type != "cpu" else []),
                       check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(f.name))
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
            return b["real_time"] * unit, data["context"]
    sys.exit(f"compare_torchvision: {name} not found in rcnn_bench")


def roi_align_equality(build):
    """Same inputs through both RoIAligns: max |difference| of output and gradient."""
    worst_o = worst_g = 0.0
    for c, h, r, sr, aligned in ((64, 28, 200, 2, True), (16, 40, 300, -1, False), (256, 100, 1000, 2, True)):
        g = torch.Generator().manual_seed(c + r)
        f = torch.randn(2, c, h, h, generator=g)
        rois = rand_rois(r, 2, h * 8.0, 9)
        go = torch.randn(r, c, 7, 7, generator=g)
        with tempfile.TemporaryDirectory() as d:
            torch.save([f, rois, go, torch.tensor([7, 1 / 8, sr, 1.0 if aligned else 0.0], dtype=torch.float64)],
                       os.path.join(d, "in.pt"), _use_new_zipfile_serialization=True)
            subprocess.run([os.path.join(build, "bin", "rcnn_bench"), "--roi-align-check", os.path.join(d, "in.pt"),
                            os.path.join(d, "out.pt")], check=True)
            o, gf = torch.load(os.path.join(d, "out.pt"))
        fg = f.clone().requires_grad_(True)
        t = roi_align(fg, rois, 7, 1 / 8, sr, aligned)
        t.backward(go)
        worst_o = max(worst_o, (o - t).abs().max().item())
        worst_g = max(worst_g, (gf - fg.grad).abs().max().item())
    return worst_o, worst_g


# The runtime settings rcnn applies to itself at start (engine::init_threads):
# freed memory stays in the heap, OpenBLAS runs single-threaded next to
# LibTorch's OpenMP pool. torchvision gets them through the environment.
TUNED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647", "MALLOC_TOP_PAD_": str(64 << 20),
             "OPENBLAS_NUM_THREADS": "1"}


def worker(name, reps):
    cases = tv_model_cases() if name.startswith(("BM_Infer", "BM_Train", "BM_Tv")) else tv_cases()
    print(json.dumps({"ms": timeit(cases[name], reps)}))


def theirs(name, reps, tuned):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "OPENBLAS_"))}
    if tuned:
        env.update(TUNED_ENV)
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name, "--reps", str(reps)], env=env,
                       check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="*", help="just these cases (e.g. BM_TvResNet50FPN)")
    ap.add_argument("--device", default=os.environ.get("RCNN_BENCH_DEVICE", "cpu"),
                    help="cpu or cuda[:N]: both sides run there (rcnn_bench --device)")
    args = ap.parse_args()
    os.environ["RCNN_BENCH_DEVICE"] = args.device
    global DEV
    DEV = torch.device(args.device)
    threads = int(os.environ.get("RCNN_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    os.environ["RCNN_THREADS"] = str(threads)
    if args.worker:
        return worker(args.worker, args.reps)
    names = list(tv_cases().keys()) + ["BM_InferSeed/1", "BM_InferSeed/16", "BM_TrainStepSeed", "BM_TvResNet50FPN"]
    if args.only:
        names = [n for n in names if n in args.only]
    rows, ctx = [], {}
    # Case by case: ours, torchvision as installed, torchvision with rcnn's
    # runtime settings, before the next case, so a machine that slows down
    # mid-run affects every column of a row alike. Each side runs in its own
    # process.
    for name in names:
        reps = args.reps if not name.startswith(("BM_InferSeed/16", "BM_TrainStep")) else max(2, args.reps // 2)
        o, ctx = ours(args.build, name, args.reps)
        t = theirs(name, reps, tuned=False)
        tt = theirs(name, reps, tuned=True)
        rows.append((name, o, t, tt))
        print(f"  {name}: ours {o:.3f} ms, torchvision {t:.3f} ms, tuned {tt:.3f} ms", file=sys.stderr)
    trace = ours(args.build, "BM_TraceFull", args.reps)[0] if not args.only else float("nan")
    print(f"# {threads} threads, {os.cpu_count()} cores, BLAS: {ctx.get('blas', '?')}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, median of {args.reps} (2 for InferSeed/16 and TrainStepSeed "
          f"on torchvision's side)")
    print("| case | ours (ms) | torchvision (ms) | speed-up | torchvision + rcnn's runtime settings (ms) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, o, t, tt in rows:
        print(f"| {name} | {o:.3f} | {t:.3f} | {t / o:.1f}x | {tt:.3f} | {tt / o:.1f}x |")
    if not args.only:
        print(f"| BM_TraceFull (fast preset, 224², every stage) | {trace:.1f} | – | – | – | – |")
    if args.only:
        return
    wo, wg = roi_align_equality(args.build)
    print(f"\nRoIAlign on the same inputs (3 cases incl. adaptive sampling and aligned=False): max |ours - torchvision| "
          f"forward {wo:.2e}, gradient {wg:.2e} (target <= 1e-5)")


if __name__ == "__main__":
    main()
