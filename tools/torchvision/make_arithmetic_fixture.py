#!/usr/bin/python3
"""torch 1.13's float32 arithmetic where frcnn4j reproduces it to the bit (the peer: Debian's torch 1.13, run with
/usr/bin/python3), for TorchArithmeticTest: exp and sigmoid on vectors (SLEEF's expf), BatchNorm2d in eval mode and
torchvision's FrozenBatchNorm2d, the 1x1 convolution of a 1x1 map that squeeze-and-excitation runs and a 3x3
convolution of a 3x3 map (torch's own slow_conv2d through BLAS); the box head's arithmetic: a 3x3 convolution of a
5x8 map and a fully connected layer (both by the system's BLAS, whose kernels for this CPU and thread count set the
order: written to OUT's .blas file beside it), torchvision's roi_align, and softmax over classes. Where a random network scores many boxes within a few units in the last place, those bits
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


def hashed(shape, salt, scale):
    """Values a test can regenerate instead of reading: a multiplicative hash of each index to 24 bits, centred, then
    scaled (exactly in double for the scales used: at most 26 significant bits) and rounded once to float32, so the
    fixture holds only the results."""
    i = np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(salt)
    bits = ((i * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)) >> np.uint64(8)
    return torch.from_numpy(((bits.astype(np.float64) / 2**24 - 0.5) * scale).astype(np.float32).reshape(shape))


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
    head_arithmetic(out)
    np.savez_compressed(sys.argv[1], **out)
    with open(sys.argv[1].replace(".npz", ".blas"), "w") as f:
        f.write(openblas_core() + "\n")


def head_arithmetic(out):
    from torchvision.ops import roi_align
    with torch.no_grad():
        # a small map that torch keeps from oneDNN, over several output positions (the 320 model's 5x8 level)
        out["map_y"] = torch.nn.functional.conv2d(hashed((1, 256, 5, 8), 1, 4), hashed((32, 256, 3, 3), 2, 1 / 16),
                                                  hashed((32,), 3, 1), padding=1).numpy()
        # a fully connected layer: K = 1024 is cut into blocks of 320, 320, 192 and 192
        out["linear_y"] = torch.nn.functional.linear(hashed((120, 1024), 4, 2), hashed((64, 1024), 5, 1 / 16),
                                                     hashed((64,), 6, 1)).numpy()
        # roi_align as MultiScaleRoIAlign calls it (sampling 2, not aligned), and adaptive sampling with aligned
        # boxes; regions inside, across the border, outside, and degenerate
        rois = torch.tensor([[0, 3.3, 4.1, 40.7, 30.2], [0, -10, -6, 20, 12], [0, 50, 40, 90, 70], [0, 12, 12, 12.5, 12.2],
                             [0, 0, 0, 68, 52], [0, 60.1, 2.2, 66.9, 51.7], [0, 7.77, 9.99, 8.01, 40.5],
                             [0, -30, -30, -5, -4]], dtype=torch.float32)
        feature = hashed((1, 16, 13, 17), 7, 8)
        out["roi_boxes"] = rois[:, 1:].numpy()
        out["roi_y"] = roi_align(feature, rois, (7, 7), spatial_scale=0.25, sampling_ratio=2, aligned=False).numpy()
        out["roi_adaptive_y"] = roi_align(feature, rois, (7, 7), spatial_scale=0.25, sampling_ratio=-1,
                                          aligned=True).numpy()
        # softmax over 91 classes (COCO), 21 (VOC) and 3 (fewer than the vector's 8 lanes)
        for k in (91, 21, 3):
            out[f"softmax_{k}_y"] = torch.softmax(hashed((40, k), 8 + k, 24), -1).numpy()


def openblas_core():
    """The system BLAS's kernels, threads and build as frcnn4j's PeerBlas.describe() prints them (OpenBLAS: 'Haswell 2
    (OpenBLAS 0.3.21 ...)'): its sums depend on all three. Another library: its name."""
    import ctypes
    lib = ctypes.CDLL("libblas.so.3")
    if not hasattr(lib, "openblas_get_corename"):
        return "libblas.so.3"
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_get_config.restype = ctypes.c_char_p
    config = lib.openblas_get_config().decode().strip()
    return f"{lib.openblas_get_corename().decode()} {lib.openblas_get_num_threads()} ({config})"


if __name__ == "__main__":
    main()
