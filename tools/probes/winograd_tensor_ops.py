"""Would a Winograd F(4x4, 3x3) convolution written with libtorch's tensor operations beat oneDNN's direct kernels?

Issue #15 asks what it would take to run VGG-16's float32 convolutions faster than the direct kernels once they are
near this machine's ceiling. Winograd's minimal filtering (Lavin and Gray, 2016) needs 4x fewer multiplications for
3x3 kernels: 36 batched products of (tiles x C_in) by (C_in x C_out) instead of the direct kernel's 9 x 16 per tile.
This probe builds it from the operations DJL can call (pad, unfold, matmul with the Kronecker products of the transform
matrices, bmm), checks it against a float64 convolution, and times it against torch's own conv2d on VGG-16's layer
shapes at the paper's 600 x 1000 input, 2 threads.

Run with the peer: /usr/bin/python3 tools/probes/winograd_tensor_ops.py
On the Intel Xeon with AVX-512 (2026-12-03, hypervisor steal about 40%) it ran at 0.57x the direct kernel's speed on
conv4 (512 -> 512, 38 x 63) down to 0.12x on conv1 (64 -> 64, 300 x 500): the input and output transforms are passes
over memory that cost more than the multiplications saved, so a faster route would need a native kernel.
On the AMD EPYC of family 26 (2026-12-03, no steal): 1.04x on conv5's shape, 0.73x, 0.33x and 0.22x on the others,
against direct kernels at 290-375 GFLOP/s (torch 1.13's oneDNN 2.6.3; ONEDNN_VERBOSE shows convolution_direct).
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)

# F(4x4, 3x3): output tile 4x4 from an input tile 6x6
B_T = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)
A_T = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                   dtype=torch.float64)
INPUT_TRANSFORM = torch.kron(B_T, B_T).float()   # 36 x 36 on a flattened 6x6 tile
OUTPUT_TRANSFORM = torch.kron(A_T, A_T).float()  # 16 x 36
KERNEL_TRANSFORM = torch.kron(G, G).float()      # 36 x 9


def transformed_kernel(w):
    """(C_out, C_in, 3, 3) -> (36, C_in, C_out), once per layer."""
    c_out, c_in = w.shape[:2]
    u = KERNEL_TRANSFORM @ w.reshape(c_out * c_in, 9).t()
    return u.reshape(36, c_out, c_in).permute(0, 2, 1).contiguous()


def winograd_conv(x, u):
    """3x3, stride 1, padding 1."""
    n, c, h, w = x.shape
    c_out = u.shape[2]
    th, tw = (h + 3) // 4, (w + 3) // 4
    padded = F.pad(x, (1, tw * 4 + 2 - w - 1, 1, th * 4 + 2 - h - 1))
    tiles = padded.unfold(2, 6, 4).unfold(3, 6, 4).reshape(n, c, th * tw, 36)
    v = (tiles @ INPUT_TRANSFORM.t()).permute(3, 0, 2, 1).reshape(36, n * th * tw, c)
    m = torch.bmm(v, u).reshape(36, n * th * tw * c_out).t()
    y = (m @ OUTPUT_TRANSFORM.t()).reshape(n, th, tw, c_out, 4, 4).permute(0, 3, 1, 4, 2, 5)
    return y.reshape(n, c_out, th * 4, tw * 4)[:, :, :h, :w]


def millis(f, runs=5):
    f()
    start = time.perf_counter()
    for _ in range(runs):
        f()
    return (time.perf_counter() - start) / runs * 1000


for c_in, c_out, h, w in [(512, 512, 38, 63), (256, 256, 75, 125), (128, 128, 150, 250), (64, 64, 300, 500)]:
    x = torch.randn(1, c_in, h, w)
    weight = torch.randn(c_out, c_in, 3, 3) * 0.02
    u = transformed_kernel(weight)
    reference = F.conv2d(x.double(), weight.double(), padding=1)
    error = (winograd_conv(x, u).double() - reference).abs().max().item() / reference.abs().max().item()
    direct = millis(lambda: F.conv2d(x, weight, padding=1))
    wino = millis(lambda: winograd_conv(x, u))
    gflop = 2 * c_in * c_out * 9 * h * w / 1e9
    print(f"{c_in} -> {c_out} on {h}x{w}: direct {direct:.1f} ms ({gflop / direct * 1e3:.0f} GFLOP/s), "
          f"Winograd through tensor ops {wino:.1f} ms ({direct / wino:.2f}x the direct speed), "
          f"largest error {error:.1e} of the output's range")
