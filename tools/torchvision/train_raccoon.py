#!/usr/bin/python3
"""The peer side of bench/raccoon: torchvision 0.14 trains the architecture of frcnn4j's `small` preset from scratch
on a VOCdevkit split and writes its detections on another split as COCO results JSON (image_id = file stem,
category_id = 1-based class), for `frcnn eval`.

`small`: ZF at 0.5 width (0.75 before 2026-12-03) with GroupNorm after every conv (no LRN), Caffe-style pooling; anchors
32..512 x ratios 0.5/1/2; RPN with a 256-channel 3x3 conv, 2000 -> 1000 proposals in training, 1000 -> 300 at test;
RoIAlign 7x7; 512-d two-layer head; 128 RoIs per image (256 before 2026-12-03); input 320/640; class scores and box deltas initialised N(0, 0.01) and N(0, 0.001) with zero biases.
Training: SGD lr 0.02, momentum 0.9, weight decay 1e-4 on conv and linear weights only (biases and GroupNorm
parameters are not decayed, frcnn4j's Sgd habit from py-faster-rcnn), 100-iteration linear warm-up from
0.1% then cosine, two images per iteration, horizontal flips, gradient norm clipped at 10, and (with --train-scales,
frcnn4j's `small` default) the shorter side drawn per image from 256..384: torchvision draws from its min_size tuple in
training and tests at the tuple's last entry, so 320 goes last.

Usage: tools/torchvision/train_raccoon.py VOC_DIR TRAIN_SPLIT TEST_SPLIT ITERATIONS OUT.json [SEED [--train-scales]
       [--log CSV]]   (--log writes each iteration's learning rate and four losses, as frcnn4j's log.csv)
"""
import json
import math
import os
import random
import sys
import time
import xml.etree.ElementTree as ET

import torch
from PIL import Image
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign
from torchvision.transforms.functional import to_tensor

torch.set_num_threads(2)


def groups(c):
    g = min(32, c)
    while c % g:
        g -= 1
    return g


def small_backbone(width=0.75):
    c1, c2, c3, c5 = (max(1, round(c * width)) for c in (96, 256, 384, 256))

    def block(cin, cout, k, s, p):
        conv = nn.Conv2d(cin, cout, k, stride=s, padding=p)
        nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (cout * k * k)))
        nn.init.zeros_(conv.bias)
        return [conv, nn.GroupNorm(groups(cout), cout), nn.ReLU(inplace=True)]

    layers = (block(3, c1, 7, 2, 3) + [nn.MaxPool2d(3, 2, 1, ceil_mode=True)] + block(c1, c2, 5, 2, 2)
              + [nn.MaxPool2d(3, 2, 1, ceil_mode=True)] + block(c2, c3, 3, 1, 1) + block(c3, c3, 3, 1, 1)
              + block(c3, c5, 3, 1, 1))
    seq = nn.Sequential(*layers)
    seq.out_channels = c5
    return seq


class RpnHead(nn.Module):
    """torchvision's RPNHead (3x3 conv + ReLU, sibling 1x1 convs, N(0, 0.01) weights) with frcnn4j's 256-channel conv;
    torchvision's own keeps the backbone's channel count."""

    def __init__(self, in_channels, channels, anchors):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.cls_logits = nn.Conv2d(channels, anchors, 1)
        self.bbox_pred = nn.Conv2d(channels, 4 * anchors, 1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features):
        logits, deltas = [], []
        for x in features:
            t = torch.relu(self.conv(x))
            logits.append(self.cls_logits(t))
            deltas.append(self.bbox_pred(t))
        return logits, deltas


def cpu_preset_model(width, rpn_channels, fc, num_classes, min_size, max_size, rois_per_image=256):
    """torchvision's FasterRCNN with the architecture of frcnn4j's CPU presets (`small`: 0.5, 256, 512, 320, 640, 128;
    `tiny`: 0.125, 32, 64, 128, 192, 256): 15 anchors per position, 2000 -> 1000 proposals in training, 1000 -> 300
    at test, RoIAlign 7x7."""
    backbone = small_backbone(width)
    c = backbone.out_channels
    return FasterRCNN(
        backbone, num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((32, 64, 128, 256, 512),), ((0.5, 1.0, 2.0),)),
        rpn_head=RpnHead(c, rpn_channels, 15),
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_head=TwoMLPHead(c * 49, fc),
        box_predictor=FastRCNNPredictor(fc, num_classes), min_size=min_size, max_size=max_size,
        rpn_pre_nms_top_n_train=2000, rpn_post_nms_top_n_train=1000, rpn_pre_nms_top_n_test=1000,
        rpn_post_nms_top_n_test=300, box_batch_size_per_image=rois_per_image)


