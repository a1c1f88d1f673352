#!/usr/bin/python3
"""Fixture for the input resize (ImageTransformTest): what torchvision 0.14's detection transform does to an image,
interpolate(mode="bilinear", align_corners=False) with the scale recomputed from the sizes, on torch 1.13's CPU
kernel (Debian's python3-torch; run with /usr/bin/python3).

The input is a (1, 2, 3, 700) array of normalised pixel values, resized to sizes that enlarge, shrink and keep each
axis, up to 1100 wide, where float32 source coordinates (libtorch 2.x's kernel) drift from torch 1.13's by up to 6e-5
of a pixel. Two channels, as images have several: an array of one channel is also channels-last, and torch then takes
its channels-last kernel, which sums the four products in another order. Writes OUT/resize.npz: "input" and
"size_HxW" for each size.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SIZES = [(2, 1100), (3, 333), (5, 700)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "core/src/test/resources/fixtures/torchvision/resize"
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(12)
    x = torch.randn(1, 2, 3, 700, generator=g) * 1.2
    arrays = {"input": x.numpy()}
    for h, w in SIZES:
        arrays[f"size_{h}x{w}"] = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).numpy()
    np.savez_compressed(os.path.join(out, "resize.npz"), **arrays)
    print({k: v.shape for k, v in arrays.items()}, os.path.getsize(os.path.join(out, "resize.npz")), "bytes")


if __name__ == "__main__":
    main()
