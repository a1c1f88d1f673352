#!/usr/bin/python3
"""Times torchvision 0.14's FasterRCNN inference per stage on one image (the peer side of bench/infer).

Builds the model of make_fixtures.py at full width (VGG-16 or ZF, RoIAlign, 1024-d head, 91 classes), with
min_size 600 / max_size 1000 and 300 proposals after NMS (the paper's test settings), or one of torchvision's
published architectures at full size with its own defaults (resnet50_fpn: 800/1333, 1000 proposals;
mobilenet_v3_large_fpn: the same sizes, its anchors), random weights with batch-norm statistics and spread scores as
in make_fpn_fixtures.py; writes its state dict (state_dict.npz, or model.pth for the torchvision architectures) and
the image so that frcnn4j can import and time the very same model, then prints per-stage medians as JSON.

Usage: tools/torchvision/bench_infer.py vgg16|zf|resnet50_fpn|mobilenet_v3_large_fpn IMAGE OUT_DIR [RUNS]
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
import make_fpn_fixtures  # noqa: E402

torch.set_num_threads(2)


def main():
    backbone, image_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    os.makedirs(out, exist_ok=True)
    img_file = os.path.join(out, "image.png")
    Image.open(image_path).convert("RGB").save(img_file)
    if backbone in ("vgg16", "zf"):
        model = make_fixtures.build(backbone, 1.0, "align", 91, 1024, 600, 1000, 11)
        model.rpn._post_nms_top_n["testing"] = 300
        make_fixtures.spread_scores(model, img_file)
        np.savez(os.path.join(out, "state_dict.npz"), **{k: v.numpy() for k, v in model.state_dict().items()})
    else:
        from torchvision.models import detection
        torch.manual_seed(11)
        model = getattr(detection, "fasterrcnn_" + backbone)(weights=None, weights_backbone=None, num_classes=91)
        make_fpn_fixtures.randomise_batch_norm(model, 11)
        model.eval()
        make_fpn_fixtures.spread_scores(model, img_file)
        torch.save(model.state_dict(), os.path.join(out, "model.pth"))

    stamps = {}

    def timed(module, name):
        module.register_forward_pre_hook(lambda m, i: stamps.__setitem__(name + "_start", time.perf_counter()))
        module.register_forward_hook(lambda m, i, o: stamps.__setitem__(name + "_end", time.perf_counter()))

    timed(model.transform, "transform")
    timed(model.backbone, "backbone")
    timed(model.rpn, "rpn")
    timed(model.roi_heads.box_roi_pool, "roi")
    timed(model.roi_heads.box_head, "fc")
    timed(model.roi_heads.box_predictor, "predictor")
    from torchvision.transforms.functional import to_tensor
    img = to_tensor(Image.open(img_file).convert("RGB"))
    samples = []
    with torch.no_grad():
        for r in range(warmup + runs):
            t0 = time.perf_counter()
            model([img])
            t1 = time.perf_counter()
            s = {k: (stamps[k + "_end"] - stamps[k + "_start"]) * 1000 for k in
                 ["transform", "backbone", "rpn", "roi", "fc", "predictor"]}
            s["head"] = s.pop("fc") + s.pop("predictor")
            s["total"] = (t1 - t0) * 1000
            s["post"] = s["total"] - sum(s[k] for k in ["transform", "backbone", "rpn", "roi", "head"])
            if r >= warmup:
                samples.append(s)
    medians = {k + "_ms": statistics.median(x[k] for x in samples) for k in samples[0]}
    medians["threads"] = torch.get_num_threads()
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
