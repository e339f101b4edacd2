# The oracle of the torchvision parity test: builds each architecture with
# random weights from a fixed seed (BatchNorm statistics randomised too),
# saves its state_dict as a user would (torch.save(model.state_dict())), runs
# it on a batch of three images of different sizes and aspect ratios, and
# saves what every stage computed. Debian's python3-torchvision; nothing is
# downloaded.  Usage: make_parity.py OUT_DIR [ARCH ...]
import sys, torch, torchvision
from torchvision.models.detection import FasterRCNN, fasterrcnn_resnet50_fpn_v2, fasterrcnn_mobilenet_v3_large_320_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.ops import FrozenBatchNorm2d

ARCHS = ["torchvision_resnet50_fpn", "torchvision_resnet50_fpn_v2",
         "torchvision_mobilenet_v3_large_fpn", "torchvision_mobilenet_v3_large_320_fpn"]
torch.set_num_threads(int(__import__("os").environ.get("RCNN_TV_THREADS", "1")))
NUM_CLASSES, MIN_SIZE, MAX_SIZE = 7, 320, 480
# The training step's oracle: FrozenBatchNorm2d models, and v2 whose BatchNorm2d layers train their statistics.
TRAINED = ["torchvision_resnet50_fpn", "torchvision_mobilenet_v3_large_fpn", "torchvision_resnet50_fpn_v2"]


def randomise_norms(model, g):
    for m in model.modules():
        if isinstance(m, (FrozenBatchNorm2d, torch.nn.BatchNorm2d)):
            c = m.weight.shape[0]
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)


def build(arch):
    torch.manual_seed(0)
    if arch == "torchvision_resnet50_fpn":
        # As torchvision builds it around trained weights: FrozenBatchNorm2d in the body.
        body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        m = FasterRCNN(_resnet_fpn_extractor(body, 3), num_classes=NUM_CLASSES, min_size=MIN_SIZE, max_size=MAX_SIZE)
    elif arch == "torchvision_resnet50_fpn_v2":
        m = fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=NUM_CLASSES,
                                       min_size=MIN_SIZE, max_size=MAX_SIZE)
    elif arch == "torchvision_mobilenet_v3_large_fpn":
        # As fasterrcnn_mobilenet_v3_large_fpn builds it around trained weights (FrozenBatchNorm2d).
        body = mobilenet_v3_large(weights=None, norm_layer=FrozenBatchNorm2d)
        anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
        m = FasterRCNN(_mobilenet_extractor(body, True, 3), num_classes=NUM_CLASSES, rpn_anchor_generator=anchors,
                       rpn_score_thresh=0.05, min_size=MIN_SIZE, max_size=MAX_SIZE)
    else:  # the builder as is (BatchNorm2d, 320 / 640, top-k 150)
        m = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=NUM_CLASSES)
    g = torch.Generator().manual_seed(1)
    randomise_norms(m, g)
    with torch.no_grad():  # objectness with some spread, so top-k and NMS have work to do
        m.rpn.head.cls_logits.weight.normal_(0, 0.05, generator=g)
    return m.eval()


