#!/usr/bin/python3
"""Parity fixtures for torchvision's Faster R-CNN family (ResNet-50-FPN, its v2, MobileNetV3-Large-FPN and its 320
variant), from the peer: Debian's python3-torchvision 0.14 (run with /usr/bin/python3).

Each variant is built from the same torchvision classes as the published models, reduced so that the files stay
small: ResNet with (2, 1, 1, 1) bottleneck blocks of width 4 instead of (3, 4, 6, 3) of 64, MobileNetV3-Large at width
multiplier 0.25, FPNs of 16 channels, box heads of 32, small images. Batch-norm statistics and affine parameters are random (not the
identity), output layers are scaled so that scores spread, and the model runs in eval mode on one image. Writes to
OUT/<variant>/:
  model.pth     torch.save(state_dict) in the zip format (what `frcnn import-torchvision --weights` reads)
  image.png     the input (PNG, so that both sides decode the same pixels)
  expected.npz  the resized input, every FPN level ("level_<name>"), the RPN's objectness logits and deltas for every
                anchor (levels one after the other, each in row, column, anchor order), the post-NMS proposals and
                their scores, the head's outputs for them, and the final detections (original pixels)
  flags.json    the import flags that reproduce the model

Usage: tools/torchvision/make_fpn_fixtures.py OUT_DIR   (e.g. core/src/test/resources/fixtures/torchvision)
"""
import json
import os
import sys
from functools import partial

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models import mobilenetv3
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import AnchorGenerator, RPNHead
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402

torch.set_num_threads(2)
NUM_CLASSES = 5
FPN_CHANNELS = 16
REPRESENTATION = 32


class SmallResNet(ResNet):
    """torchvision's ResNet with bottleneck blocks, stage widths width, 2 width, 4 width, 8 width (64 in ResNet-50)."""

    def __init__(self, layers, width, norm_layer):
        nn.Module.__init__(self)
        self._norm_layer = norm_layer
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(Bottleneck, width, layers[0])
        self.layer2 = self._make_layer(Bottleneck, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(Bottleneck, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(Bottleneck, width * 8, layers[3], stride=2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def resnet_fpn(frozen, fpn_norm):
    norm = misc_nn_ops.FrozenBatchNorm2d if frozen else nn.BatchNorm2d
    body = SmallResNet([2, 1, 1, 1], 4, norm)
    return_layers = {f"layer{k}": str(v) for v, k in enumerate([1, 2, 3, 4])}
    in_channels = [4 * 4 * 2 ** (i - 1) for i in [1, 2, 3, 4]]
    return BackboneWithFPN(body, return_layers, in_channels, FPN_CHANNELS, extra_blocks=LastLevelMaxPool(),
                           norm_layer=fpn_norm)


def mobilenet_fpn(width):
    setting, last_channel = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=width)
    model = mobilenetv3.MobileNetV3(setting, last_channel, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    features = model.features
    stage_indices = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + [len(features) - 1]
    num_stages = len(stage_indices)
    returned = [num_stages - 2, num_stages - 1]
    return_layers = {f"{stage_indices[k]}": str(v) for v, k in enumerate(returned)}
    in_channels = [features[stage_indices[i]].out_channels for i in returned]
    return BackboneWithFPN(features, return_layers, in_channels, FPN_CHANNELS, extra_blocks=LastLevelMaxPool())


def build(variant, seed):
    torch.manual_seed(seed)
    common = dict(box_score_thresh=0.0, box_detections_per_img=100)
    if variant == "resnet50_fpn":
        backbone = resnet_fpn(True, None)
        model = FasterRCNN(backbone, num_classes=None, min_size=128, max_size=192,
                           box_head=TwoMLPHead(FPN_CHANNELS * 49, REPRESENTATION),
                           box_predictor=FastRCNNPredictor(REPRESENTATION, NUM_CLASSES), **common)
    elif variant == "resnet50_fpn_v2":
        backbone = resnet_fpn(False, nn.BatchNorm2d)
        anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
        model = FasterRCNN(backbone, num_classes=None, min_size=128, max_size=192, rpn_anchor_generator=anchors,
                           rpn_head=RPNHead(FPN_CHANNELS, 3, conv_depth=2),
                           box_head=FastRCNNConvFCHead((FPN_CHANNELS, 7, 7), [8, 8, 8, 8], [REPRESENTATION],
                                                       norm_layer=nn.BatchNorm2d),
                           box_predictor=FastRCNNPredictor(REPRESENTATION, NUM_CLASSES), **common)
    else:
        backbone = mobilenet_fpn(0.25)
        sizes = ((32, 64, 128, 256, 512),) * 3
        anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 3)
        extra = dict(min_size=224, max_size=320) if variant == "mobilenet_v3_large_fpn" else dict(
            min_size=160, max_size=320, rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150, rpn_score_thresh=0.05)
        model = FasterRCNN(backbone, num_classes=None, rpn_anchor_generator=anchors,
                           box_head=TwoMLPHead(FPN_CHANNELS * 49, REPRESENTATION),
                           box_predictor=FastRCNNPredictor(REPRESENTATION, NUM_CLASSES), **extra, **common)
    randomise_batch_norm(model, seed)
    return model.eval()


def randomise_batch_norm(model, seed):
    """Statistics and affine parameters far from the identity, so that a wrong eps or a missing fold shows."""
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, misc_nn_ops.FrozenBatchNorm2d)):
            n = m.running_mean.numel()
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)


