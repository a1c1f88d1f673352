#!/usr/bin/python3
"""The permutations torch's CPU sort(descending=True) and topk(k) return on arrays full of equal values (the peer:
Debian's torch 1.13, run with /usr/bin/python3), for TorchSortTest: frcnn4j reproduces them so that, where many
scores are equal, torchvision's RPN and NMS keep the same boxes.

Writes OUT (an .npz): values_<i> (float32), sort_<i> and topk_<i> (int32, the first k of topk), k (int32 per case).
Usage: tools/torchvision/make_sort_fixture.py core/src/test/resources/fixtures/torchvision/sort.npz
"""
import sys

import numpy as np
import torch


def main():
    rng = np.random.default_rng(5)
    arrays = {}
    ks = []
    sizes = [1, 2, 5, 16, 17, 24, 33, 100, 257, 1000, 1000, 2000, 4000, 4507, 9000]
    for i, n in enumerate(sizes):
        levels = [1, 2, 3, 7, 50, 1000][i % 6]
        values = rng.integers(0, levels, n).astype(np.float32) / 7
        if i % 4 == 3:
            values[rng.integers(0, n, max(1, n // 10))] = np.nan  # NaN ranks first in both
        k = min(n, [1, 3, n // 64 or 1, n // 2 or 1, n, 1000][i % 6])
        x = torch.from_numpy(values)
        arrays[f"values_{i}"] = values
        arrays[f"sort_{i}"] = torch.sort(x, descending=True)[1].numpy().astype(np.int32)
        arrays[f"topk_{i}"] = x.view(1, -1).topk(k, dim=1)[1][0].numpy().astype(np.int32)
        ks.append(k)
    arrays["k"] = np.array(ks, dtype=np.int32)
    np.savez_compressed(sys.argv[1], **arrays)


if __name__ == "__main__":
    main()
