"""Exact occlusion by incremental inference (Krypton: Nakandala et al., SIGMOD 2019): scheduling.

An occluded window changes only a small region of each layer's activations. The unoccluded images
run once with every activation cached (:mod:`.plan`); then the windows are run in chunks, each
layer recomputing only the region its inputs changed (:mod:`.execution`). This module decides
which windows share a pass — blocks of similar patch sizes, chunks that fit the memory budget — and
collects the results as deltas (:func:`deltas_from_plan`) or full outputs
(:func:`outputs_from_plan`). :func:`incremental_deltas` returns ``None`` (after a log line) when
the model's graph cannot be handled; the caller then falls back to batched full inference.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.methods.base import Model, Progress
from saliency_core.methods.occlusion.batching import windows_per_chunk
from saliency_core.methods.occlusion.execution import bytes_per_window, chunk_outputs
from saliency_core.methods.occlusion.plan import Plan, build_plan

# Splitting the windows into blocks of similar patch sizes (Plan.groups) pays only when each block
# still batches many windows: measured on the demo CNN, 729 windows (224², stride 8) run ~20 %
# faster split, 225 windows (128²) ~25 % slower (each block is one more pass over ~45 layers).
GROUPING_MIN_WINDOWS = 400


def incremental_deltas(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                       baseline: float | Tensor, target: Tensor, batch_size: int | None = None,
                       progress: Progress | None = None) -> Tensor | None:
    """Δ[B, nWin] = f_t(x) − f_t(x with window w at the baseline), windows row-major (iy·nx + ix).

    Exact (to float rounding) incremental inference; None, after a log line saying why, when the
    model's graph cannot be handled.
    """
    plan = build_plan(model, images, window, stride)
    if plan is None:
        return None
    return deltas_from_plan(plan, images, baseline, target, batch_size, progress)


def deltas_from_plan(plan: Plan, images: Tensor, baseline: float | Tensor, target: Tensor,
                     batch_size: int | None = None, progress: Progress | None = None,
                     windows: Tensor | None = None) -> Tensor:
    """Δ for every window (or, given ``windows``, only those indices: [B, len(windows)])."""
    scores = plan.cache[plan.output].gather(1, target[:, None])[:, 0]
    indices = np.arange(plan.grid[0] * plan.grid[1]) if windows is None else windows.cpu().numpy()
    deltas = torch.empty((plan.batch, int(indices.size)), dtype=torch.float32, device=images.device)
    with torch.no_grad():
        for out, places in _passes(plan, images, baseline, indices, batch_size, progress):
            count = places.numel()
            occluded = out.gather(1, target.repeat(count)[:, None])[:, 0]
            deltas[:, places] = scores[:, None] - occluded.view(count, plan.batch).T
    return deltas


def outputs_from_plan(plan: Plan, images: Tensor, baseline: float | Tensor, batch_size: int | None = None,
                      progress: Progress | None = None) -> Tensor:
    """The model's output [B, nRegions, K] with each region at the baseline, regions row-major."""
    clean = plan.cache[plan.output]
    total = plan.grid[0] * plan.grid[1]
    outputs = torch.empty((plan.batch, total, clean.shape[1]), dtype=clean.dtype, device=images.device)
    with torch.no_grad():
        for out, places in _passes(plan, images, baseline, np.arange(total), batch_size, progress):
            outputs[:, places] = out.view(places.numel(), plan.batch, -1).transpose(0, 1)
    return outputs


def _passes(plan: Plan, images: Tensor, baseline: float | Tensor, indices: np.ndarray, batch_size: int | None,
            progress: Progress | None) -> Iterator[tuple[Tensor, Tensor]]:
    """Per engine pass over some of ``indices`` (global, row-major): the model's output [count·B, K]
    (rows i·B + b) and those windows' places in ``indices``; ``progress(done, total)`` after each."""
    base = kernels.baseline4(baseline, images)
    done, total = 0, int(indices.size)
    for sub, local, where in _by_group(plan, indices):
        per_chunk = windows_per_chunk(batch_size, plan.batch, bytes_per_window(sub))
        for first in range(0, local.size, per_chunk):
            chunk = local[first : first + per_chunk]
            places = torch.from_numpy(where[first : first + per_chunk]).to(images.device)
            yield chunk_outputs(sub, images, base, chunk), places
            done += int(chunk.size)
            if progress is not None:
                progress(done, total)


def _by_group(plan: Plan, indices: np.ndarray) -> list[tuple[Plan, np.ndarray, np.ndarray]]:
    """For each block of :meth:`Plan.groups` holding some of ``indices`` (global, row-major): the
    block's plan, those windows' indices in the block's own grid, and their places in ``indices``."""
    ny, nx = plan.grid
    if indices.size < GROUPING_MIN_WINDOWS:
        return [(plan, indices, np.arange(indices.size))]
    iy, ix = indices // nx, indices % nx
    out = []
    for rows, cols, sub in plan.groups():
        local_y = np.full(ny, -1, dtype=np.int64)
        local_x = np.full(nx, -1, dtype=np.int64)
        local_y[rows] = np.arange(rows.size)
        local_x[cols] = np.arange(cols.size)
        ly, lx = local_y[iy], local_x[ix]
        where = np.nonzero((ly >= 0) & (lx >= 0))[0]
        if where.size:
            out.append((sub, ly[where] * cols.size + lx[where], where))
    return out
