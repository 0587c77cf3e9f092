"""How occluded copies are batched: the one memory budget, the one chunk rule, and batched full
inference — the fallback for every model the incremental engine cannot handle.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.methods.base import Model, Progress, forward

# What one pass may hold: full inference's occluded copies, or the incremental engine's patches
# (issue: window 4, stride 1 on 1024² must not build every copy at once).
MEMORY_BUDGET_BYTES = 256 * 2**20
# The budget counts the occluded copies, not the activations a forward pass makes of them: at most
# this many rows per full-inference pass (325 copies through EfficientNet-Lite0's first blocks at
# 128² held 1.2 GB of activations; 64 hold ~250 MB). 16 is also the fastest here: the zoo's
# watermark model's 18×18 cell sweep took 1.95 s in chunks of 64 rows, 1.23 s of 32, 1.00 s of 16.
FULL_INFERENCE_ROWS = 16

# occlude(first, count, out): the copies for occlusions first … first+count−1, written into
# ``out`` [count·B,C,H,W] (rows i·B + b) and returned.
Occlude = Callable[[int, int, Tensor], Tensor]


def set_memory_budget(n_bytes: int) -> int:
    """Set :data:`MEMORY_BUDGET_BYTES` (what one occlusion pass may hold) for this process and
    return the previous value. A server under a memory cap lowers it: passes get smaller, a
    sweep somewhat slower (the EfficientNet zoo's 18×18 cell sweep at 128²: 1.22 s at 256 MB,
    1.48 s at 128 MB, 2.19 s at 64 MB; its peak +239, +144, +97 MB)."""
    global MEMORY_BUDGET_BYTES
    if not isinstance(n_bytes, int) or isinstance(n_bytes, bool) or n_bytes < 2**20:
        raise ValueError(f"n_bytes must be an integer of at least 1 MiB, got {n_bytes!r}")
    previous, MEMORY_BUDGET_BYTES = MEMORY_BUDGET_BYTES, n_bytes
    return previous


def windows_per_chunk(batch_size: int | None, batch: int, bytes_per_window: int) -> int:
    """Occlusions per pass over a batch of ``batch`` images: ``batch_size`` rows (occluded copies)
    when given, else as many as fit :data:`MEMORY_BUDGET_BYTES`; at least one."""
    if batch_size:
        return max(1, batch_size // batch)
    return max(1, MEMORY_BUDGET_BYTES // max(1, bytes_per_window))


def full_inference(model: Model, images: Tensor, total: int, occlude: Occlude, batch_size: int | None,
                   progress: Progress | None, target: Tensor | None = None) -> Tensor:
    """The model's output on ``total`` occluded copies of each image [B, total, K], or only the
    ``target`` class's [B, total], one forward pass per chunk; ``progress(done, total)`` after each."""
    batch = images.shape[0]
    per_chunk = min(total, windows_per_chunk(batch_size, batch, images.numel() * images.element_size()))
    if not batch_size:
        per_chunk = min(per_chunk, max(1, FULL_INFERENCE_ROWS // batch))
    buffer = torch.empty((per_chunk * batch, *images.shape[1:]), dtype=images.dtype, device=images.device)
    parts = []
    for first in range(0, total, per_chunk):
        count = min(per_chunk, total - first)
        with torch.no_grad():
            out = forward(model, occlude(first, count, buffer[: count * batch]))
        out = out.view(count, batch, -1).transpose(0, 1)  # rows are occlusion-major: i·B + b
        # Copied out (clone or gather) before the next chunk overwrites the buffer the output may view.
        if target is None:
            parts.append(out.clone())
        else:
            parts.append(out.gather(2, target[:, None, None].expand(-1, count, 1))[..., 0])
        if progress is not None:
            progress(first + count, total)
    return torch.cat(parts, dim=1)


def full_inference_deltas(model: Model, images: Tensor, window: tuple[int, int], stride: tuple[int, int],
                          baseline: float | Tensor, target: Tensor, scores: Tensor, batch_size: int | None,
                          progress: Progress | None, windows: Tensor | None = None) -> Tensor:
    """Δ[B, nWin] = ``scores`` − f_t(x with window w at the baseline) for every window (row-major,
    iy·nx + ix), or only for the window indices ``windows`` [n]: [B, n]. ``images``: float32, as
    ``check_images`` passed them; ``window``, ``stride``: (y, x) pairs."""
    batch = images.shape[0]
    ny, nx = kernels.window_grid((images.shape[2], images.shape[3]), window, stride)
    chosen = None if windows is None else [int(w) for w in windows.tolist()]
    # Checked once here, so every chunk takes the kernel's unchecked entry point.
    images = images.detach().contiguous()
    base = kernels.baseline4(baseline, images)

    def occlude(first: int, count: int, out: Tensor) -> Tensor:
        if chosen is None:  # consecutive windows: one kernel call
            return kernels.occlusion_batch_unchecked(images, window, stride, base, first, count, out)
        for i, index in enumerate(chosen[first : first + count]):
            kernels.occlusion_batch_unchecked(images, window, stride, base, index, 1, out[i * batch : (i + 1) * batch])
        return out

    total = ny * nx if chosen is None else len(chosen)
    occluded = full_inference(model, images, total, occlude, batch_size, progress, target)
    return (scores[:, None] - occluded).float()  # float32 whatever the model's output dtype
