#!/usr/bin/python3
"""torch 1.13's float32 arithmetic where frcnn4j reproduces it to the bit (the peer: Debian's torch 1.13, run with
/usr/bin/python3), for TorchArithmeticTest: exp and sigmoid on vectors (SLEEF's expf), BatchNorm2d in eval mode and
torchvision's FrozenBatchNorm2d, the 1x1 convolution of a 1x1 map that squeeze-and-excitation runs and a 3x3
convolution of a 3x3 map (torch's own slow_conv2d through BLAS). Where a random network scores many boxes within a few units in the last place, those bits
decide which boxes NMS keeps (bench/fullsize).

Writes OUT (an .npz). Usage:
  tools/torchvision/make_arithmetic_fixture.py core/src/test/resources/fixtures/torchvision/arithmetic.npz
"""
import sys

import numpy as np
import torch
from torch import nn
from torchvision.ops import misc as misc_nn_ops

SE_WIDTHS = [72, 240, 480, 672, 960]  # MobileNetV3-Large's squeeze-and-excitation inputs (and one between)
SE_OUT = 16


def main():
    torch.set_num_threads(2)
    torch.manual_seed(11)
    rng = np.random.default_rng(11)
    out = {}
    # exp and sigmoid: a length that is a multiple of 16, so that every value takes the vectorised kernel
    x = np.concatenate([rng.uniform(-20, 20, 3000), rng.normal(0, 2, 1000), rng.uniform(-110, 110, 96)])
    x = x.astype(np.float32)
    out["exp_x"] = x
    out["exp"] = torch.exp(torch.from_numpy(x)).numpy()
    out["sigmoid"] = torch.sigmoid(torch.from_numpy(x)).numpy()
    # batch norm with statistics far from the identity, both of torchvision's modules
    c = 8
    maps = torch.from_numpy(rng.normal(0, 1.5, (1, c, 5, 7)).astype(np.float32))
    params = {k: rng.uniform(lo, hi, c).astype(np.float32) for k, lo, hi in
              [("weight", 0.5, 1.5), ("bias", -0.3, 0.3), ("running_mean", -0.5, 0.5), ("running_var", 0.2, 2.0)]}
    bn = nn.BatchNorm2d(c).eval()
    frozen = misc_nn_ops.FrozenBatchNorm2d(c)
    with torch.no_grad():
        for m in (bn, frozen):
            for k, v in params.items():
                getattr(m, k).copy_(torch.from_numpy(v))
        out["bn_x"] = maps.numpy()
        out["bn_batch_norm_2d"] = bn(maps).numpy()
        out["bn_frozen"] = frozen(maps).numpy()
    for k, v in params.items():
        out["bn_" + k] = v
    # squeeze-and-excitation's products: a pooled vector through a 1x1 convolution with bias
    with torch.no_grad():
        for k in SE_WIDTHS:
            conv = nn.Conv2d(k, SE_OUT, 1)
            v = torch.from_numpy(rng.normal(0, 1, (1, k, 1, 1)).astype(np.float32))
            out[f"se_{k}_x"] = v.numpy()
            out[f"se_{k}_weight"] = conv.weight.numpy()
            out[f"se_{k}_bias"] = conv.bias.numpy()
            out[f"se_{k}_y"] = conv(v).numpy()
    # a 3x3 convolution of a map small enough that torch keeps it from oneDNN (slow_conv2d), one output position:
    # 576 products, two blocks of BLAS's reduction
    with torch.no_grad():
        x = torch.from_numpy(rng.normal(0, 1, (1, 64, 3, 3)).astype(np.float32))
        w = torch.from_numpy(rng.normal(0, 0.1, (8, 64, 3, 3)).astype(np.float32))
        b = torch.from_numpy(rng.normal(0, 0.1, 8).astype(np.float32))
        out["conv_x"], out["conv_weight"], out["conv_bias"] = x.numpy(), w.numpy(), b.numpy()
        out["conv_y"] = torch.nn.functional.conv2d(x, w, b).numpy()
    np.savez_compressed(sys.argv[1], **out)


if __name__ == "__main__":
    main()
