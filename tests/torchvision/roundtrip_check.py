# "And back": the .pth files the C++ side wrote (roundtrip_<arch>.pth, from the
# parity test) load into torchvision's own models with load_state_dict
# (strict), equal the original state dicts, and give the same detections.
import sys, torch
sys.path.insert(0, __import__("os").path.dirname(__file__))
import make_parity as mp  # noqa: E402  (builds nothing at import: guarded below)

out = sys.argv[1]
for arch in mp.ARCHS:
    model = mp.build(arch)
    original = torch.load(f"{out}/{arch}.pth")
    back = torch.load(f"{out}/roundtrip_{arch}.pth")
    assert list(back.keys()) == list(original.keys()), f"{arch}: keys or their order differ"
    for k in original:
        assert torch.equal(back[k], original[k]), f"{arch}: {k} differs"
    model.load_state_dict(back, strict=True)
    model.eval()
    imgs = [im.permute(2, 0, 1).contiguous().float().div(255) for im in mp.images()]
    ref = torch.load(f"{out}/{arch}_outputs.pth")
    with torch.no_grad():
        dets = model(imgs)
    for i, d in enumerate(dets):
        for k in ("boxes", "scores", "labels"):
            assert torch.equal(d[k], ref[f"{k}{i}"]), f"{arch}: image {i} {k} differ"
    print(f"{arch}: roundtrip_{arch}.pth loads into torchvision (strict), {len(back)} tensors equal, "
          f"detections equal")