def read_split(root, split):
    ids = [l.split()[0] for l in open(os.path.join(root, "ImageSets", "Main", split + ".txt")) if l.strip()]
    classes = [l.strip() for l in open(os.path.join(root, "classes.txt")) if l.strip()]
    items = []
    for i in ids:
        tree = ET.parse(os.path.join(root, "Annotations", i + ".xml")).getroot()
        boxes, labels = [], []
        for o in tree.findall("object"):
            if o.findtext("difficult", "0") == "1":
                continue
            b = o.find("bndbox")
            # VOC pixels are 1-based: the same shift as frcnn4j's reader
            boxes.append([float(b.findtext(t)) - 1 for t in ("xmin", "ymin", "xmax", "ymax")])
            labels.append(classes.index(o.findtext("name").strip()) + 1)
        items.append((i, os.path.join(root, "JPEGImages", i + ".jpg"), boxes, labels))
    return items, classes


def main():
    root, train_split, test_split, iterations, out = sys.argv[1:6]
    iterations = int(iterations)
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    torch.manual_seed(seed)
    rng = random.Random(seed)
    train, classes = read_split(root, train_split)
    test, _ = read_split(root, test_split)
    model = cpu_preset_model(0.5, 256, 512, len(classes) + 1,
                             (256, 288, 352, 384, 320) if "--train-scales" in sys.argv else 320, 640, 128)
    # frcnn4j's FastRcnnHead draws the predictors as py-faster-rcnn does; torchvision's Linear default would not
    predictor = model.roi_heads.box_predictor
    for layer, std in ((predictor.cls_score, 0.01), (predictor.bbox_pred, 0.001)):
        nn.init.normal_(layer.weight, std=std)
        nn.init.zeros_(layer.bias)
    params = [p for p in model.parameters() if p.requires_grad]
    # weights of convolutions and linear layers are the parameters with more than one dimension
    decayed = [p for p in params if p.dim() > 1]
    undecayed = [p for p in params if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decayed, "weight_decay": 1e-4}, {"params": undecayed, "weight_decay": 0.0}],
                          lr=0.02, momentum=0.9)

    def lr_at(it):
        if it < 100:
            a = it / 100
            return 0.02 * (0.001 * (1 - a) + a)
        t = (it - 100) / max(1, iterations - 100)
        return 0.02 * 0.5 * (1 + math.cos(math.pi * t))

    log = None
    if "--log" in sys.argv:
        log = open(sys.argv[sys.argv.index("--log") + 1], "w")
        log.write("iteration,lr,rpn_objectness,rpn_box,classifier,box_regression,total\n")
    order, pos = [], 0
    t0 = time.time()
    model.train()
    for it in range(iterations):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        images, targets = [], []
        for _ in range(2):
            if pos == len(order):
                order, pos = list(range(len(train))), 0
                rng.shuffle(order)
            _, path, boxes, labels = train[order[pos]]
            pos += 1
            img = to_tensor(Image.open(path).convert("RGB"))
            b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            if rng.random() < 0.5:
                img = img.flip(-1)
                w = img.shape[-1]
                b = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
            images.append(img)
            targets.append({"boxes": b, "labels": torch.tensor(labels, dtype=torch.int64)})
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        if log:
            parts = [float(losses[k]) for k in ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg")]
            log.write(f"{it + 1},{lr_at(it)},{','.join(str(v) for v in parts)},{sum(parts)}\n")
        if (it + 1) % 50 == 0:
            print(f"iteration {it + 1}/{iterations} loss {float(loss):.3f} {time.time() - t0:.0f} s", file=sys.stderr)
    train_seconds = time.time() - t0
    model.eval()
    results = []
    with torch.no_grad():
        for i, path, _, _ in test:
            det = model([to_tensor(Image.open(path).convert("RGB"))])[0]
            for b, s, l in zip(det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist()):
                results.append({"image_id": i, "category_id": int(l), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                                "score": float(s)})
    with open(out, "w") as f:
        json.dump(results, f)
    print(json.dumps({"train_seconds": train_seconds, "iterations": iterations, "detections": len(results)}))


if __name__ == "__main__":
    main()
