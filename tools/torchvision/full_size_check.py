#!/usr/bin/python3
"""Full-size check of the torchvision family import (issue #12): the four published architectures at their real
depth and width, random weights (batch-norm statistics and output layers as in make_fpn_fixtures.py, another seed),
saved by torchvision as .pth, run by the peer on a real photo, then imported and run by frcnn4j's command line.

  make:    tools/torchvision/full_size_check.py make OUT_DIR PHOTO
           writes OUT_DIR/<arch>/model.pth and expected.json (torchvision's 1000 proposals and its detections at
           box_score_thresh 0, original pixels)
  compare: tools/torchvision/full_size_check.py compare OUT_DIR
           reads OUT_DIR/<arch>/propose.json and detect.json (frcnn propose --top 1000 --json, frcnn detect
           --score-thresh 0 --json) and prints, per architecture, the share of torchvision's proposals and
           detections that frcnn4j found (same box within 0.05 px, score within 1e-3, same label)

bench/fullsize runs both with the commands between them. Takes about a minute per architecture on two cores.
ARCHS="a b" in the environment limits the run to some of them.
"""
import json
import os
import sys

import numpy as np
import torch
from torchvision.models import detection

sys.path.insert(0, os.path.dirname(__file__))
from make_fpn_fixtures import randomise_batch_norm, run, spread_scores  # noqa: E402

torch.set_num_threads(2)
ARCHS = os.environ.get("ARCHS", "fasterrcnn_resnet50_fpn fasterrcnn_resnet50_fpn_v2 fasterrcnn_mobilenet_v3_large_fpn "
                       "fasterrcnn_mobilenet_v3_large_320_fpn").split()
BOX_TOLERANCE = 0.05
SCORE_TOLERANCE = 1e-3


def build(arch, seed):
    torch.manual_seed(seed)
    model = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=91, box_score_thresh=0.0)
    randomise_batch_norm(model, seed)
    return model.eval()


def make(out, photo):
    for arch in ARCHS:
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        model = build(arch, 700 + sum(map(ord, arch)))
        spread_scores(model, photo)
        torch.save(model.state_dict(), os.path.join(d, "model.pth"))
        result = run(model, photo)  # not `out`: that is the folder every architecture's files go to
        # the RPN's boxes are in the resized image; frcnn propose reports original pixels
        (h, w), (rh, rw) = result["original_size"], result["resized_size"]
        boxes = result["proposals"] * np.array([w / rw, h / rh] * 2, dtype=np.float32)
        expected = {
            "proposals": [list(map(float, b)) + [float(s)] for b, s in zip(boxes, result["proposal_scores"])],
            "detections": [{"bbox": list(map(float, b)), "score": float(s), "label": int(l)}
                           for b, s, l in zip(result["det_boxes"], result["det_scores"], result["det_labels"])],
        }
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(expected, f)
        print(arch, "proposals", len(expected["proposals"]), "detections", len(expected["detections"]), flush=True)


def found(expected, ours, key):
    """Share of expected rows with a row of ours within the tolerances (boxes as x1, y1, x2, y2)."""
    if not expected:
        return 1.0, 0
    mine = np.array([key(o)[0] for o in ours]) if ours else np.zeros((0, 4))
    my_scores = np.array([key(o)[1] for o in ours]) if ours else np.zeros(0)
    my_labels = np.array([key(o)[2] for o in ours]) if ours else np.zeros(0)
    hits = 0
    worst = 0.0
    for e in expected:
        box, score, label = key(e)
        if len(mine) == 0:
            continue
        diff = np.abs(mine - np.array(box)).max(axis=1)
        ok = (diff <= BOX_TOLERANCE) & (np.abs(my_scores - score) <= SCORE_TOLERANCE) & (my_labels == label)
        if ok.any():
            hits += 1
            worst = max(worst, float(diff[ok].min()))
    return hits / len(expected), worst


def compare(out):
    failed = False
    for arch in ARCHS:
        d = os.path.join(out, arch)
        with open(os.path.join(d, "expected.json")) as f:
            expected = json.load(f)
        with open(os.path.join(d, "propose.json")) as f:
            proposals = json.load(f)[0]["proposals"]
        with open(os.path.join(d, "detect.json")) as f:
            detections = json.load(f)

        def proposal(p):
            return p[:4], p[4], 0

        def detection_ours(o):
            x, y, w, h = o["bbox"]
            return [x, y, x + w, y + h], o["score"], o["category_id"]

        def detection_theirs(o):
            return o["bbox"], o["score"], o["label"]

        p_share, p_worst = found(expected["proposals"], proposals, proposal)
        theirs = [detection_theirs(o) for o in expected["detections"]]
        d_share, d_worst = found(theirs, [detection_ours(o) for o in detections], lambda t: t)
        print(f"{arch}: proposals {p_share:.4f} of {len(expected['proposals'])} (ours {len(proposals)}, worst "
              f"{p_worst:.4f} px), detections {d_share:.4f} of {len(theirs)} (ours {len(detections)}, worst "
              f"{d_worst:.4f} px)")
        failed |= p_share < 0.97 or d_share < 0.97
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "compare":
        compare(sys.argv[2])
    else:
        sys.exit(__doc__)
