#!/usr/bin/python3
"""Parity fixtures from the peer: Debian's python3-torchvision 0.14 (apt-get install python3-torchvision
libopenblas0-pthread; run with /usr/bin/python3).

For each variant it builds torchvision's FasterRCNN around a backbone (VGG-16's features[:-1] or the ZF net of
frcnn4j's ZfNet, at a reduced width), with the RoI op asked for, initialises it from a seed, scales the output layers
so that scores are spread out, runs it on one image, and writes to OUT/<variant>/:
  state_dict.npz   one array per state-dict key (what `frcnn import-torchvision` reads)
  image.png        the input (PNG, so that both sides decode the same pixels)
  expected.npz     image sizes, the feature map, the RPN's logits and deltas (anchor order: row, column, anchor),
                   the post-NMS proposals and their scores (resized-image pixels), the head's outputs for them,
                   and the final detections (original-image pixels)
  flags.json       the import flags that reproduce the model's settings

Usage: tools/torchvision/make_fixtures.py OUT_DIR [--full-vgg16 IMAGE | --losses]   (--full-vgg16 writes one
full-size VGG-16 model, 800/1333 like torchvision's defaults, for benchmarks; it is not committed. --losses rewrites
only the training-loss and gradient fixtures of an existing vgg16-align)
"""
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign, RoIPool

torch.set_num_threads(2)


def vgg16_features(width):
    """torchvision's vgg16().features[:-1] with channels times `width` (same module indices)."""
    layers, c_in = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            c = max(1, round(v * width))
            conv = nn.Conv2d(c_in, c, kernel_size=3, padding=1)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU(inplace=True)]
            c_in = c
    seq = nn.Sequential(*layers)
    seq.out_channels = c_in
    return seq


class WithinChannelLRN(nn.Module):
    """Caffe's LRN with norm_region WITHIN_CHANNEL, local size 3, alpha 5e-5, beta 0.75 (py-faster-rcnn's ZF)."""

    def forward(self, x):
        mean_sq = nn.functional.avg_pool2d(x * x, 3, stride=1, padding=1, count_include_pad=True)
        return x * (1 + 5e-5 * mean_sq) ** -0.75


def zf_features(width):
    """py-faster-rcnn's ZF conv layers (Caffe pooling rounds up): the module order of frcnn4j's ZfNet."""
    c1, c2, c3, c5 = (max(1, round(c * width)) for c in (96, 256, 384, 256))
    seq = nn.Sequential(
        nn.Conv2d(3, c1, 7, stride=2, padding=3), nn.ReLU(inplace=True), WithinChannelLRN(),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Conv2d(c1, c2, 5, stride=2, padding=2), nn.ReLU(inplace=True), WithinChannelLRN(),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c5, 3, padding=1), nn.ReLU(inplace=True))
    seq.out_channels = c5
    return seq


class RoIPoolOnMap(nn.Module):
    """torchvision's RoIPool (Caffe's RoI max pooling, 7x7 at 1/16) behind the box_roi_pool call signature."""

    def __init__(self):
        super().__init__()
        self.pool = RoIPool((7, 7), 1 / 16)

    def forward(self, features, proposals, image_shapes):
        return self.pool(features["0"], proposals)


