"""Occlusion (Zeiler & Fergus 2014) with Captum's exact semantics, on the compiled kernels.

Each window (positions 0, s, 2s, … per axis; the last one clipped at the border) is set to the
baseline; the score change Δ = f_t(x) − f_t(x_occluded) is spread over the window's pixels and
each pixel gets the mean Δ of the windows covering it — the value of
``captum.attr.Occlusion(model).attribute(x, sliding_window_shapes=(C,h,w), strides=(C,sy,sx))``
(identical across channels, so one channel is returned).

Modes: ``"exact"`` (default) uses incremental inference when the model's graph allows it and
batched full inference otherwise; ``"naive"`` forces batched full inference; ``"fast"`` is the
adaptive coarse-to-fine approximation.
"""

from __future__ import annotations

import importlib
import logging
import numbers
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.kernels import validate
from saliency_core.methods.base import Model, Progress, Target, check_images, check_target, forward

log = logging.getLogger(__name__)

Mode = Literal["exact", "naive", "fast"]
# Occluded copies are built in chunks that fit this budget (issue: window 4, stride 1 on 1024²).
MEMORY_BUDGET_BYTES = 256 * 2**20


def occlusion(
    model: Model,
    images: Tensor,
    window: int | Sequence[int] = 16,
    stride: int | Sequence[int] = 8,
    baseline: float | Tensor = 0.0,
    target: Target = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    mode: Mode = "exact",
) -> Tensor:
    """Occlusion maps [B,H,W] of ``model`` on ``images`` [B,C,H,W] (float32, values in [0,1]).

    ``window``/``stride``: an int or (h, w); ``baseline``: a number, [C], [C,H,W] or [B,C,H,W]
    (e.g. a blurred copy); ``target``: None (each image's predicted class), an int or one per image;
    ``batch_size``: occluded copies per forward pass (default: a 256 MB budget);
    ``progress(done, total)`` is called after each chunk of windows.
    """
    check_images(images)
    size = (images.shape[2], images.shape[3])
    win = validate.pair(window, "window")
    step = validate.pair(stride, "stride")
    validate.window_fits(size, win)
    if mode not in ("exact", "naive", "fast"):
        raise ValueError(f"mode must be 'exact', 'naive' or 'fast', got {mode!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a callable progress(done, total), got {progress!r}")
    with torch.no_grad():
        logits = forward(model, images)
        resolved = check_target(target, logits)
        if mode == "fast":
            adaptive = importlib.import_module("saliency_core.methods.occlusion_adaptive")
            return adaptive.adaptive_occlusion(model, images, win, step, baseline, resolved, batch_size, progress)
        deltas = None
        if mode == "exact":
            deltas = _incremental(model, images, win, step, baseline, resolved, batch_size, progress)
        if deltas is None:
            scores = logits.gather(1, resolved[:, None])[:, 0]
            deltas = _full_inference_deltas(model, images, win, step, baseline, resolved, scores,
                                            batch_size, progress)
    return kernels.occlusion_accumulate(deltas, size, win, step)


def _incremental(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                 baseline: float | Tensor, target: Tensor, batch_size: int | None,
                 progress: Progress | None) -> Tensor | None:
    try:
        engine = importlib.import_module("saliency_core.methods.occlusion_incremental")
    except ModuleNotFoundError:
        return None
    deltas: Tensor | None = engine.incremental_deltas(model, images, window, stride, baseline, target,
                                                      batch_size=batch_size, progress=progress)
    return deltas


def _full_inference_deltas(model: Model, images: Tensor, window: tuple[int, int],
                           stride: tuple[int, int], baseline: float | Tensor, target: Tensor,
                           scores: Tensor, batch_size: int | None,
                           progress: Progress | None) -> Tensor:
    """Δ[B, nWin]: one forward pass per chunk of occluded copies, built in place by the kernel."""
    batch = images.shape[0]
    ny, nx = kernels.window_grid((images.shape[2], images.shape[3]), window, stride)
    total = ny * nx
    per_chunk = (max(1, batch_size // batch) if batch_size
                 else kernels.max_windows_per_chunk(images.shape, MEMORY_BUDGET_BYTES))
    per_chunk = min(per_chunk, total)
    buffer = torch.empty((per_chunk * batch, *images.shape[1:]), dtype=images.dtype, device=images.device)
    deltas = torch.empty((batch, total), dtype=torch.float32, device=images.device)
    for start in range(0, total, per_chunk):
        count = min(per_chunk, total - start)
        occluded = kernels.occlusion_batch(images, window, stride, baseline, start, count,
                                           out=buffer[: count * batch])
        out = forward(model, occluded)  # rows are window-major: i * B + b
        occluded_scores = out.gather(1, target.repeat(count)[:, None]).view(count, batch)
        deltas[:, start : start + count] = (scores[None, :] - occluded_scores).T
        if progress is not None:
            progress(start + count, total)
    return deltas
