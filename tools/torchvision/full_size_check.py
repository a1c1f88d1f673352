#!/usr/bin/python3
"""Full-size check of the torchvision family import (issue #12): the four published architectures at their real
depth and width, random weights (batch-norm statistics and output layers as in make_fpn_fixtures.py, another seed),
saved by torchvision as .pth, run by the peer on a real photo, then imported and run by frcnn4j's command line.

  make:    tools/torchvision/full_size_check.py make OUT_DIR PHOTO
           writes OUT_DIR/<arch>/model.pth and expected.json (torchvision's 1000 proposals and its detections at
           box_score_thresh 0, original pixels, float32 on 2 threads), plus the same from torchvision itself run
           differently but computing the same function: in float64 (torchvision_float64.json) and on one thread
           (torchvision_1thread.json)
  compare: tools/torchvision/full_size_check.py compare OUT_DIR
           reads OUT_DIR/<arch>/propose.json and detect.json (frcnn propose --top 1000 --json, frcnn detect
           --score-thresh 0 --json) and prints, per architecture, the share of torchvision's proposals and
           detections that frcnn4j found (same box within 0.05 px, score within 1e-3, same label), and beside it the
           shares that torchvision's own float64 and one-thread runs find

Why torchvision against itself: a network with random weights can have plateaus, hundreds of anchors whose
objectness logits agree to a few float32 units in the last place, and then rounding alone decides which of them NMS
keeps. There the share measures float32 noise, not the import: torchvision in float64 finds no more of its float32
proposals than frcnn4j does. So an architecture passes when frcnn4j's share is at least 97% or, where torchvision's
own runs stay under that, at least their lowest share minus 0.03.

STATISTICS=photo in the environment measures the batch-norm statistics on the photo (affine parameters stay random),
as a trained network's are, instead of drawing them: no plateaus, but deep layers then pass rounding differences on
at full size, which the float64 run shows as well.

bench/fullsize runs both with the commands between them. Takes about a minute per architecture on two cores.
ARCHS="a b" in the environment limits the run to some of them; SEED=N draws other weights (default 700).
"""
import copy
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import detection
from torchvision.transforms import functional

sys.path.insert(0, os.path.dirname(__file__))
from make_fpn_fixtures import randomise_batch_norm, run, spread_scores  # noqa: E402

torch.set_num_threads(2)
SEED = int(os.environ.get("SEED", "700"))  # the weights' seed (plus the architecture's name): another seed, other weights
ARCHS = os.environ.get("ARCHS", "fasterrcnn_resnet50_fpn fasterrcnn_resnet50_fpn_v2 fasterrcnn_mobilenet_v3_large_fpn "
                       "fasterrcnn_mobilenet_v3_large_320_fpn").split()
BOX_TOLERANCE = 0.05
SCORE_TOLERANCE = 1e-3
REQUIRED_SHARE = 0.97
NOISE_MARGIN = 0.03
# torchvision itself, computing the same function another way: (file, parameter type, threads)
REFERENCE_RUNS = [("torchvision_float64.json", torch.float64, 2), ("torchvision_1thread.json", torch.float32, 1)]


def build(arch, seed, photo):
    torch.manual_seed(seed)
    model = getattr(detection, arch)(weights=None, weights_backbone=None, num_classes=91, box_score_thresh=0.0)
    randomise_batch_norm(model, seed)
    if os.environ.get("STATISTICS") == "photo":
        measure_batch_norm(model, photo)
    return model.eval()


def measure_batch_norm(model, photo):
    """Running statistics of every BatchNorm2d from one pass over the photo (cumulative average of one batch)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    image = functional.to_tensor(Image.open(photo).convert("RGB"))
    with torch.no_grad():
        images, _ = model.transform([image])
        model.rpn.head(list(model.backbone(images.tensors).values()))
    for m in norms:
        m.eval()


def make(out, photo):
    for arch in ARCHS:
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        model = build(arch, SEED + sum(map(ord, arch)), photo)
        spread_scores(model, photo)
        torch.save(model.state_dict(), os.path.join(d, "model.pth"))
        expected = outputs(model, photo)
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(expected, f)
        for name, dtype, threads in REFERENCE_RUNS:
            torch.set_num_threads(threads)
            with open(os.path.join(d, name), "w") as f:
                json.dump(outputs(copy.deepcopy(model).to(dtype), photo, dtype), f)
        torch.set_num_threads(2)
        print(arch, "proposals", len(expected["proposals"]), "detections", len(expected["detections"]), flush=True)


def outputs(model, photo, dtype=torch.float32):
    """torchvision's proposals and detections on the photo, in original pixels, as compare reads them."""
    result = run(model, photo, dtype)  # not `out`: that is the folder every architecture's files go to
    # the RPN's boxes are in the resized image; frcnn propose reports original pixels
    (h, w), (rh, rw) = result["original_size"], result["resized_size"]
    boxes = result["proposals"] * np.array([w / rw, h / rh] * 2, dtype=result["proposals"].dtype)
    return {
        "proposals": [list(map(float, b)) + [float(s)] for b, s in zip(boxes, result["proposal_scores"])],
        "detections": [{"bbox": list(map(float, b)), "score": float(s), "label": int(l)}
                       for b, s, l in zip(result["det_boxes"], result["det_scores"], result["det_labels"])],
    }


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


def proposal(p):
    return p[:4], p[4], 0


def detection_theirs(o):
    return o["bbox"], o["score"], o["label"]


def detection_ours(o):
    x, y, w, h = o["bbox"]
    return [x, y, x + w, y + h], o["score"], o["category_id"]


def shares(expected, proposals, detections):
    """(proposal share, its worst box difference, detection share) of expected found in the given outputs."""
    p_share, p_worst = found(expected["proposals"], proposals, proposal)
    d_share, _ = found([detection_theirs(o) for o in expected["detections"]], detections, lambda t: t)
    return p_share, p_worst, d_share


def compare(out):
    failed = False
    for arch in ARCHS:
        d = os.path.join(out, arch)

        def load(name):
            with open(os.path.join(d, name)) as f:
                return json.load(f)

        expected = load("expected.json")
        p_share, p_worst, d_share = shares(expected, load("propose.json")[0]["proposals"],
                                           [detection_ours(o) for o in load("detect.json")])
        floor = [1.0, 1.0]
        itself = []
        for name, dtype, threads in REFERENCE_RUNS:
            ref = load(name)
            r_p, _, r_d = shares(expected, ref["proposals"], [detection_theirs(o) for o in ref["detections"]])
            floor = [min(floor[0], r_p), min(floor[1], r_d)]
            how = "in float64" if dtype == torch.float64 else f"on {threads} thread"
            itself.append(f"{how} {r_p:.3f} / {r_d:.3f}")
        need = [min(REQUIRED_SHARE, f - NOISE_MARGIN) for f in floor]
        ok = p_share >= need[0] and d_share >= need[1]
        print(f"{arch}: frcnn4j finds {p_share:.3f} of torchvision's {len(expected['proposals'])} proposals (worst "
              f"{p_worst:.4f} px) and {d_share:.3f} of its {len(expected['detections'])} detections; torchvision "
              f"itself {', '.join(itself)} (proposals / detections); needed {need[0]:.3f} / {need[1]:.3f}: "
              f"{'pass' if ok else 'FAIL'}")
        failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "compare":
        compare(sys.argv[2])
    else:
        sys.exit(__doc__)
