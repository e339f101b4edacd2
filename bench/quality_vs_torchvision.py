#!/usr/bin/python3
"""Detection quality, ours vs torchvision's FasterRCNN, same data, same time budget.

    apt-get install -y python3-torchvision      # not needed by the test command
    /usr/bin/python3 bench/quality_vs_torchvision.py --dataset datasets/fashion-mini --minutes 5

Trains `rcnn train --config default` and a torchvision FasterRCNN of the same
shape (the `fast` backbone's conv-BN-ReLU stages, FPN 64 on c3-c5, the anchors
of resources/configs/default.json, 224x224 input, same solver) for the same
wall-clock budget on the same threads, then scores both with the project's
evaluator (`rcnn eval`, VOC mAP@0.5) and prints the two mAPs. torchvision runs
in a child process with the runtime settings rcnn applies to itself (heap kept,
OpenBLAS single-threaded), so neither side is slowed by its thread pools.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

try:
    import torch
    import torchvision
    from torch import nn
    from torchvision.io import read_image
except ImportError:
    sys.exit("quality_vs_torchvision: needs Debian's python3-torchvision (apt-get install -y python3-torchvision)")


def voc_split(root, split):
    labels = [l.strip() for l in open(os.path.join(root, "labels.txt")) if l.strip()]
    items = []
    for i in [l.strip() for l in open(os.path.join(root, "ImageSets", "Main", split + ".txt")) if l.strip()]:
        a = ET.parse(os.path.join(root, "Annotations", i + ".xml")).getroot()
        boxes, cls = [], []
        for o in a.findall("object"):
            b = o.find("bndbox")
            boxes.append([float(b.find("xmin").text) - 1, float(b.find("ymin").text) - 1,
                          float(b.find("xmax").text), float(b.find("ymax").text)])
            cls.append(labels.index(o.find("name").text) + 1)
        items.append((os.path.join(root, "JPEGImages", a.find("filename").text), boxes, cls))
    return labels, items


def conv_bn(i, o, s):
    return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


class FastBody(nn.Module):
    """The `fast` backbone: channels 24/32/64/96/128 at strides 2..32, two conv-BN-ReLU per stage."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 24, 2))
        self.s2 = nn.Sequential(*conv_bn(24, 32, 2), *conv_bn(32, 32, 1))
        self.s3 = nn.Sequential(*conv_bn(32, 64, 2), *conv_bn(64, 64, 1))
        self.s4 = nn.Sequential(*conv_bn(64, 96, 2), *conv_bn(96, 96, 1))
        self.s5 = nn.Sequential(*conv_bn(96, 128, 2), *conv_bn(128, 128, 1))

    def forward(self, x):
        return x


def make_model(num_classes):
    from collections import OrderedDict
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.feature_pyramid_network import ExtraFPNBlock

    class NoExtra(ExtraFPNBlock):
        def forward(self, results, x, names):
            return results, names

    f = FastBody()
    body = nn.Sequential(OrderedDict([("stem", f.stem), ("s2", f.s2), ("s3", f.s3), ("s4", f.s4), ("s5", f.s5)]))
    bb = BackboneWithFPN(body, {"s3": "p3", "s4": "p4", "s5": "p5"}, [64, 96, 128], 64, extra_blocks=NoExtra())
    a = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "configs",
                                    "default.json")))["anchors"]
    # Anchor sides of the default preset: stride * stride_scale * 2^(k / scales_per_octave), on p3-p5.
    sizes = tuple(tuple(round(s * a["stride_scale"] * 2 ** (k / a["scales_per_octave"]), 2)
                        for k in range(a["scales_per_octave"])) for s in (8, 16, 32))
    ag = AnchorGenerator(sizes, (tuple(a["aspect_ratios"]),) * 3)
    return FasterRCNN(bb, num_classes=num_classes + 1, rpn_anchor_generator=ag, min_size=224, max_size=224,
                      box_roi_pool=MultiScaleRoIAlign(["p3", "p4", "p5"], 7, 2),
                      rpn_pre_nms_top_n_train=1200, rpn_pre_nms_top_n_test=1200,
                      rpn_post_nms_top_n_train=300, rpn_post_nms_top_n_test=300,
                      rpn_batch_size_per_image=128, box_batch_size_per_image=64, box_score_thresh=0.05)


