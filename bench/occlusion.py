"""Occlusion speed on this CPU: Captum vs the naive floor vs incremental (exact) vs drill-down (fast).

Run: ``.venv/bin/python bench/occlusion.py`` (``--quick`` skips the slowest rows; ``--sweep`` prints
only the accuracy rows for larger refine fractions). Prints one table;
all ratios are measured within this one run (the machine is shared, so absolute times are noisy).
Rows marked ``~`` are extrapolated linearly from a timed sample of windows: a forward pass costs
the same for every occluded copy, so the full sweep is (sample time) × (windows / sample).
The FLOP bound is the share of convolution FLOPs that one window changes (each layer's changed
region, exact, averaged over windows): incremental inference cannot beat naive × bound.
Accuracy of ``fast`` (and of the projective-field threshold τ) against ``exact`` is measured per
image, one image per call as users and the speed rows run it, on the demo test set at 128² with
the zoo models and on photos resized to 224² (SALIENCY_DATA, default /work/shared/data/cats-vs-dogs).
(Until 2026-11-23 it was measured on batches of 8, where the drill-down refined the union of every
image's windows for all of them: that overstated its accuracy.)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from captum.attr import Occlusion
from scipy.stats import spearmanr
from torch import Tensor, nn

from saliency_core import kernels
from saliency_core.methods.occlusion.adaptive import DEFAULT_REFINE_FRACTION, adaptive_occlusion
from saliency_core.methods.occlusion.incremental import deltas_from_plan, incremental_deltas
from saliency_core.methods.occlusion.plan import build_plan
from saliency_core.zoo.architecture import DemoCNN

NAIVE_BATCH = 32


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.down(x))


class ResNet18(nn.Module):
    """torchvision's ResNet-18 layout in plain torch (random weights)."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def demo_model() -> nn.Module:
    model = DemoCNN()
    weights = Path(__file__).resolve().parents[1] / "saliency_core/zoo/weights/normal.safetensors"
    if weights.is_file():
        from safetensors.torch import load_file
        model.load_state_dict(load_file(str(weights)))
    return model.eval()


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Best of ``repeats`` runs: on a shared machine, noise only ever adds time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            fn()
        best = min(best, time.perf_counter() - start)
    return best


def flop_bound(model: nn.Module, image: Tensor, window: int, stride: int) -> tuple[float, float]:
    """(changed-region FLOP share, computed-patch FLOP share) over the convolutions, per window.

    "Computed" follows the engine: one patch size per layer for each block of windows it batches
    together (``Plan.groups`` when there are enough windows, else one block)."""
    from saliency_core.methods.occlusion import incremental as engine

    plan = build_plan(model, image, (window, window), (stride, stride))
    assert plan is not None
    windows = plan.grid[0] * plan.grid[1]
    blocks = plan.groups() if windows >= engine.GROUPING_MIN_WINDOWS else [(None, None, plan)]
    total = changed = computed = 0.0
    for index, step in enumerate(plan.steps):
        module = plan.modules.get(str(step.node.target)) if step.node.op == "call_module" else None
        if not isinstance(module, nn.Conv2d) or step.axes is None:
            continue
        out = plan.cache[step.node]
        area = out.shape[2] * out.shape[3]
        flops = module.weight.numel() * area
        ay, ax = step.axes
        share = float((ay.hi - ay.lo).mean() * (ax.hi - ax.lo).mean() / area)
        total += flops
        changed += flops * share
        for _, _, block in blocks:
            by, bx = block.steps[index].axes
            computed += flops * by.size * bx.size / area * (by.lo.size * bx.lo.size) / windows
    return changed / total, computed / total


def naive_floor(model: nn.Module, image: Tensor, window: int, stride: int, sample: int | None,
                repeats: int) -> tuple[float, bool]:
    """Seconds for one forward per occluded copy (copies pre-built); extrapolated when sampled."""
    ny, nx = kernels.window_grid(image.shape[2:], window, stride)
    count = ny * nx if sample is None else min(sample, ny * nx)
    copies = kernels.occlusion_batch(image, window, stride, 0.0, 0, count)
    seconds = timed(lambda: [model(copies[i : i + NAIVE_BATCH]) for i in range(0, count, NAIVE_BATCH)], repeats)
    return seconds * (ny * nx) / count, count < ny * nx


