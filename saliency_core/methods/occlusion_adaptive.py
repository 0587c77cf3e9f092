"""Approximate occlusion by adaptive drill-down (after Krypton's, Nakandala et al. SIGMOD 2019).

1. A coarse pass: windows ``coarse_window``× larger on a grid ``coarse_stride``× sparser, computed
   exactly by incremental inference.
2. Every fine window gets an estimate: the coarse Δ grid interpolated (bilinearly, separably) at
   the fine window's centre.
3. The fine windows with the largest estimated |Δ| (``refine_fraction`` of them) are computed
   exactly; the estimates of the others are rescaled by the least-squares factor between exact and
   estimated Δ on the refined ones (a larger window removes more evidence, so raw coarse Δ overstate
   a fine window's effect).
4. The fine Δ are accumulated exactly as in :func:`~saliency_core.methods.occlusion.occlusion`.

``refine_fraction=1`` refines every window and returns the exact map. Models the incremental engine
cannot handle are occluded with batched full inference at both levels (same approximation, less
speed). Measured error against exact: ``docs/PERFORMANCE.md``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.methods.base import Model, Progress, forward
from saliency_core.methods.occlusion_incremental import build_plan, deltas_from_plan

DEFAULT_REFINE_FRACTION = 0.2
DEFAULT_COARSE_STRIDE = 3
DEFAULT_COARSE_WINDOW = 2


def _interpolation(fine_count: int, fine_stride: int, fine_window: int, coarse_count: int,
                   coarse_stride: int, coarse_window: int) -> Tensor:
    """[fine_count, coarse_count] weights of the coarse windows for each fine window's centre."""
    fine_centre = torch.arange(fine_count, dtype=torch.float64) * fine_stride + fine_window / 2
    position = (fine_centre - coarse_window / 2) / coarse_stride  # in coarse grid units
    position = position.clamp(0, coarse_count - 1)
    low = position.floor().long().clamp(max=coarse_count - 1)
    high = (low + 1).clamp(max=coarse_count - 1)
    frac = position - low
    weights = torch.zeros(fine_count, coarse_count, dtype=torch.float64)
    rows = torch.arange(fine_count)
    weights[rows, low] += 1 - frac
    weights[rows, high] += frac
    return weights.float()


def _deltas(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
            baseline: float | Tensor, target: Tensor, windows: Tensor | None, batch_size: int | None,
            progress: Progress | None) -> Tensor:
    """Exact Δ [B, len(windows)] (all windows when None): incremental, else batched full inference."""
    plan = build_plan(model, images, window, stride)
    if plan is not None:
        return deltas_from_plan(plan, images, baseline, target, batch_size, progress, windows)
    ny, nx = kernels.window_grid((images.shape[2], images.shape[3]), window, stride)
    indices = torch.arange(ny * nx) if windows is None else windows.cpu()
    batch = images.shape[0]
    per_chunk = max(1, (batch_size or 64 * batch) // batch)
    with torch.no_grad():
        scores = forward(model, images).gather(1, target[:, None])[:, 0]
        out = torch.empty((batch, indices.numel()), device=images.device)
        for first in range(0, indices.numel(), per_chunk):
            chunk = indices[first : first + per_chunk]
            copies = torch.cat([kernels.occlusion_batch(images, window, stride, baseline, int(w), 1) for w in chunk])
            occluded = forward(model, copies).gather(1, target.repeat(chunk.numel())[:, None])[:, 0]
            out[:, first : first + chunk.numel()] = (scores[None, :] - occluded.view(chunk.numel(), batch)).T
            if progress is not None:
                progress(first + chunk.numel(), indices.numel())
    return out


def adaptive_occlusion(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                       baseline: float | Tensor, target: Tensor, batch_size: int | None = None,
                       progress: Progress | None = None, *, refine_fraction: float = DEFAULT_REFINE_FRACTION,
                       coarse_stride: int = DEFAULT_COARSE_STRIDE,
                       coarse_window: int = DEFAULT_COARSE_WINDOW) -> Tensor:
    """Approximate occlusion maps [B,H,W] (Captum semantics at ``window``/``stride``); see the module."""
    if not 0.0 <= refine_fraction <= 1.0:
        raise ValueError(f"refine_fraction must be in [0, 1], got {refine_fraction!r}")
    size = (images.shape[2], images.shape[3])
    ny, nx = kernels.window_grid(size, window, stride)
    big_window = tuple(min(w * coarse_window, e) for w, e in zip(window, size))
    big_stride = tuple(s * coarse_stride for s in stride)
    cy, cx = kernels.window_grid(size, big_window, big_stride)
    batch = images.shape[0]
    refine_count = min(ny * nx, int(round(refine_fraction * ny * nx)))
    total = cy * cx + refine_count

    def report(offset: int) -> Progress | None:
        if progress is None:
            return None
        return lambda finished, _: progress(min(total, offset + finished), total)

    coarse = _deltas(model, images, big_window, big_stride, baseline, target,  # type: ignore[arg-type]
                     None, batch_size, report(0))
    weights_y = _interpolation(ny, stride[0], window[0], cy, big_stride[0], big_window[0]).to(images.device)
    weights_x = _interpolation(nx, stride[1], window[1], cx, big_stride[1], big_window[1]).to(images.device)
    estimate = (weights_y @ coarse.view(batch, cy, cx) @ weights_x.T).reshape(batch, ny * nx)
    if refine_count == 0:
        return kernels.occlusion_accumulate(estimate, size, window, stride)
    # The windows any image ranks in its top |Δ| estimates are refined for every image.
    ranked = estimate.abs().argsort(dim=1, descending=True)[:, :refine_count]
    chosen = torch.unique(ranked.flatten()).cpu()
    exact = _deltas(model, images, window, stride, baseline, target, chosen, batch_size, report(cy * cx))
    guessed = estimate[:, chosen.to(images.device)]
    scale = (exact * guessed).sum(1) / (guessed * guessed).sum(1).clamp_min(1e-20)
    fine = estimate * scale[:, None]
    fine[:, chosen.to(images.device)] = exact
    return kernels.occlusion_accumulate(fine, size, window, stride)