def run(model, image_path, dtype=torch.float32):
    """Every stage, on one image (dtype: the model's parameters' type; float64 gives full_size_check its reference)."""
    img = torchvision.transforms.functional.to_tensor(Image.open(image_path).convert("RGB")).to(dtype)
    with torch.no_grad():
        images, _ = model.transform([img])
        features = model.backbone(images.tensors)
        levels = list(features.values())
        objectness, deltas = model.rpn.head(levels)
        anchors = model.rpn.anchor_generator(images, levels)
        counts = [o[0].numel() for o in objectness]
        from torchvision.models.detection.rpn import concat_box_prediction_layers
        flat_obj, flat_deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = model.rpn.box_coder.decode(flat_deltas, anchors).view(1, -1, 4)
        boxes, scores = model.rpn.filter_proposals(proposals, flat_obj, images.image_sizes, counts)
        pooled = model.roi_heads.box_roi_pool(features, boxes, images.image_sizes)
        class_logits, box_regression = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
        det = model([img])[0]
    out = {
        "original_size": np.array(img.shape[1:], dtype=np.int64),
        "resized_size": np.array(images.image_sizes[0], dtype=np.int64),
        "input": images.tensors.numpy(),
        "rpn_logits": flat_obj.reshape(-1).numpy(),
        "rpn_deltas": flat_deltas.numpy(),
        "proposals": boxes[0].numpy(),
        "proposal_scores": scores[0].numpy(),
        "class_logits": class_logits.numpy(),
        "box_regression": box_regression.numpy(),
        "det_boxes": det["boxes"].numpy(),
        "det_scores": det["scores"].numpy(),
        "det_labels": det["labels"].numpy().astype(np.int64),
    }
    for name, f in features.items():
        out["level_" + name] = f.numpy()
    return out


def spread_scores(model, image_path):
    """make_fixtures.spread_scores with this module's stages."""
    make_fixtures.spread_scores(model, image_path, run)


FLAGS = {
    "resnet50_fpn": {"arch": "fasterrcnn_resnet50_fpn", "min_size": 128, "max_size": 192},
    "resnet50_fpn_v2": {"arch": "fasterrcnn_resnet50_fpn_v2", "min_size": 128, "max_size": 192},
    "mobilenet_v3_large_fpn": {"arch": "fasterrcnn_mobilenet_v3_large_fpn", "width_mult": 0.25, "min_size": 224,
                               "max_size": 320},
    "mobilenet_v3_large_320_fpn": {"arch": "fasterrcnn_mobilenet_v3_large_320_fpn", "width_mult": 0.25,
                                   "min_size": 160, "max_size": 320},
}


def main():
    out = sys.argv[1]
    src = Image.open(os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "raccoon", "JPEGImages",
                                  "raccoon-38.jpg")).convert("RGB")
    image = src.resize((300, 220), Image.BILINEAR)  # shrunk and enlarged by the transforms, both directions tested
    for seed, (variant, flags) in enumerate(FLAGS.items()):
        d = os.path.join(out, variant)
        os.makedirs(d, exist_ok=True)
        image.save(os.path.join(d, "image.png"))
        model = build(variant, 100 + seed)
        spread_scores(model, os.path.join(d, "image.png"))
        torch.save(model.state_dict(), os.path.join(d, "model.pth"))
        expected = run(model, os.path.join(d, "image.png"))
        np.savez_compressed(os.path.join(d, "expected.npz"), **expected)
        with open(os.path.join(d, "flags.json"), "w") as f:
            json.dump({**flags, "num_classes": NUM_CLASSES, "box_score_thresh": 0.0}, f, indent=2)
        print(variant, "levels", [k[6:] for k in expected if k.startswith("level_")], "proposals", expected["proposals"].shape[0],
              "detections", expected["det_scores"].shape[0], "pth", os.path.getsize(os.path.join(d, "model.pth")))


if __name__ == "__main__":
    main()