def captum(model: nn.Module, image: Tensor, window: int, stride: int) -> float:
    occlusion = Occlusion(model)
    return timed(lambda: occlusion.attribute(image, sliding_window_shapes=(3, window, window),
                                             strides=(3, stride, stride), baselines=0.0, target=0,
                                             perturbations_per_eval=NAIVE_BATCH))


def run_config(name: str, model: nn.Module, size: int, window: int, stride: int, run_captum: bool,
               sample: int | None, run_exact: bool = True, repeats: int = 2, run_fast: bool = True,
               thresholds: tuple[float, ...] = (), fractions: tuple[float, ...] = ()) -> None:
    image = torch.rand(1, 3, size, size)
    target = torch.tensor([0])
    ny, nx = kernels.window_grid((size, size), window, stride)
    bound, computed = flop_bound(model, image, window, stride)
    naive, extrapolated = naive_floor(model, image, window, stride, sample, repeats + 1)
    reference = captum(model, image, window, stride) if run_captum else None
    exact = timed(lambda: incremental_deltas(model, image, (window, window), (stride, stride), 0.0, target),
                  repeats) if run_exact else None
    fast = timed(lambda: adaptive_occlusion(model, image, (window, window), (stride, stride), 0.0, target),
                 repeats) if run_fast else None
    def thresholded(tau: float) -> Tensor:
        plan = build_plan(model, image, (window, window), (stride, stride), threshold=tau)
        assert plan is not None
        return deltas_from_plan(plan, image, 0.0, target)

    capped = [(f"ours τ={tau}", timed(lambda: thresholded(tau), repeats), False) for tau in thresholds]
    capped += [(f"ours fast rf={fraction}", timed(lambda: adaptive_occlusion(
        model, image, (window, window), (stride, stride), 0.0, target, refine_fraction=fraction), repeats), False)
        for fraction in fractions]
    base = reference if reference is not None else naive
    base_name = "Captum" if reference is not None else "naive"
    print(f"\n{name} {size}² window {window} stride {stride} ({ny}×{nx} = {ny * nx} windows); "
          f"FLOP bound {bound:.3f} of naive (patches computed: {computed:.3f})")
    rows = [("Captum Occlusion", reference, False), ("naive floor", naive, extrapolated),
            ("ours exact", exact, False), ("ours fast", fast, False), *capped]
    for label, seconds, approx in rows:
        if seconds is None:
            print(f"  {label:18s}  (not run)")
            continue
        print(f"  {label:18s} {'~' if approx else ' '}{seconds:8.2f} s   {base / seconds:6.2f}× vs {base_name}"
              f"   {naive / seconds:6.2f}× vs naive")
    if exact is not None:
        print(f"  exact / FLOP-bound time (naive × bound): {exact / (naive * bound):.2f}")


