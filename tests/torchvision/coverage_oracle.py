#!/usr/bin/env python3
"""Anchor coverage of a split under torchvision_resnet50_fpn, computed with
torchvision's own GeneralizedRCNNTransform, AnchorGenerator (on the feature
maps its ResNet-50-FPN backbone really produces) and Matcher, compared with
`rcnn anchors --json` on the same split: BPR, BPR without the low-quality
rule, mean positives per GT, and every GT's two positive counts, exactly.

The split is made here from the shipped fashion-mini images at several sizes
(each image gets its own resized and padded size, so its own grid; 640 x 470
becomes 1089 x 800, padded to 1120 x 800, and its 'pool' level of 18 x 13
cells has strides 1120 // 18 = 62 on x and 800 // 13 = 61 on y).

usage: coverage_oracle.py RCNN_BINARY FASHION_MINI_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection._utils import Matcher
from torchvision.ops import box_iou

SIZES = [(224, 224), (300, 200), (160, 340), (640, 470), (250, 250), (512, 380)]  # (w, h)


def read_voc(xml_path):
    root = ET.parse(xml_path).getroot()
    boxes = []
    for o in root.findall("object"):
        b = o.find("bndbox")
        # VOC corners are 1-based and inclusive: [xmin - 1, xmax) in 0-based pixels.
        boxes.append([float(b.find("xmin").text) - 1, float(b.find("ymin").text) - 1,
                      float(b.find("xmax").text), float(b.find("ymax").text)])
    return boxes


def make_split(src, out):
    """The first 2 len(SIZES) val images resized to SIZES (each size twice), boxes scaled with them."""
    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    with open(os.path.join(src, "labels.txt")) as f:
        labels = f.read()
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write(labels)
    ids = open(os.path.join(src, "ImageSets/Main/val.txt")).read().split()[: 2 * len(SIZES)]
    items = []
    for k, (i, (w, h)) in enumerate(zip(ids, SIZES + SIZES[::-1])):
        im = Image.open(os.path.join(src, "JPEGImages", i + ".jpg")).convert("RGB")
        sx, sy = w / im.width, h / im.height
        name = f"img{k}"
        im.resize((w, h), Image.BILINEAR).save(os.path.join(out, "JPEGImages", name + ".png"))
        root = ET.parse(os.path.join(src, "Annotations", i + ".xml")).getroot()
        xml = [f"<annotation><filename>{name}.png</filename><size><width>{w}</width><height>{h}</height>"
               "<depth>3</depth></size>"]
        for o in root.findall("object"):
            b = o.find("bndbox")
            x1, y1 = round((float(b.find("xmin").text) - 1) * sx) + 1, round((float(b.find("ymin").text) - 1) * sy) + 1
            x2, y2 = round(float(b.find("xmax").text) * sx), round(float(b.find("ymax").text) * sy)
            xml.append(f"<object><name>{o.find('name').text}</name><difficult>0</difficult><bndbox>"
                       f"<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")
        xml.append("</annotation>")
        with open(os.path.join(out, "Annotations", name + ".xml"), "w") as f:
            f.write("".join(xml))
        items.append(name)
    with open(os.path.join(out, "ImageSets/Main/val.txt"), "w") as f:
        f.write("\n".join(items) + "\n")
    return items


def oracle(split_dir, items):
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                                                 num_classes=11).eval()
    gen = AnchorGenerator(sizes=((32,), (64,), (128,), (256,), (512,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    with_lq, without_lq = Matcher(0.7, 0.3, allow_low_quality_matches=True), Matcher(0.7, 0.3, False)
    gts = []
    with torch.no_grad():
        for k, name in enumerate(items):
            img = torchvision.transforms.functional.to_tensor(
                Image.open(os.path.join(split_dir, "JPEGImages", name + ".png")).convert("RGB"))
            boxes = torch.tensor(read_voc(os.path.join(split_dir, "Annotations", name + ".xml")))
            images, targets = model.transform([img], [{"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64)}])
            feats = list(model.backbone(images.tensors).values())
            anchors = gen(images, feats)[0]
            q = box_iou(targets[0]["boxes"], anchors)
            m1, m0 = with_lq(q), without_lq(q)
            for g in range(len(boxes)):
                gts.append({"image": k, "index": g, "positives": int((m1 == g).sum()),
                            "positives_without_low_quality": int((m0 == g).sum())})
    n = len(gts)
    return {"bpr": sum(g["positives"] > 0 for g in gts) / n,
            "bpr_without_low_quality": sum(g["positives_without_low_quality"] > 0 for g in gts) / n,
            "mean_positives": sum(g["positives"] for g in gts) / n, "gts": gts}


def main(rcnn, src, work):
    split_dir = os.path.join(work, "sizes")
    items = make_split(src, split_dir)
    out = os.path.join(work, "coverage.json")
    subprocess.run([rcnn, "anchors", "--config", "torchvision_resnet50_fpn", "--dataset", split_dir, "--split", "val",
                    "--json", out], check=True, stdout=subprocess.DEVNULL)
    ours = json.load(open(out))
    want = oracle(split_dir, items)
    bad = []
    for key in ("bpr", "bpr_without_low_quality", "mean_positives"):
        if abs(ours[key] - want[key]) > 1e-12:
            bad.append(f"{key}: rcnn {ours[key]} torchvision {want[key]}")
    if len(ours["gts"]) != len(want["gts"]):
        bad.append(f"GT count: rcnn {len(ours['gts'])} torchvision {len(want['gts'])}")
    for a, b in zip(ours["gts"], want["gts"]):
        for key in ("positives", "positives_without_low_quality"):
            if a[key] != b[key]:
                bad.append(f"image {b['image']} GT {b['index']} {key}: rcnn {a[key]} torchvision {b[key]}")
    print(f"{len(want['gts'])} GTs on {len(items)} images of {len(SIZES)} sizes: BPR {want['bpr']:.4f}, "
          f"without low-quality {want['bpr_without_low_quality']:.4f}, {want['mean_positives']:.3f} positives/GT "
          f"(torchvision); levels {[l['name'] + ' stride ' + str(l['stride']) for l in ours['levels']]}")
    if bad:
        print("MISMATCH:\n  " + "\n  ".join(bad[:40]))
        return 1
    print("rcnn anchors equals torchvision's transform + AnchorGenerator + Matcher on every GT")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