def train_torchvision(root, minutes, out_json, split):
    labels, train = voc_split(root, "train")
    _, val = voc_split(root, split)
    m = make_model(len(labels))
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)
    imgs = [read_image(p).float() / 255 for p, _, _ in train]
    g = torch.Generator().manual_seed(0)
    t0, it, budget = time.time(), 0, minutes * 60
    m.train()
    while time.time() - t0 < budget:
        for b in torch.randperm(len(train), generator=g).split(16):
            if time.time() - t0 >= budget:
                break
            frac = (time.time() - t0) / budget
            lr = 0.02 * 0.5 * (1 + math.cos(math.pi * frac)) * min(1.0, (it + 1) / 50)
            for pg in opt.param_groups:
                pg["lr"] = lr
            xs, ts = [], []
            for k in b.tolist():
                x, boxes = imgs[k], torch.tensor(train[k][1])
                if torch.rand(1, generator=g).item() < 0.5:  # horizontal flip, as ours
                    x = x.flip(-1)
                    boxes = torch.stack([224 - boxes[:, 2], boxes[:, 1], 224 - boxes[:, 0], boxes[:, 3]], 1)
                xs.append(x)
                ts.append({"boxes": boxes, "labels": torch.tensor(train[k][2])})
            loss = sum(m(xs, ts).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            it += 1
    m.eval()
    res = []
    with torch.no_grad():
        for p, _, _ in val:
            o = m([read_image(p).float() / 255])[0]
            res.append({"image": p, "detections": [
                {"label": int(l) - 1, "score": float(s), "box": [float(v) for v in bx]}
                for bx, s, l in zip(o["boxes"], o["scores"], o["labels"])]})
    json.dump(res, open(out_json, "w"))
    return it


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="datasets/fashion-mini")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--split", default="val")
    ap.add_argument("--build", default="build")
    ap.add_argument("--torchvision-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = int(os.environ.get("RCNN_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    if args.torchvision_worker:
        print(train_torchvision(args.dataset, args.minutes, "runs/quality-torchvision.json", args.split))
        return
    rcnn = os.path.join(args.build, "bin", "rcnn")
    subprocess.run([rcnn, "train", "--config", "default", "--dataset", args.dataset, "--name", "quality-ours",
                    "--minutes", str(args.minutes), "--set", "solver.max_iters=1000000", "--set", "solver.eval_period=0"],
                   check=True, stdout=subprocess.DEVNULL)
    ours = subprocess.run([rcnn, "eval", "--checkpoint", "runs/quality-ours/last.pt", "--dataset", args.dataset,
                           "--split", args.split], check=True, capture_output=True, text=True).stdout
    env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="2147483647", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--dataset", args.dataset, "--minutes",
                        str(args.minutes), "--split", args.split, "--torchvision-worker"], env=env, check=True,
                       stdout=subprocess.PIPE, text=True)
    iters = int(r.stdout.strip().splitlines()[-1])
    theirs = subprocess.run([rcnn, "eval", "--detections", "runs/quality-torchvision.json", "--dataset", args.dataset,
                             "--split", args.split], check=True, capture_output=True, text=True).stdout
    pick = lambda s: float([l for l in s.splitlines() if l.startswith("mAP")][0].split()[1])
    print(f"# {args.dataset} ({args.split}), {args.minutes} min each, {threads} threads")
    print(f"ours (rcnn, default preset): mAP@0.5 = {pick(ours):.4f}")
    print(f"torchvision FasterRCNN ({iters} iterations): mAP@0.5 = {pick(theirs):.4f}")


if __name__ == "__main__":
    main()
