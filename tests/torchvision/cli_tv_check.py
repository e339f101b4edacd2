#!/usr/bin/env python3
"""Every `rcnn` job on a torchvision .pth (the parity oracle's ResNet-50-FPN):
inspect, eval, analyze and compare, on a VOC set whose GTs are the model's own
detections on the oracle's image (classes named as the model's: "class 1" ...).
Then every job has one right answer: inspect detects every GT, eval's VOC mAP
and COCO AP50 are 1, analyze agrees with eval and finds every GT detected,
and a model compared with itself changes nothing.

usage: cli_tv_check.py RCNN_BINARY PARITY_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

import torch
from PIL import Image

ARCH = "torchvision_resnet50_fpn"


def run(*args):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE, text=True).stdout


def main(rcnn, parity, work):
    pth = os.path.join(parity, ARCH + ".pth")
    outputs = torch.load(os.path.join(parity, ARCH + "_outputs.pth"))
    voc = os.path.join(work, "voc")
    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        os.makedirs(os.path.join(voc, d), exist_ok=True)
    img = outputs["image1"].numpy()  # (H, W, 3) uint8
    Image.fromarray(img).save(os.path.join(voc, "JPEGImages", "im.png"))
    h, w = img.shape[:2]
    names = [f"class {k}" for k in range(1, 7)]
    with open(os.path.join(voc, "labels.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    # The model's own detections (plain inspect, no dataset) become the GT.
    t0 = json.loads(run(rcnn, "inspect", "--config", ARCH, "--checkpoint", pth, os.path.join(voc, "JPEGImages", "im.png")))
    dets = t0["detections"]
    assert dets, "the oracle model detects nothing on its image"
    objs = []
    for d in dets:
        x1, y1, x2, y2 = d["box_original"]
        # VOC corners: 1-based inclusive, so [x1, x2) is <xmin>x1 + 1</xmin><xmax>x2</xmax>; keep them exact.
        objs.append(f"<object><name>{d['class']}</name><difficult>0</difficult><bndbox><xmin>{x1 + 1!r}</xmin>"
                    f"<ymin>{y1 + 1!r}</ymin><xmax>{x2!r}</xmax><ymax>{y2!r}</ymax></bndbox></object>")
    with open(os.path.join(voc, "Annotations", "im.xml"), "w") as f:
        f.write(f"<annotation><filename>im.png</filename><size><width>{w}</width><height>{h}</height><depth>3</depth>"
                f"</size>{''.join(objs)}</annotation>")
    with open(os.path.join(voc, "ImageSets/Main/val.txt"), "w") as f:
        f.write("im\n")
    bad = []
    # inspect with the dataset: every GT detected, as many detections as GTs.
    t = json.loads(run(rcnn, "inspect", "--config", ARCH, "--checkpoint", pth, "--dataset", voc, "--index", "0"))
    if len(t["gt"]) != len(dets):
        bad.append(f"inspect: {len(t['gt'])} GTs, {len(dets)} made")
    bad += [f"inspect: GT {k} {g['funnel']}" for k, g in enumerate(t["gt"]) if g["funnel"] != "detected"]
    # eval: VOC mAP@0.5 1 and COCO AP50 1.
    ev = os.path.join(work, "eval.json")
    run(rcnn, "eval", "--config", ARCH, "--checkpoint", pth, "--dataset", voc, "--json", ev)
    e = json.load(open(ev))
    if abs(e["map50"] - 1) > 1e-9:
        bad.append(f"eval: mAP@0.5 {e['map50']}")
    ap50 = e["coco"].get("AP50", e["coco"].get("ap50"))
    if ap50 is None or abs(ap50 - 1) > 1e-9:
        bad.append(f"eval: COCO AP50 {ap50}")
    # analyze: the same mAP, every GT detected.
    an = os.path.join(work, "analyze.json")
    run(rcnn, "analyze", "--config", ARCH, "--checkpoint", pth, "--dataset", voc, "--json", an)
    a = json.load(open(an))
    if abs(a["map50"] - e["map50"]) > 1e-12:
        bad.append(f"analyze: mAP@0.5 {a['map50']} vs eval {e['map50']}")
    lost = {k: v for k, v in a["funnel"].items() if v and k != "detected"}
    if lost:
        bad.append(f"analyze: GTs lost {lost}")
    # compare: the model against itself changes nothing.
    cp = os.path.join(work, "compare.json")
    run(rcnn, "compare", "--a", pth, "--config-a", ARCH, "--b", pth, "--config-b", ARCH, "--dataset", voc, "--json", cp)
    c = json.load(open(cp))
    if c["found_by_a_only"] or c["found_by_b_only"] or c["map50"]["a"] != c["map50"]["b"]:
        bad.append(f"compare: {c['map50']}, {len(c['found_by_a_only'])} / {len(c['found_by_b_only'])} changed GTs")
    print(f"{len(dets)} GTs from the model's own detections: inspect, eval (mAP {e['map50']}, COCO AP50 {ap50}), "
          f"analyze and compare on {ARCH}")
    if bad:
        print("FAILED:\n  " + "\n  ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
