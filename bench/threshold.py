"""Benchmark: fused top-percent threshold + region share vs torch.topk and numpy.percentile versions.

Run: .venv/bin/python bench/threshold.py [--maps 256] [--size 224] [--percent 0.5] [--repeats 9]
Each variant computes, for every map, the top-p threshold and the share of salient pixels in a box.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from saliency_core import kernels
from saliency_core.kernels.reference import region_mask


def fused(maps: torch.Tensor, boxes: torch.Tensor, percent: float) -> tuple[torch.Tensor, torch.Tensor]:
    result = kernels.top_percent(maps, percent, boxes)
    assert result.share is not None
    return result.threshold, result.share


def with_topk(maps: torch.Tensor, boxes: torch.Tensor, percent: float) -> tuple[torch.Tensor, torch.Tensor]:
    batch, height, width = maps.shape
    k = kernels.top_k(percent, height * width)
    threshold = maps.reshape(batch, -1).topk(k, dim=1).values[:, -1]
    salient = maps >= threshold[:, None, None]
    inside = (salient & region_mask(boxes, (height, width))).sum(dim=(1, 2))
    return threshold, inside / salient.sum(dim=(1, 2))


def with_percentile(maps: torch.Tensor, boxes: torch.Tensor, percent: float) -> tuple[torch.Tensor, torch.Tensor]:
    values = maps.numpy()
    batch, height, width = values.shape
    threshold = np.percentile(values.reshape(batch, -1), 100.0 - percent, axis=1)
    salient = values >= threshold[:, None, None]
    inside = np.zeros_like(salient)
    for b, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        inside[b, y0:y1, x0:x1] = salient[b, y0:y1, x0:x1]
    share = inside.sum(axis=(1, 2)) / salient.sum(axis=(1, 2))
    return torch.from_numpy(threshold.astype(np.float32)), torch.from_numpy(share.astype(np.float32))


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (thread pools, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--percent", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(0)
    maps = torch.rand(args.maps, args.size, args.size, generator=gen)
    corner = torch.randint(0, args.size // 2, (args.maps, 2), generator=gen)
    boxes = torch.cat([corner, corner + args.size // 3], dim=1)

    ours_thr, ours_share = fused(maps, boxes, args.percent)
    topk_thr, topk_share = with_topk(maps, boxes, args.percent)
    assert torch.equal(ours_thr, topk_thr) and torch.allclose(ours_share, topk_share), "variants disagree"

    print(f"backend={kernels.backend()} torch_threads={torch.get_num_threads()} "
          f"maps={args.maps}x{args.size}x{args.size} percent={args.percent} repeats={args.repeats} (median)")
    variants = {
        "fused top_percent": lambda: fused(maps, boxes, args.percent),
        "torch.topk": lambda: with_topk(maps, boxes, args.percent),
        "numpy.percentile": lambda: with_percentile(maps, boxes, args.percent),
    }
    times = {name: median_ms(fn, args.repeats) for name, fn in variants.items()}
    base = times["fused top_percent"]
    print(f"{'variant':<20}{'ms':>10}{'× fused':>10}")
    for name, ms in times.items():
        print(f"{name:<20}{ms:>10.2f}{ms / base:>10.2f}")


if __name__ == "__main__":
    main()
