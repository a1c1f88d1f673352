#!/usr/bin/python3
"""Training-parity fixture: torchvision 0.14 trains frcnn4j's `tiny` architecture (ZF at 1/8 width with GroupNorm,
32-d RPN conv, anchors 32-512 x 0.5/1/2, RoIAlign 7x7, 64-d head, 128/192 input padded to 32) for a few SGD steps
from fixed weights on fixed raccoon images, one per step, with samplers that take every candidate (so nothing is
random), and records each step's four losses. frcnn4j, started from the same weights, must log the same losses step
after step: the forward pass, the backward pass and the optimizer (momentum, weight decay groups, clipping) together.
One image per step because torchvision normalises a batch's losses over the whole batch, which equals frcnn4j's mean
of per-image losses only when every image samples the same number of anchors and RoIs (as the 256-sample training
samplers do, and take-every-candidate samplers do not).

Writes OUT/training/: state_dict.npz (the starting weights under frcnn4j's parameter names) and steps.json.
Usage: tools/torchvision/make_training_fixture.py OUT_DIR
"""
import importlib.util
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import to_tensor

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("train_raccoon", os.path.join(here, "train_raccoon.py"))
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)

STEPS = 8
LR = 0.01
# the peer's nn.Sequential index -> frcnn4j's ZfNet name, for convs and their GroupNorms
BACKBONE_NAMES = {"0": "0", "1": "0.norm", "4": "4", "5": "4.norm", "8": "8", "9": "8.norm", "11": "10",
                  "12": "10.norm", "14": "12", "15": "12.norm"}


def ours(key):
    parts = key.split(".")
    if parts[0] == "backbone":
        return "backbone." + BACKBONE_NAMES[parts[1]] + "." + parts[2]
    return key


def main():
    out = os.path.join(sys.argv[1], "training")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    root = os.path.join(here, "..", "..", "datasets", "raccoon")
    train, classes = peer.read_split(root, "train")
    model = peer.cpu_preset_model(0.125, 32, 64, len(classes) + 1, 128, 192)
    model.rpn.fg_bg_sampler.batch_size_per_image = 10 ** 6
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 10 ** 6
    np.savez(os.path.join(out, "state_dict.npz"), **{ours(k): v.numpy() for k, v in model.state_dict().items()})
    train_steps(model, decoded_alike(train)[:4], STEPS, out)


def decoded_alike(images):
    """The images that Java's JPEG decoder and PIL's libjpeg decode to the same pixels (4 of the 200 differ by a few
    levels, e.g. raccoon-11, which would make the two sides' losses part for a reason outside the model)."""
    differ = {"raccoon-11", "raccoon-71", "raccoon-114", "raccoon-116"}
    return [t for t in images if t[0] not in differ]


def train_steps(model, images, steps_count, out):
    """SGD (lr LR, momentum 0.9, weight decay 1e-4 on weights only, gradient norm clipped at 10) on one image per step,
    cycling over images; writes each step's losses to out/steps.json."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD([{"params": [p for p in params if p.dim() > 1], "weight_decay": 1e-4},
                           {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}], lr=LR, momentum=0.9)
    steps = []
    model.train()
    for step in range(steps_count):
        image_id, path, boxes, labels = images[step % len(images)]
        batch = [to_tensor(Image.open(path).convert("RGB"))]
        targets = [{"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                    "labels": torch.tensor(labels, dtype=torch.int64)}]
        losses = model(batch, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        steps.append({"images": [image_id], **{k: float(v) for k, v in losses.items()}})
        print(step, {k: round(float(v), 5) for k, v in losses.items()})
    with open(os.path.join(out, "steps.json"), "w") as f:
        json.dump({"lr": LR, "momentum": 0.9, "weight_decay": 1e-4, "clip": 10.0, "steps": steps}, f, indent=1)


if __name__ == "__main__":
    main()
