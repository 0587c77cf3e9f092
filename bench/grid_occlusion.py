"""The dashboard's automatic occlusion: every cell of an n×n grid hidden in turn, one 128² demo image.

Run: ``.venv/bin/python bench/grid_occlusion.py`` (1 torch thread, as the dashboard serves each
session). Prints, per grid size, the time of ``saliency_core.cell_occlusion`` through the
incremental engine and through batched full inference, and their ratio, all measured in this run.
Goal (issue #6): 18×18 for one demo image under 0.5 s per model.
"""

from __future__ import annotations

import argparse
import time

import torch

from saliency_core import cell_occlusion, zoo


def best_of(repeats: int, fn: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = zoo.load("normal").eval()
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    print(f"cell occlusion of one 128² image, demo CNN, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'grid':>6} {'engine (s)':>11} {'full (s)':>9} {'full/engine':>12}")
    for n in (6, 12, 16, 18):
        cell_occlusion(model, image, n)  # warm-up (tracing, allocator)
        engine = best_of(args.repeats, lambda n=n: cell_occlusion(model, image, n))
        full = best_of(args.repeats, lambda n=n: cell_occlusion(model, image, n, exact_engine=False))
        print(f"{n:>3}×{n:<2} {engine:11.3f} {full:9.3f} {full / engine:11.2f}×")


if __name__ == "__main__":
    main()