def images():
    g = torch.Generator().manual_seed(2)
    out = []
    for h, w in [(240, 320), (400, 200), (256, 256)]:
        coarse = torch.rand(1, 3, h // 16, w // 16, generator=g)
        smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
        noisy = (smooth * 0.8 + torch.rand(3, h, w, generator=g) * 0.2).clamp(0, 1)
        out.append((noisy * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous())  # HWC
    return out


class Recorder:
    """Wraps a BalancedPositiveNegativeSampler: the same draw, and the masks kept."""

    def __init__(self, inner):
        self.inner, self.pos, self.neg = inner, [], []

    def __call__(self, labels):
        pos, neg = self.inner(labels)
        self.pos, self.neg = [torch.where(p)[0] for p in pos], [torch.where(n)[0] for n in neg]
        return pos, neg


def targets():
    """GT boxes for the three images (original coordinates), labels 1..6."""
    return [{"boxes": torch.tensor([[20.0, 30.0, 120.0, 150.0], [150.0, 40.0, 300.0, 220.0], [60.0, 60.0, 90.0, 80.0]]),
             "labels": torch.tensor([1, 3, 6])},
            {"boxes": torch.tensor([[10.0, 50.0, 180.0, 390.0]]), "labels": torch.tensor([2])},
            {"boxes": torch.tensor([[5.0, 5.0, 250.0, 250.0], [100.0, 100.0, 140.0, 160.0]]),
             "labels": torch.tensor([4, 5])}]


def training_step(model, imgs, res):
    """One training step's four losses (torch.manual_seed(3) before it) and the
    anchors / RoIs its samplers drew, per image."""
    rpn, roi = Recorder(model.rpn.fg_bg_sampler), Recorder(model.roi_heads.fg_bg_sampler)
    model.rpn.fg_bg_sampler, model.roi_heads.fg_bg_sampler = rpn, roi
    model.train()
    torch.manual_seed(3)
    losses = model(imgs, targets())
    model.eval()
    model.rpn.fg_bg_sampler, model.roi_heads.fg_bg_sampler = rpn.inner, roi.inner
    for k, v in losses.items():
        res[k] = v.detach()
    # BatchNorm2d in train mode: the running statistics after the step (and its counter).
    for k, v in model.state_dict().items():
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")) and any(
                isinstance(m, torch.nn.BatchNorm2d) for n, m in model.named_modules() if k.startswith(n + ".")
                and k.count(".") == n.count(".") + 1):
            res[f"after.{k}"] = v.detach().clone()
    for i, t in enumerate(targets()):
        res[f"target_boxes{i}"], res[f"target_labels{i}"] = t["boxes"], t["labels"]
        res[f"rpn_pos{i}"], res[f"rpn_neg{i}"] = rpn.pos[i], rpn.neg[i]
        res[f"roi_pos{i}"], res[f"roi_neg{i}"] = roi.pos[i], roi.neg[i]
    return {k: round(float(v), 6) for k, v in losses.items()}


def main(out, archs):
    imgs8 = images()
    for arch in archs:
        model = build(arch)
        torch.save(model.state_dict(), f"{out}/{arch}.pth")
        imgs = [im.permute(2, 0, 1).contiguous().float().div(255) for im in imgs8]  # as to_tensor makes them
        with torch.no_grad():
            original = [tuple(im.shape[-2:]) for im in imgs]
            il, _ = model.transform(imgs)
            feats = model.backbone(il.tensors)
            body = model.backbone.body(il.tensors)
            anchors = model.rpn.anchor_generator(il, list(feats.values()))
            proposals, _ = model.rpn(il, feats)
            pooled = model.roi_heads.box_roi_pool(feats, proposals, il.image_sizes)
            dets, _ = model.roi_heads(feats, proposals, il.image_sizes)
            dets = model.transform.postprocess(dets, il.image_sizes, original)
            full = model(imgs)  # the same thing through the model's own forward
            single = model([imgs[1]])[0]  # one image alone: its own padding, so its own anchors
        res = {"batch": il.tensors, "anchors": anchors[0], "roi_features": pooled}
        for k, f in body.items():
            res[f"body_{k}"] = f
        for i, im in enumerate(imgs8):
            res[f"image{i}"] = im
            res[f"proposals{i}"] = proposals[i]
            for k in ("boxes", "scores", "labels"):
                assert torch.equal(dets[i][k], full[i][k])
                res[f"{k}{i}"] = dets[i][k]
        for k in ("boxes", "scores", "labels"):
            res[f"single_{k}"] = single[k]
        for k, f in feats.items():
            res[f"feature_{k}"] = f
        # Training: the four losses, the samplers' draws and (BatchNorm2d) the updated statistics.
        losses = training_step(model, imgs, res) if arch in TRAINED else {}
        torch.save(res, f"{out}/{arch}_outputs.pth")
        print(arch, "detections per image:", [len(d["boxes"]) for d in dets],
              "proposals:", [len(p) for p in proposals], "losses:", losses)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ARCHS)
