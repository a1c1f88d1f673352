#!/usr/bin/python3
"""Fixtures for PthReader (org.frcnn4j.io): small .pth files as torch.save writes them, and what they hold.

Run with Debian's python3 (torch 1.13, torchvision 0.14):  /usr/bin/python3 tools/torchvision/make_pth_fixtures.py
Writes core/src/test/resources/pth/*.pth and expected.json. expected.json maps each file name to either
  {"tensors": {name: {"dtype", "shape", and "values" (all, row-major) or "sum" and "first" (the first 8)}}}
in the order the reader must return them, or {"refused": "module.name"} for a file whose pickle names a global the
reader must refuse. Truncated and foreign files are made by the Java test itself.
"""
import argparse
import json
import os
import pathlib
from collections import OrderedDict

import torch
import torchvision
from torch import nn

OUT = pathlib.Path(__file__).resolve().parents[2] / "core/src/test/resources/pth"
MARKER = "pth-fixture-was-executed"  # what evil.pth would create in the working directory if it were ever run
ALL_VALUES_UP_TO = 256  # bigger tensors are described by their sum and first values


def describe(t):
    t = t.detach()
    values = t.to(torch.int64 if not t.is_floating_point() else torch.float64).reshape(-1).tolist()
    d = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
    if len(values) <= ALL_VALUES_UP_TO:
        d["values"] = values
    else:
        d["sum"] = sum(values)
        d["first"] = values[:8]
    return d


def tensors(sd):
    return {"tensors": {k: describe(v) for k, v in sd.items() if isinstance(v, torch.Tensor)}}


class Tiny(nn.Module):
    """A conv and a linear layer: a few weights of each shape kind a detector has."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.fc = nn.Linear(32, 16)  # 512 weights: checked by sum


class Evil:
    """What a hostile checkpoint carries: unpickling it calls os.system. Never loaded here, only saved."""

    def __reduce__(self):
        return os.system, ("touch " + MARKER,)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    expected = {}

    def save(name, obj, described, legacy=False):
        torch.save(obj, OUT / name, _use_new_zipfile_serialization=not legacy)
        expected[name] = described

    sd = Tiny().state_dict()  # an OrderedDict with _metadata, as every state dict
    save("plain_zip.pth", sd, tensors(sd))
    save("plain_legacy.pth", sd, tensors(sd), legacy=True)

    # exact corner values of each 16-bit format: signed zero, a subnormal, the largest finite, the smallest normal
    special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 2.0 ** -24, 2.0 ** -14, 1.0 / 3.0])
    half = OrderedDict((k, v.half()) for k, v in sd.items())
    half["special"] = special.half()
    save("float16.pth", half, tensors(half))
    bf16 = OrderedDict((k, v.bfloat16()) for k, v in sd.items())
    bf16["special"] = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e38, 1.0e-38, 1.0 / 3.0]).bfloat16()
    save("bfloat16.pth", bf16, tensors(bf16))

    # views: torch.save keeps each tensor's storage, offset and strides as they are in memory
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    shared = torch.randn(12)
    views = {  # a plain dict, whose insertion order the reader keeps too
        "transposed": base.t(),                    # strides (1, 6)
        "rows": base[1:3],                         # storage offset 6
        "column": base[:, 4],                      # offset 4, stride 6
        "every_other": base[::2, 1::2],            # strides (12, 2)
        "first_half": shared[:6].view(2, 3),       # these two share one storage
        "second_half": shared[6:].view(3, 2),
        "expanded": torch.tensor([1.5, -2.0, 3.25]).expand(2, 3),  # stride 0
        "parameter": nn.Parameter(torch.tensor([[0.5, -0.25]])),   # saved with _rebuild_parameter
        "scalar": torch.tensor(7.5),
        "empty": torch.zeros(0, 3),
    }
    assert not views["transposed"].is_contiguous()
    assert views["first_half"].storage().data_ptr() == views["second_half"].storage().data_ptr()
    save("views.pth", views, tensors(views))
    save("views_legacy.pth", views, tensors(views), legacy=True)

    # a training checkpoint as torchvision's reference scripts save it (the MultiStepLR scheduler's state holds a
    # collections.Counter of milestones)
    model = Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    loss = model.fc(model.conv(torch.randn(1, 3, 6, 6)).reshape(1, 32)).sum()
    loss.backward()
    optimizer.step()  # momentum buffers: tensors in the optimizer's state, which the reader does not return
    model_sd = model.state_dict()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[16, 22], gamma=0.1)
    checkpoint = {"model": model_sd, "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                  "epoch": 3,
                  "args": argparse.Namespace(lr=0.02, epochs=26, data_path="/data/coco"),
                  "torch_version": torch.__version__}  # a torch.torch_version.TorchVersion
    save("checkpoint.pth", checkpoint, tensors(model_sd))

    # a torchvision module with BatchNorm, after one training step: running statistics and num_batches_tracked (int64)
    block = torchvision.ops.misc.Conv2dNormActivation(3, 4, kernel_size=3)
    block.train()
    block(torch.randn(2, 3, 5, 5))
    bn = block.state_dict()
    assert bn["1.num_batches_tracked"].dtype == torch.int64
    save("batchnorm.pth", bn, tensors(bn))

    dtypes = OrderedDict([
        ("float64", torch.tensor([1.0 / 3.0, -1e300, 2.5], dtype=torch.float64)),
        ("int64", torch.tensor([-(2 ** 40), 0, 2 ** 62], dtype=torch.int64)),
        ("int32", torch.tensor([[-(2 ** 31), 7], [2 ** 31 - 1, -1]], dtype=torch.int32)),
        ("int16", torch.tensor([-32768, 12345], dtype=torch.int16)),
        ("int8", torch.tensor([-128, 127, -1], dtype=torch.int8)),
        ("uint8", torch.tensor([0, 200, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
    ])
    save("dtypes.pth", dtypes, tensors(dtypes))

    save("evil.pth", {"weight": torch.ones(2), "payload": Evil()}, {"refused": os.system.__module__ + ".system"})

    with open(OUT / "expected.json", "w") as f:  # one line per tensor: readable, and diffs stay small
        files = []
        for name, d in expected.items():
            if "tensors" in d:
                rows = ",\n".join(f"   {json.dumps(k)}: {json.dumps(v)}" for k, v in d["tensors"].items())
                files.append(f' {json.dumps(name)}: {{"tensors": {{\n{rows}\n }}}}')
            else:
                files.append(f" {json.dumps(name)}: {json.dumps(d)}")
        f.write("{\n" + ",\n".join(files) + "\n}\n")
    json.load(open(OUT / "expected.json"))  # still JSON
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(expected)} fixtures and expected.json to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
