#!/usr/bin/python3
"""numpy.load reads a capture with no code of ours (docs/capture-format.md).

Usage: numpy_reads_capture.py CAPTURE.rcnncap
Checks the members against each other and against capture.json: every
array is where the format says, with the shape its counts give.
"""
import json
import sys

import numpy as np

path = sys.argv[1]
d = np.load(path)  # an .npz: a zip of .npy members
meta = json.loads(d["capture.json"])  # a member that is not .npy comes back as its bytes
assert set(meta) == {"format", "version", "image", "model", "config", "trace", "view"}, sorted(meta)
assert meta["format"] == "rcnncap" and meta["version"] == 1
t = meta["trace"]

img = d["image/original"]
assert img.dtype == np.uint8 and img.shape == (meta["image"]["height"], meta["image"]["width"], 3), img.shape
inp = d["image/input"]
assert inp.shape == (t["image"]["input_height"], t["image"]["input_width"], 3), inp.shape

K = sum(l["height"] * l["width"] * l["anchors_per_location"] for l in t["anchors"]["levels"])
assert d["anchors/boxes"].shape == (K, 4)
for name in ("matching/anchor_iou", "matching/anchor_gt", "matching/anchor_label", "rpn/objectness"):
    assert d[name].shape == (K,), (name, d[name].shape)
M = len(t["matching"]["gt"])
assert d["matching/iou_matrix"].shape == (K, M)
# An anchor's best IoU is its row's maximum of the IoU matrix.
if M:
    assert np.array_equal(d["matching/iou_matrix"].max(axis=1), d["matching/anchor_iou"])
labels = d["matching/anchor_label"]
assert labels.dtype == np.int8 and set(np.unique(labels)) <= {-1, 0, 1}

P = d["proposals/box"].shape[0]
for c in ("objectness", "level", "anchor", "state", "suppressed_by", "kept_index"):
    assert d["proposals/" + c].shape == (P,), c
kept = d["proposals/kept"]
R = kept.shape[0]
assert np.all(d["proposals/state"][kept] == 0)  # kept proposals are in the Kept state
assert np.array_equal(d["proposals/kept_index"][kept], np.arange(R))

C = len(t["model"]["class_names"])
probs = d["predictions/class_probs"]
assert probs.shape == (R, C + 1)
assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)  # a softmax over background and the classes
S, F = t["roialign"]["roi_size"], t["roialign"]["feature_channels"]
feats = d["roialign/features"]
pooled_from = t["roialign"].get("pooled_from")
if pooled_from:  # the seed family keeps its FPN levels; the RoI features are pooled from them when read
    assert feats.shape == (0, F, S, S), feats.shape
    assert [p["name"] for p in pooled_from] == [l["name"] for l in t["anchors"]["levels"]]
    for p, l in zip(pooled_from, t["anchors"]["levels"]):
        f = d["features/" + p["name"]]
        assert f.dtype == np.float32 and f.shape == (F, l["height"], l["width"]), f.shape
        assert abs(p["spatial_scale"] * l["stride"] - 1) < 1e-12 and p["output_size"] == S
else:
    assert feats.dtype == np.float16 and feats.shape == (R, F, S, S), feats.shape
crops = d["roialign/crops"]
cs = t["roialign"]["crop_size"]
assert crops.dtype == np.uint8 and crops.shape == (R, 3, cs, cs)

D = d["predictions/det_box"].shape[0]
assert d["predictions/det_score"].shape == (D,) and d["predictions/verdict_outcome"].shape == (D,)
for i in range(D):  # a detection's score is its RoI's probability of its class
    r, lab = d["predictions/det_proposal"][i], d["predictions/det_label"][i]
    assert abs(probs[r, lab + 1] - d["predictions/det_score"][i]) < 1e-6, (i, probs[r, lab + 1])
for g in t["matching"]["gt"]:
    assert isinstance(g["funnel_reason"], str) and 0 <= g["funnel"] < 15
print(f"numpy.load read {path}: {len(d.files)} members, {K} anchors, {P} proposals, {R} RoIs, {D} detections, "
      f"{M} GTs; model {meta['model']['family']} {meta['model']['weights_hash']}")