def load_photos(count: int, size: int) -> Tensor | None:
    root = Path(os.environ.get("SALIENCY_DATA", "/work/shared/data/cats-vs-dogs"))
    if not root.is_dir():
        return None
    from PIL import Image
    files = sorted((root / "cat").glob("*.jpg"))[: count // 2] + sorted((root / "dog").glob("*.jpg"))[: count - count // 2]
    arrays = [np.asarray(Image.open(f).convert("RGB").resize((size, size)), dtype=np.float32) / 255 for f in files]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def approximate_maps(model: nn.Module, images: Tensor, target: Tensor, how: str, window: int = 16,
                     stride: int = 8) -> Tensor:
    """Maps of one image per call (as users and the speed rows run it): ``how`` is "exact", "fast"
    (the default drill-down), "fast=<refine fraction>" or "tau=<τ>" (every window, projective-field
    threshold τ)."""
    size = (images.shape[2], images.shape[3])
    maps = []
    for i in range(images.shape[0]):
        image, t = images[i : i + 1], target[i : i + 1]
        if how.startswith("fast"):
            fraction = float(how.split("=")[1]) if "=" in how else DEFAULT_REFINE_FRACTION
            maps.append(adaptive_occlusion(model, image, (window, window), (stride, stride), 0.0, t,
                                           refine_fraction=fraction))
            continue
        threshold = None if how == "exact" else float(how.split("=")[1])
        plan = build_plan(model, image, (window, window), (stride, stride), threshold=threshold)
        assert plan is not None
        maps.append(kernels.occlusion_accumulate(deltas_from_plan(plan, image, 0.0, t), size, window, stride))
    return torch.cat(maps)


def agreement(exact: Tensor, approx: Tensor, boxes: Tensor) -> str:
    """Per-image Spearman (all pixels) and |top-0.5 % share in the box, approx − exact|."""
    rho = [spearmanr(e.flatten().numpy(), f.flatten().numpy()).statistic for e, f in zip(exact, approx)]
    share_exact = kernels.top_percent(exact, 0.5, boxes).share
    share_approx = kernels.top_percent(approx, 0.5, boxes).share
    assert share_exact is not None and share_approx is not None
    diff = (share_approx - share_exact).abs()
    return (f"Spearman min {min(rho):.3f} mean {np.mean(rho):.3f}   share diff max {float(diff.max()):.3f} "
            f"mean {float(diff.mean()):.4f}")


def accuracy(count: int, photos: int, modes: tuple[str, ...], photo_modes: tuple[str, ...] | None = None) -> None:
    """Fast (and thresholded) vs exact, one image per call: the demo test set at 128² (a seeded
    random mix of clean and watermarked images, watermark boxes) with the zoo models, and real
    photos resized to 224² (centre box)."""
    root = Path(os.environ.get("SALIENCY_DATA", "/work/shared/data/cats-vs-dogs"))
    if not root.is_dir():
        print("\nfast-mode accuracy: SALIENCY_DATA not found, skipped")
        return
    from saliency_core import zoo
    from saliency_core.data.demo import demo_test_set

    test = demo_test_set(root)
    pick = torch.randperm(len(test.labels), generator=torch.Generator().manual_seed(0))[:count]
    sets = [(f"demo test set 128² ({count} images, {int(test.marked[pick].sum())} watermarked; watermark box)",
             test.images[pick].contiguous(), test.boxes[pick])]
    resized = load_photos(photos, 224)
    if resized is not None:
        sets.append((f"photos resized to 224² ({photos}; centre box)", resized,
                     torch.tensor([[56, 56, 168, 168]] * photos)))
    print("\naccuracy vs exact, per image (batch of 1 per call), window 16 stride 8:")
    for (title, images, boxes), how_list in zip(sets, (modes, photo_modes or modes)):
        print(f"  {title}")
        for name in ("normal", "watermark-100", "colours"):
            model = zoo.load(name).eval()
            with torch.no_grad():
                target = model(images).argmax(1)
                exact = approximate_maps(model, images, target, "exact")
                for how in how_list:
                    approx = approximate_maps(model, images, target, how)
                    print(f"    {name:14s} {how:9s} {agreement(exact, approx, boxes)}", flush=True)


def efficientnet_agreement(photos: int) -> None:
    """Fast vs exact on EfficientNet-Lite0 (ImageNet weights, the zoo's backbone), per image:
    Spearman over pixels and SSIM (Krypton's yardstick: SSIM >= 0.9), at 128² and 224²."""
    from skimage.metrics import structural_similarity

    from saliency_core.zoo.efficientnet import imagenet_model

    model = imagenet_model()
    for size in (128, 224):
        images = load_photos(photos, size)
        if images is None:
            print("\nEfficientNet-Lite0 agreement: SALIENCY_DATA not found, skipped")
            return
        with torch.no_grad():
            target = model(images).argmax(1)
            exact = approximate_maps(model, images, target, "exact")
            fast = approximate_maps(model, images, target, "fast")
        rho = [spearmanr(e.flatten().numpy(), f.flatten().numpy()).statistic for e, f in zip(exact, fast)]
        ssim = [structural_similarity(e.numpy(), f.numpy(), data_range=float(e.max() - e.min()) or 1.0)
                for e, f in zip(exact, fast)]
        print(f"  EfficientNet-Lite0 {size}², {photos} photos, fast vs exact per image: Spearman min {min(rho):.3f} "
              f"mean {np.mean(rho):.3f}; SSIM min {min(ssim):.3f} mean {np.mean(ssim):.3f} "
              f"({sum(v >= 0.9 for v in ssim)}/{len(ssim)} >= 0.9)", flush=True)


def efficientnet_rows(photos: int, quick: bool) -> None:
    """The zoo's backbone: depthwise convolutions, ReLU6, 'same' padding; 1000-class head."""
    from saliency_core.zoo.efficientnet import imagenet_model

    model = imagenet_model()
    run_config("EfficientNet-Lite0", model, 128, 16, 8, run_captum=True, sample=64, repeats=1)
    if not quick:
        run_config("EfficientNet-Lite0", model, 224, 16, 8, run_captum=True, sample=64, repeats=1)
    efficientnet_agreement(photos)


def gradient_rows() -> None:
    try:
        from saliency_core.methods import explain
    except ImportError:
        print("\ngradient rows: saliency_core.methods.explain missing, skipped")
        return
    model = demo_model()
    images = torch.rand(64, 3, 128, 128)

    def bare(batch: Tensor) -> None:
        with torch.enable_grad():
            x = batch.clone().requires_grad_(True)
            out = model(x)
            out.gather(1, out.argmax(1, keepdim=True)).sum().backward()

    explain(model, images[:2], "gradient_squared")  # warm-up
    ours = min(timed(lambda: explain(model, images, "gradient_squared")) for _ in range(2))
    floor = min(timed(lambda: bare(images)) for _ in range(2))
    print(f"\ngradient_squared, 64 images 128²: {ours:.3f} s vs bare forward+backward {floor:.3f} s "
          f"→ {ours / floor:.2f}×")
    few = images[:4]
    smooth = timed(lambda: explain(model, few, "smoothgrad", samples=50))
    noisy = few.repeat_interleave(50, 0)
    floor = timed(lambda: bare(noisy))
    print(f"SmoothGrad n=50, 4 images 128²: {smooth:.3f} s vs 50 forward+backward (one batch of 200) "
          f"{floor:.3f} s → {smooth / floor:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the ResNet-18 stride-4 and gradient rows")
    parser.add_argument("--full", action="store_true",
                        help="also time ours on ResNet-18 at stride 4 (minutes; over the 5-minute budget)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for every row (default 1: on a shared, loaded machine two "
                             "threads spin at barriers and a forward pass varies 10×)")
    parser.add_argument("--images", type=int, default=96, help="demo test images for the accuracy rows")
    parser.add_argument("--photos", type=int, default=32, help="224² photos for the accuracy rows")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the accuracy rows")
    parser.add_argument("--efficientnet", action="store_true",
                        help="only the EfficientNet-Lite0 rows (128² and 224², fast-mode Spearman and SSIM)")
    parser.add_argument("--sweep", action="store_true",
                        help="only the accuracy rows, for refine fractions 0.2–0.8 (how many windows fast mode "
                             "must compute to reach the accuracy goal)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.sweep:
        accuracy(args.images, args.photos, ("fast=0.2", "fast=0.4", "fast=0.6", "fast=0.7"), ("fast=0.4", "fast=0.6"))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, kernels: {kernels.backend()}")
    if args.efficientnet:
        efficientnet_rows(args.photos, args.quick)
        return
    demo = demo_model()
    image = torch.rand(1, 3, 128, 128)
    from saliency_core import cell_occlusion

    cell_occlusion(demo, image, 18)  # warm-up
    seconds = timed(lambda: cell_occlusion(demo, image, 18), 3)
    print(f"18×18 cell occlusion (the dashboard's automatic grid; cells of 7-8 px) of one 128² image: "
          f"{seconds:.3f} s per model (bench/grid_occlusion.py: more sizes, vs full inference)")
    run_config("demo CNN", demo, 128, 16, 8, run_captum=True, sample=None, repeats=3)
    run_config("demo CNN", demo, 128, 16, 4, run_captum=False, sample=256)
    run_config("demo CNN", demo, 224, 16, 8, run_captum=True, sample=256, repeats=3, thresholds=(0.5, 0.25),
               fractions=(0.4, 0.6))
    run_config("demo CNN", demo, 224, 16, 4, run_captum=False, sample=256, repeats=1)
    resnet = ResNet18().eval()
    run_config("ResNet-18", resnet, 224, 16, 8, run_captum=False, sample=64, repeats=1)
    if not args.quick:
        run_config("ResNet-18", resnet, 224, 16, 4, run_captum=False, sample=64, repeats=1,
                   run_exact=args.full, run_fast=args.full)
    efficientnet_rows(args.photos, args.quick)
    if not args.no_accuracy:
        accuracy(args.images, args.photos, ("fast", "tau=0.5") if args.quick else ("fast", "tau=0.75", "tau=0.5"))
    if not args.quick:
        gradient_rows()


if __name__ == "__main__":
    main()
