# Fine-tuning "and back": `rcnn train` fine-tunes the oracle's ResNet-50-FPN
# state dict (make_parity.py) for two iterations on a small VOC set made of
# the oracle's images and targets; torchvision then loads the run's last.pth
# with load_state_dict (strict) into its own model, the backbone stages that
# trainable_backbone_layers = 3 freezes are unchanged, the trained ones
# changed, and torchvision's detections equal `rcnn detect --exact` on it.
# The learning rate is tiny on purpose: the oracle's random weights have a
# classification loss near 15, and a real step would scatter every proposal;
# what is tested is the file and the frozen stages, not the learning.
# Usage: finetune_roundtrip.py OUT_DIR RCNN_BINARY
import json, os, subprocess, sys, torch
from torchvision.io import write_png
sys.path.insert(0, os.path.dirname(__file__))
import make_parity as mp  # noqa: E402

out, rcnn = sys.argv[1], sys.argv[2]
arch = "torchvision_resnet50_fpn"
voc = f"{out}/ft_voc"
for d in ("JPEGImages", "Annotations", "ImageSets/Main"):
    os.makedirs(f"{voc}/{d}", exist_ok=True)
names = [f"c{k}" for k in range(1, mp.NUM_CLASSES)]  # labels 1..6 -> the model's classes 1..6
with open(f"{voc}/labels.txt", "w") as f:
    f.write("\n".join(names) + "\n")
ids = []
for i, (im, t) in enumerate(zip(mp.images(), mp.targets())):
    ids.append(f"im{i}")
    write_png(im.permute(2, 0, 1).contiguous(), f"{voc}/JPEGImages/im{i}.png")
    objs = "".join(f"<object><name>{names[int(l) - 1]}</name><difficult>0</difficult><bndbox><xmin>{b[0]:.0f}</xmin>"
                   f"<ymin>{b[1]:.0f}</ymin><xmax>{b[2]:.0f}</xmax><ymax>{b[3]:.0f}</ymax></bndbox></object>"
                   for b, l in zip(t["boxes"].tolist(), t["labels"].tolist()))
    with open(f"{voc}/Annotations/im{i}.xml", "w") as f:
        f.write(f"<annotation><filename>im{i}.png</filename>"
                f"<size><width>{im.shape[1]}</width><height>{im.shape[0]}</height><depth>3</depth></size>{objs}"
                f"</annotation>")
for split in ("train", "val"):
    with open(f"{voc}/ImageSets/Main/{split}.txt", "w") as f:
        f.write("\n".join(ids) + "\n")

opts = ["--set", "torchvision.min_size=320", "--set", "torchvision.max_size=480",
        "--set", "torchvision.frozen_bn_eps=1e-5"]
subprocess.run([rcnn, "train", "--config", arch, "--checkpoint", f"{out}/{arch}.pth", "--dataset", voc,
                "--out", f"{out}/runs", "--name", "ft", "--iters", "2", "--set", "solver.batch_size=2",
                "--set", "solver.lr=1e-7", "--set", "solver.warmup_iters=0", "--set", "solver.eval_period=0"] + opts,
               check=True)
last = f"{out}/runs/ft/last.pth"
original, tuned = torch.load(f"{out}/{arch}.pth"), torch.load(last)
assert list(tuned.keys()) == list(original.keys()), "keys or their order differ"
frozen = [k for k in original if k.startswith(("backbone.body.conv1.", "backbone.body.layer1."))]
# conv and linear weights (FrozenBatchNorm2d's are buffers: they never train)
trained = [k for k in original if k.startswith(("backbone.body.layer4.", "rpn.head.", "roi_heads.")) and
           k.endswith("weight") and original[k].dim() > 1]
assert frozen and all(torch.equal(tuned[k], original[k]) for k in frozen), "a frozen stage changed"
changed = [k for k in trained if not torch.equal(tuned[k], original[k])]
assert len(changed) == len(trained), f"not trained: {sorted(set(trained) - set(changed))[:5]}"
model = mp.build(arch)  # FrozenBatchNorm2d (eps 1e-5), 7 classes, 320 / 480
model.load_state_dict(tuned, strict=True)
model.eval()
img = mp.images()[1]
with torch.no_grad():
    ref = model([img.permute(2, 0, 1).contiguous().float().div(255)])[0]
subprocess.run([rcnn, "detect", "--config", arch, "--checkpoint", last, "--exact", "--score", "0.05",
                f"{voc}/JPEGImages/im1.png", "--out", f"{out}/ft_detect"] + opts, check=True, stdout=subprocess.DEVNULL)
dets = json.load(open(f"{out}/ft_detect/detections.json"))[0]["detections"]
assert len(dets) == len(ref["boxes"]) > 0, f"{len(dets)} detections here, {len(ref['boxes'])} in torchvision"
for d, b, s, l in zip(dets, ref["boxes"].tolist(), ref["scores"].tolist(), ref["labels"].tolist()):
    assert max(abs(x - y) for x, y in zip(d["box"], b)) <= 1e-3, (d, b)
    assert abs(d["score"] - s) <= 1e-5 and d["label"] == l - 1, (d, s, l)
print(f"fine-tuned {last}: loads into torchvision (strict), {len(frozen)} frozen tensors unchanged, "
      f"{len(trained)} trained weights changed, {len(dets)} detections equal to torchvision's")
