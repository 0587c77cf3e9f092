"""The dashboard's computations on the demo models' architectures, timed in one run.

Run: ``.venv/bin/python bench/zoo_latency.py`` (``--threads N``, default 2 as the app runs).
Rows per architecture, one 128² image unless said: gradient² (what Gradients and Quadrants show),
the 18×18 automatic occlusion grid (Occlusion page; beside it the same grid by batched full
inference, which the incremental engine replaces), SmoothGrad n = 50, and a full Quadrants page
computation (predictions + gradient² + top-0.5 % share of 200 images, as ``views/quadrants``).
Ratios are against the from-scratch demo CNN, measured in the same run (the machine is shared).
The dashboard serves the zoo with batch norm folded into the convolutions (``zoo.fold``): that row.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from saliency_core import cell_occlusion, explain
from saliency_core.metrics import top_percent_share
from saliency_core.zoo import DemoCNN
from saliency_core.zoo.early_cut import EarlyCut
from saliency_core.zoo.efficientnet import pretrained_model
from saliency_core.zoo.fold import fold_batchnorm

QUADRANT_IMAGES = 200  # 4 quadrants × 50, as the Quadrants page
BOX = (4, 113, 51, 124)  # the watermark's box in the 128 frame


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def quadrant_page(model: nn.Module, images: torch.Tensor) -> None:
    with torch.inference_mode():
        model(images)
    maps = torch.cat([explain(model, images[i : i + 50], "gradient_squared").maps for i in range(0, len(images), 50)])
    top_percent_share(maps, torch.tensor([BOX] * len(images)), percent=0.5)


def rows(model: nn.Module, repeats: int) -> dict[str, float]:
    image = torch.rand(1, 3, 128, 128)
    many = torch.rand(QUADRANT_IMAGES, 3, 128, 128)
    explain(model, image, "gradient_squared")  # warm-up (tracing, thread pools)
    return {
        "gradient² (1 image)": best_of(lambda: explain(model, image, "gradient_squared"), repeats),
        "18×18 occlusion grid (1 image)": best_of(lambda: cell_occlusion(model, image, 18), repeats),
        "  same, full inference": best_of(lambda: cell_occlusion(model, image, 18, exact_engine=False), repeats),
        "SmoothGrad n=50 (1 image)": best_of(lambda: explain(model, image, "smoothgrad", samples=50), repeats),
        f"Quadrants page ({QUADRANT_IMAGES} images)": best_of(lambda: quadrant_page(model, many), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"demo CNN (from scratch)": DemoCNN().eval(), "EfficientNet-Lite0 (zoo backbone)": pretrained_model().eval(),
              "the same, batch norm folded (served)": fold_batchnorm(pretrained_model().eval()),
              "early cut, max pool (watermark series)": EarlyCut().eval()}
    results = {name: rows(model, args.repeats) for name, model in models.items()}
    base = results["demo CNN (from scratch)"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} (page: 1 run)")
    print(f"{'computation':34s}" + "".join(f"{name:>40s}" for name in results))
    for row in base:
        cells = "".join(f"{results[name][row]:>30.3f} s ({results[name][row] / base[row]:4.1f}×)" for name in results)
        print(f"{row:34s}{cells}")


if __name__ == "__main__":
    main()
