"""Approximate occlusion by adaptive drill-down (``occlusion(..., mode="fast")``).

1. A coarse pass: every ``coarse_stride``-th window position per axis (plus the last), computed
   exactly by incremental inference — these windows are also fine windows, so they are final.
2. Every other window gets an estimate: the coarse Δ grid interpolated bilinearly (separably).
3. ``refine_fraction`` of all windows are computed exactly: those whose interpolation neighbours
   (the coarse windows the estimate is made from) hold the largest |Δ|, i.e. the neighbourhoods of
   the strongest coarse windows (per image, slightly better than ranking by the estimate's |Δ|).
   Each image of a batch chooses its own windows; the union is computed (one engine call) but each
   image keeps only its own, so an image's map does not depend on the rest of its batch.
4. The Δ are accumulated exactly as in :func:`~saliency_core.methods.occlusion.sliding.occlusion`.

``refine_fraction=1`` (or ``coarse_stride=1``) computes every window and returns the exact map.
``threshold`` (default None: off) additionally caps every layer's recomputed region (Krypton's
projective-field threshold, :func:`~saliency_core.methods.occlusion.plan.build_region_plan`).
Models the incremental engine cannot handle are occluded with batched full inference (same
approximation, less speed).

Accuracy is that of an approximation, and on the demo CNN it is modest. Per image (batch of 1),
window 16 stride 8, the default (``coarse_stride=2``, ``refine_fraction=0.2``: ~48 % of the windows
computed, 1.5–2× faster than exact, 15× faster than Captum at 224²) reaches a Spearman correlation
with the exact map of 0.72–0.87 at worst and 0.86–0.95 on average over the zoo models (demo test
set at 128², photos at 224²); the top-0.5 % share inside the watermark box was off by 0.625 on one
watermarked image. Spearman ≥ 0.95 on every image needed ``refine_fraction`` ≈ 0.7 (~99 % of the
windows at 128²), and no projective-field threshold that saves time got there either. Measured
numbers: ``docs/PERFORMANCE.md`` and ``bench/occlusion.py``. Use ``mode="exact"`` wherever the
map's fine ranking matters."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.checks import check_finite, check_positive
from saliency_core.methods.base import Model, Progress, forward
from saliency_core.methods.occlusion.batching import full_inference_deltas
from saliency_core.methods.occlusion.incremental import deltas_from_plan
from saliency_core.methods.occlusion.plan import Plan, build_plan

DEFAULT_REFINE_FRACTION = 0.2
DEFAULT_COARSE_STRIDE = 2


def _coarse_positions(count: int, step: int) -> np.ndarray:
    """Every ``step``-th window position on an axis, plus the last one (so no fine window extrapolates)."""
    return np.unique(np.append(np.arange(0, count, step), count - 1))


def _interpolation(count: int, known: np.ndarray) -> Tensor:
    """[count, len(known)] linear-interpolation weights from the known positions to every position."""
    weights = np.zeros((count, known.size))
    for position in range(count):
        right = int(np.searchsorted(known, position))
        if right < known.size and known[right] == position:
            weights[position, right] = 1.0
            continue
        left = right - 1
        frac = (position - known[left]) / (known[right] - known[left])
        weights[position, left], weights[position, right] = 1.0 - frac, frac
    return torch.from_numpy(weights).float()


def _neighbours(count: int, known: np.ndarray) -> tuple[Tensor, Tensor]:
    """Per position, the indices (into ``known``) of the known positions left and right of it."""
    right = np.minimum(np.searchsorted(known, np.arange(count)), known.size - 1)
    exact = known[right] == np.arange(count)
    left = np.where(exact, right, right - 1)
    return torch.from_numpy(left), torch.from_numpy(right)


def _exact_deltas(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                  baseline: float | Tensor, target: Tensor, windows: Tensor, batch_size: int | None,
                  progress: Progress | None, plan: Plan | None, scores: Tensor | None) -> Tensor:
    """Exact Δ [B, len(windows)]: incremental when ``plan`` exists, else batched full inference
    (measured from ``scores``, the target's clean output)."""
    if plan is not None:
        return deltas_from_plan(plan, images, baseline, target, batch_size, progress, windows)
    assert scores is not None
    return full_inference_deltas(model, images, window, stride, baseline, target, scores, batch_size, progress,
                                 windows)


def adaptive_occlusion(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                       baseline: float | Tensor, target: Tensor, batch_size: int | None = None,
                       progress: Progress | None = None, *, refine_fraction: float = DEFAULT_REFINE_FRACTION,
                       coarse_stride: int = DEFAULT_COARSE_STRIDE, threshold: float | None = None,
                       logits: Tensor | None = None) -> Tensor:
    """Approximate occlusion maps [B,H,W] (Captum semantics at ``window``/``stride``); see the module.

    ``logits``: the model's output on ``images`` when the caller has it (full inference measures
    the Δ from it; without it, and without a plan, the model runs once more on the clean images).
    """
    refine_fraction = check_finite("refine_fraction", refine_fraction, low=0, high=1)
    coarse_stride = check_positive("coarse_stride", coarse_stride)
    size = (images.shape[2], images.shape[3])
    ny, nx = kernels.window_grid(size, window, stride)
    batch, device = images.shape[0], images.device
    plan = build_plan(model, images, window, stride, threshold=threshold)
    scores = None
    if plan is None:
        with torch.no_grad():
            clean = logits if logits is not None else forward(model, images)
        scores = clean.gather(1, target[:, None])[:, 0]
    known_y, known_x = _coarse_positions(ny, coarse_stride), _coarse_positions(nx, coarse_stride)
    coarse = torch.from_numpy((known_y[:, None] * nx + known_x[None, :]).reshape(-1))
    refine_count = min(ny * nx - coarse.numel(), int(round(refine_fraction * ny * nx)))
    total = coarse.numel() + refine_count

    def report(offset: int) -> Progress | None:
        if progress is None:
            return None
        return lambda finished, _: progress(min(total, offset + finished), total)

    exact_coarse = _exact_deltas(model, images, window, stride, baseline, target, coarse, batch_size,
                                 report(0), plan, scores)
    weights_y, weights_x = _interpolation(ny, known_y).to(device), _interpolation(nx, known_x).to(device)
    grid = exact_coarse.view(batch, known_y.size, known_x.size)
    fine = (weights_y @ grid @ weights_x.T).reshape(batch, ny * nx)
    fine[:, coarse.to(device)] = exact_coarse
    if refine_count > 0:
        # Score of a window: the largest |Δ| among the coarse windows its estimate interpolates
        # (ties, e.g. the windows around one strong coarse window, broken by the estimate's |Δ|).
        magnitude = grid.abs()
        left_y, right_y = _neighbours(ny, known_y)
        left_x, right_x = _neighbours(nx, known_x)
        corners = [magnitude[:, ly][:, :, lx] for ly in (left_y, right_y) for lx in (left_x, right_x)]
        score = torch.stack(corners).amax(0)
        score = score + 1e-3 * fine.abs().view(batch, ny, nx)
        score = score.reshape(batch, ny * nx)
        score[:, coarse.to(device)] = -1.0
        ranked = score.argsort(dim=1, descending=True)[:, :refine_count]
        chosen = torch.unique(ranked.flatten()).cpu()
        refined = _exact_deltas(model, images, window, stride, baseline, target, chosen, batch_size,
                                report(coarse.numel()), plan, scores)
        # Each image keeps only its own choice: its map does not depend on the rest of the batch.
        position = torch.full((ny * nx,), -1, dtype=torch.long)
        position[chosen] = torch.arange(chosen.numel())
        own = ranked.cpu()
        fine.scatter_(1, own.to(device), refined.gather(1, position[own].to(device)))
    # window_grid above checked window and stride; fine is float32 [B, ny·nx].
    return kernels.occlusion_accumulate_unchecked(fine.contiguous(), size, window, stride)
