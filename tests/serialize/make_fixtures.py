# Writes the .pth fixtures of test_state_dict.cpp with Python's torch.save
# (run once by hand; the files are checked in so the test needs no Python):
#   /usr/bin/python3 tests/serialize/make_fixtures.py tests/serialize/fixtures
import collections, sys, torch

out = sys.argv[1]
sd = collections.OrderedDict()
sd["conv.weight"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8 - 1
sd["conv.bias"] = torch.tensor([0.5, -2.25])
sd["bn.running_var"] = torch.tensor([1e-5, 3.0], dtype=torch.float64)
sd["bn.num_batches_tracked"] = torch.tensor(7)
sd["half"] = torch.tensor([1.5, -0.125], dtype=torch.float16)
base = torch.arange(12, dtype=torch.int32).reshape(3, 4)
sd["view.t"] = base.t()          # non-contiguous, shares storage with the next one
sd["view.row"] = base[1]         # storage offset 4
sd["flags"] = torch.tensor([True, False, True])
sd._metadata = {"": {"version": 1}}
torch.save(sd, out + "/state_dict.pth")
# A training checkpoint: the state dict under "model" beside other things.
torch.save({"model": sd, "epoch": 3, "lr": 0.01, "name": "run", "opt": {"state": {}, "param_groups": [{"lr": 0.01}]},
            "big": 2 ** 40, "neg": -5, "nested": (1, [2.5, None], b"raw")}, out + "/checkpoint.pth")
# Not a state dict: a list of tensors.
torch.save([torch.zeros(2)], out + "/list.pth")
# The pre-1.6 format.
torch.save(sd, out + "/legacy.pth", _use_new_zipfile_serialization=False)
