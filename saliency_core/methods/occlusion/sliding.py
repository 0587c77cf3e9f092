"""Sliding-window occlusion (Zeiler & Fergus 2014) with Captum's exact semantics.

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

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.checks import Pair, check_images, check_int_pair, check_positive
from saliency_core.data.preprocess import Preprocess
from saliency_core.kernels import validate
from saliency_core.methods.base import Model, Progress, Target, check_target, forward
from saliency_core.methods.occlusion.adaptive import adaptive_occlusion
from saliency_core.methods.occlusion.batching import full_inference_deltas
from saliency_core.methods.occlusion.incremental import incremental_deltas

Mode = Literal["exact", "naive", "fast"]


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
    *,
    preprocess: Preprocess | None = None,
) -> Tensor:
    """Occlusion maps [B,H,W] of ``model`` on ``images`` [B,C,H,W] (float32, values in [0,1]).

    ``window``/``stride``: an int or (h, w); ``baseline``: a number, [C], [C,H,W] or [B,C,H,W]
    (e.g. a blurred copy); ``target``: None (each image's predicted class), an int or one per image;
    ``batch_size``: occluded copies per forward pass (default: a 256 MB budget);
    ``progress(done, total)`` is called after each chunk of windows. ``preprocess``: as in
    :func:`saliency_core.explain` (the size checked, the model behind its normalisation, so
    ``baseline`` is in [0, 1] pixels; ``target`` may be a class name).
    """
    check_images(images)
    if preprocess is not None:
        model, target = preprocess.apply(model, images, target)
    win, step = _checked_options(images, window, stride, batch_size, progress, mode)
    with torch.no_grad():
        logits = forward(model, images)
        resolved = check_target(target, logits)
    return _maps(model, images, logits, resolved, win, step, baseline, batch_size, progress, mode)


def occlusion_from_logits(
    model: Model,
    images: Tensor,
    logits: Tensor,
    target: Tensor,
    window: int | Sequence[int] = 16,
    stride: int | Sequence[int] = 8,
    baseline: float | Tensor = 0.0,
    batch_size: int | None = None,
    progress: Progress | None = None,
    mode: Mode = "exact",
) -> Tensor:
    """:func:`occlusion` of images the caller has checked (``check_images``), given the model's
    ``logits`` on them and the resolved ``target`` LongTensor[B]: ``explain`` runs the model once."""
    win, step = _checked_options(images, window, stride, batch_size, progress, mode)
    return _maps(model, images, logits, target, win, step, baseline, batch_size, progress, mode)


def _checked_options(images: Tensor, window: int | Sequence[int], stride: int | Sequence[int],
                     batch_size: int | None, progress: Progress | None, mode: str) -> tuple[Pair, Pair]:
    """(window, stride) as pairs; a ValueError naming any bad option."""
    win = check_int_pair("window", window)
    step = check_int_pair("stride", stride)
    validate.window_fits((images.shape[2], images.shape[3]), win)
    if mode not in ("exact", "naive", "fast"):
        raise ValueError(f"mode must be 'exact', 'naive' or 'fast', got {mode!r}")
    if batch_size is not None:
        check_positive("batch_size", batch_size)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a callable progress(done, total), got {progress!r}")
    return win, step


def _maps(model: Model, images: Tensor, logits: Tensor, target: Tensor, window: Pair, stride: Pair,
          baseline: float | Tensor, batch_size: int | None, progress: Progress | None, mode: str) -> Tensor:
    with torch.no_grad():
        if mode == "fast":
            return adaptive_occlusion(model, images, window, stride, baseline, target, batch_size, progress,
                                      logits=logits)
        deltas = None
        if mode == "exact":
            deltas = incremental_deltas(model, images, window, stride, baseline, target, batch_size, progress)
        if deltas is None:
            scores = logits.gather(1, target[:, None])[:, 0]
            deltas = full_inference_deltas(model, images, window, stride, baseline, target, scores, batch_size,
                                           progress)
    # window and stride are checked pairs (_checked_options) and the deltas float32 [B, ny·nx].
    size = (images.shape[2], images.shape[3])
    return kernels.occlusion_accumulate_unchecked(deltas.contiguous(), size, window, stride)