def build(backbone_name, width, roi_op, num_classes, fc, min_size, max_size, seed):
    torch.manual_seed(seed)
    backbone = vgg16_features(width) if backbone_name == "vgg16" else zf_features(width)
    c = backbone.out_channels
    model = FasterRCNN(
        backbone, num_classes=None,
        rpn_anchor_generator=AnchorGenerator(((128, 256, 512),), ((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_head=TwoMLPHead(c * 49, fc),
        box_predictor=FastRCNNPredictor(fc, num_classes), min_size=min_size, max_size=max_size)
    if roi_op == "pool":
        model.roi_heads.box_roi_pool = RoIPoolOnMap()  # the constructor only accepts MultiScaleRoIAlign
    return model.eval()


def spread_scores(model, image_path, run_stages=None):
    """Random weights give near-uniform scores. Rescale the output layers so that the RPN's logits have a standard
    deviation of 3 and the head's class logits of 2, and deltas move boxes visibly, keeping float32 sigmoid/softmax
    far from saturation, so that rankings, NMS and thresholds are exercised for real. run_stages(model, image_path)
    gives the outputs to measure (default: this module's run; make_fpn_fixtures passes its own)."""
    out = (run_stages or run)(model, image_path)
    with torch.no_grad():
        for layer, values, target in [
            (model.rpn.head.cls_logits, out["rpn_logits"], 3.0),
            (model.rpn.head.bbox_pred, out["rpn_deltas"], 0.3),
            (model.roi_heads.box_predictor.cls_score, out["class_logits"], 2.0),
            (model.roi_heads.box_predictor.bbox_pred, out["box_regression"], 2.0),
        ]:
            layer.weight.mul_(target / float(np.std(values)))


def run(model, image_path):
    captured = {}
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("features", o))
    model.rpn.head.register_forward_hook(lambda m, i, o: captured.__setitem__("rpn_head", o))
    model.roi_heads.box_predictor.register_forward_hook(lambda m, i, o: captured.__setitem__("predictor", o))
    model.transform.register_forward_hook(lambda m, i, o: captured.__setitem__("transformed", o[0]))
    filter_proposals = model.rpn.filter_proposals

    def keep_scores(*args, **kwargs):
        boxes, scores = filter_proposals(*args, **kwargs)
        captured["proposals"] = (boxes, scores)
        return boxes, scores

    model.rpn.filter_proposals = keep_scores
    img = torchvision.transforms.functional.to_tensor(Image.open(image_path).convert("RGB"))
    with torch.no_grad():
        det = model([img])[0]
    objectness, deltas = captured["rpn_head"]
    a = objectness[0].shape[1]
    h, w = objectness[0].shape[2:]
    logits = objectness[0].permute(0, 2, 3, 1).reshape(-1)
    box = deltas[0].view(1, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(-1, 4)
    boxes, scores = captured["proposals"]
    class_logits, box_regression = captured["predictor"]
    images = captured["transformed"]
    return {
        "original_size": np.array(img.shape[1:], dtype=np.int64),
        "resized_size": np.array(images.image_sizes[0], dtype=np.int64),
        "input": images.tensors.numpy(),
        "features": captured["features"].numpy(),
        "rpn_logits": logits.numpy(),
        "rpn_deltas": box.numpy(),
        "proposals": boxes[0].numpy(),
        "proposal_scores": scores[0].numpy(),
        "class_logits": class_logits.numpy(),
        "box_regression": box_regression.numpy(),
        "det_boxes": det["boxes"].numpy(),
        "det_scores": det["scores"].numpy(),
        "det_labels": det["labels"].numpy().astype(np.int64),
    }


def save_variant(out, name, backbone, width, roi_op, num_classes, fc, min_size, max_size, seed, image):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model = build(backbone, width, roi_op, num_classes, fc, min_size, max_size, seed)
    image.save(os.path.join(d, "image.png"))
    spread_scores(model, os.path.join(d, "image.png"))
    np.savez(os.path.join(d, "state_dict.npz"), **{k: v.numpy() for k, v in model.state_dict().items()})
    expected = run(model, os.path.join(d, "image.png"))
    np.savez_compressed(os.path.join(d, "expected.npz"), **expected)
    flags = {"backbone": backbone, "roi_op": roi_op, "num_classes": num_classes,
             "min_size": min_size, "max_size": max_size}
    with open(os.path.join(d, "flags.json"), "w") as f:
        json.dump(flags, f, indent=2)
    print(name, "proposals", expected["proposals"].shape[0], "detections", expected["det_scores"].shape[0],
          "features", expected["features"].shape)


def save_losses(out, variant, backbone, width, roi_op, num_classes, fc, min_size, max_size):
    """The four training losses of torchvision's model on the variant's weights and image, for fixed ground truth,
    with samplers so large that every positive and negative anchor and RoI is taken: a deterministic sample that
    frcnn4j can reproduce exactly. Writes OUT/<variant>/losses.json, and the gradient of their sum for every
    parameter (its L2 norm, sum and first 16 values) to OUT/<variant>/gradients.json."""
    d = os.path.join(out, variant)
    model = build(backbone, width, roi_op, num_classes, fc, min_size, max_size, 0)
    state = np.load(os.path.join(d, "state_dict.npz"))
    model.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files})
    model.rpn.fg_bg_sampler.batch_size_per_image = 10 ** 6
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 10 ** 6
    model.train()
    img = torchvision.transforms.functional.to_tensor(Image.open(os.path.join(d, "image.png")).convert("RGB"))
    boxes = [[40.0, 30.0, 190.0, 170.0], [150.0, 10.0, 290.0, 120.0]]
    labels = [1, 3]
    target = {"boxes": torch.tensor(boxes), "labels": torch.tensor(labels, dtype=torch.int64)}
    losses = model([img], [target])
    sum(losses.values()).backward()
    gradients = {}
    for name, p in model.named_parameters():
        g = p.grad.double().flatten() if p.grad is not None else torch.zeros(p.numel(), dtype=torch.float64)
        gradients[name] = {"norm": float(g.norm()), "sum": float(g.sum()), "first": g[:16].tolist()}
    with open(os.path.join(d, "gradients.json"), "w") as f:
        json.dump(gradients, f, indent=1)
    result = {k: float(v) for k, v in losses.items()}
    result["gt_boxes"] = boxes
    result["gt_labels"] = labels
    with open(os.path.join(d, "losses.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(variant, "losses", {k: round(v, 5) for k, v in result.items() if k.startswith("loss")})


def main():
    out = sys.argv[1]
    if len(sys.argv) > 3 and sys.argv[2] == "--full-vgg16":
        image = Image.open(sys.argv[3]).convert("RGB")
        save_variant(out, "vgg16-full", "vgg16", 1.0, "align", 91, 1024, 800, 1333, 7, image)
        return
    if len(sys.argv) > 2 and sys.argv[2] == "--losses":
        save_losses(out, "vgg16-align", "vgg16", 0.125, "align", 4, 64, 224, 352)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(here, "..", "..", "datasets", "raccoon", "JPEGImages", "raccoon-1.jpg")
    image = Image.open(source).convert("RGB").resize((300, 192), Image.BILINEAR)
    save_variant(out, "vgg16-align", "vgg16", 0.125, "align", 4, 64, 224, 352, 1, image)
    save_variant(out, "zf-pool", "zf", 0.25, "pool", 4, 64, 224, 352, 2, image)
    save_losses(out, "vgg16-align", "vgg16", 0.125, "align", 4, 64, 224, 352)


if __name__ == "__main__":
    main()
