#!/usr/bin/python3
"""ImageNet-classification-checkpoint stand-ins for `frcnn train --init-backbone` (issue #12), from the peer
(Debian's python3-torchvision 0.14, run with /usr/bin/python3).

torchvision's resnet50 and mobilenet_v3_large classification models, reduced so that the files stay small (ResNet with
(2, 1, 1, 1) bottleneck blocks of width 4, MobileNetV3-Large at width multiplier 0.25, 10 classes), with random weights
and batch-norm statistics, saved as the published files are: the ResNet in torch.save's legacy format (as
resnet50-0676ba61.pth and older torchvision downloads), the MobileNetV3 in the zip format. Writes to OUT/:
  resnet.pth              conv1, bn1, layer1..4, fc
  mobilenet_v3_large.pth  features.0..16, classifier.0 and .3

Usage: tools/torchvision/make_backbone_fixtures.py OUT_DIR   (e.g. core/src/test/resources/fixtures/torchvision/imagenet)
"""
import os
import sys

import torch
from torch import nn
from torchvision.models import mobilenetv3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fpn_fixtures import SmallResNet, randomise_batch_norm  # noqa: E402


class SmallResNetClassifier(SmallResNet):
    def __init__(self):
        super().__init__([2, 1, 1, 1], 4, nn.BatchNorm2d)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * 8 * 4, 10)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(31)
    resnet = SmallResNetClassifier()
    randomise_batch_norm(resnet, 31)
    torch.save(resnet.state_dict(), os.path.join(out, "resnet.pth"), _use_new_zipfile_serialization=False)
    setting, last_channel = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_large", width_mult=0.25)
    mobilenet = mobilenetv3.MobileNetV3(setting, last_channel, num_classes=10)
    randomise_batch_norm(mobilenet, 32)
    torch.save(mobilenet.state_dict(), os.path.join(out, "mobilenet_v3_large.pth"))
    for name in ["resnet.pth", "mobilenet_v3_large.pth"]:
        print(name, os.path.getsize(os.path.join(out, name)))


if __name__ == "__main__":
    main()
