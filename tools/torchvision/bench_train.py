#!/usr/bin/python3
"""Times torchvision 0.14's FasterRCNN training iterations (the peer side of bench/train).

The model of make_fixtures.py at full width (VGG-16 or ZF, RoIAlign, 1024-d head), min_size 600 / max_size 1000, one
image per iteration with its ground truth, SGD (lr 1e-6, momentum 0.9, weight decay 5e-4), 2 threads. Prints the
median seconds per iteration after a warm-up (2 iterations, or W) as JSON.

Usage: tools/torchvision/bench_train.py [--warmup W] [--gate FIFO DONE] vgg16|zf IMAGE ITERATIONS [INITIAL_WEIGHTS.npz]
With --gate, each iteration waits for a line on the named pipe FIFO first and appends its seconds to DONE after: how
bench/train lets this process and frcnn4j's (`-Dfrcnn.stepGate`) take turns iteration by iteration.
(ground truth: two fixed boxes, classes 1 and 2). With INITIAL_WEIGHTS, the untrained model's state dict is written
there first, so that frcnn4j can start from the very same weights: from random weights the RPN's proposals, and so
the number of RoIs the head sees, depend on the draw (57 vs 512 at 1000x600 with ZF), and equal work needs equal
weights.
"""
import json
import statistics
import sys
import time
import os

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.functional import to_tensor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402

torch.set_num_threads(2)

BOXES = [[100.0, 80.0, 420.0, 500.0], [520.0, 150.0, 900.0, 560.0]]


def main():
    args = sys.argv[1:]
    warmup = 2
    if args[:1] == ["--warmup"]:
        warmup, args = int(args[1]), args[2:]
    gate = done = None
    if args[:1] == ["--gate"]:
        gate, done, args = args[1], args[2], args[3:]
    arch, image, iterations = args[0], args[1], int(args[2])
    model = make_fixtures.build(arch, 1.0, "align", 3, 1024, 600, 1000, 5)
    # spread the output layers' scores (as the parity fixtures do): with raw random weights the RPN's logits nearly tie,
    # so float noise decides which anchors survive NMS, and how many RoIs the head trains on
    make_fixtures.spread_scores(model, image)
    if len(args) > 3:
        np.savez(args[3], **{k: v.numpy() for k, v in model.state_dict().items()})
    model.train()
    img = to_tensor(Image.open(image).convert("RGB"))
    target = {"boxes": torch.tensor(BOXES), "labels": torch.tensor([1, 2])}
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9, weight_decay=5e-4)
    times = []
    go = None
    for i in range(iterations + warmup):
        if gate:
            go = go or open(gate)
            if not go.readline():
                sys.exit(f"{gate}: the gate's writer closed it before iteration {i + 1}")
        t0 = time.perf_counter()
        losses = model([img], [target])
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        seconds = time.perf_counter() - t0
        if i >= warmup:
            times.append(seconds)
        if done:
            with open(done, "a") as f:
                f.write(f"{seconds}\n")
    print(json.dumps({"seconds_per_iteration": statistics.median(times), "iterations": iterations, "warmup": warmup,
                      "times": times,
                      "loss": float(loss)}))


if __name__ == "__main__":
    main()
