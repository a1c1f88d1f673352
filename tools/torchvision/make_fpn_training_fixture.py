#!/usr/bin/python3
"""Training-parity fixture for torchvision's ResNet-50-FPN family (issue #12): torchvision 0.14 trains the reduced
fasterrcnn_resnet50_fpn of make_fpn_fixtures.py (ResNet with (2, 1, 1, 1) bottlenecks of width 4 and frozen batch
norm with random statistics, a 16-channel FPN with its max-pool level, one-conv RPN head, MultiScaleRoIAlign, 32-d
two-layer head, 128/192 input) for a few SGD steps on raccoon images, one per step, with samplers that take every
candidate (nothing random), and records each step's four losses, as make_training_fixture.py does for the tiny ZF.
Everything trains except the frozen batch norm (torchvision keeps its weight and bias as buffers).

Writes OUT/training_resnet50_fpn/: model.pth (the starting weights, as torch.save writes them), flags.json (the
import flags) and steps.json.
Usage: tools/torchvision/make_fpn_training_fixture.py OUT_DIR   (e.g. core/src/test/resources/fixtures/torchvision)
"""
import json
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import make_fpn_fixtures  # noqa: E402
from make_training_fixture import decoded_alike, peer, train_steps  # noqa: E402

STEPS = 6


def main():
    out = os.path.join(sys.argv[1], "training_resnet50_fpn")
    os.makedirs(out, exist_ok=True)
    model = make_fpn_fixtures.build("resnet50_fpn", 41)
    model.rpn.fg_bg_sampler.batch_size_per_image = 10 ** 6
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 10 ** 6
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    with open(os.path.join(out, "flags.json"), "w") as f:
        json.dump({**make_fpn_fixtures.FLAGS["resnet50_fpn"], "num_classes": make_fpn_fixtures.NUM_CLASSES}, f, indent=2)
    root = os.path.join(here, "..", "..", "datasets", "raccoon")
    train, _ = peer.read_split(root, "train")
    train_steps(model, decoded_alike(train)[:3], STEPS, out)


if __name__ == "__main__":
    main()
