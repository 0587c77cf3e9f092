"""Occlusion kernels (``csrc/occlusion.cpp``, ``csrc/occlusion.cu``): the window grid, occluded
copies of a batch, and the per-pixel mean of the window deltas.

The public kernels validate, then call their ``*_unchecked`` twins; a caller that validated once
(the occlusion engine, chunk after chunk) calls the twins directly with :func:`baseline4`'s output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from saliency_core.checks import Pair, check_finite, check_int_pair, check_integer
from saliency_core.kernels import native, reference, validate

IntOrPair = int | Sequence[int]


def window_grid(size: IntOrPair, window: IntOrPair, stride: IntOrPair) -> Pair:
    """(ny, nx) window positions per axis, as Captum's Occlusion: ceil((H − h)/s) + 1.

    Windows start at 0, s, 2s, …; the last one may reach past the border and is clipped there.
    """
    hw, win, step = check_int_pair("size", size), check_int_pair("window", window), check_int_pair("stride", stride)
    validate.window_fits(hw, win)
    return reference.window_grid(hw, win, step)


def max_windows_per_chunk(images_shape: Sequence[int], budget_bytes: int) -> int:
    """How many windows' occluded copies of a [B,C,H,W] batch fit in `budget_bytes` (at least 1)."""
    if len(images_shape) != 4 or any(int(n) <= 0 for n in images_shape):
        raise ValueError(f"images_shape must be a positive [B,C,H,W], got {tuple(images_shape)}")
    budget = check_integer("budget_bytes", budget_bytes)
    if budget <= 0:
        raise ValueError(f"budget_bytes must be positive, got {budget_bytes!r}")
    batch, channels, height, width = (int(n) for n in images_shape)
    return max(1, budget // (batch * channels * height * width * 4))


def baseline4(baseline: float | Tensor, images: Tensor) -> Tensor:
    """The checked baseline as float32 [Bb,C,Hb,Wb], Bb ∈ {1,B}, (Hb,Wb) ∈ {(1,1),(H,W)}: the
    form the kernels take. `baseline` is a number, [C], [C,H,W] or [B,C,H,W] for `images` [B,C,H,W].
    """
    batch, channels, height, width = images.shape
    if not isinstance(baseline, Tensor):
        if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
            raise ValueError(f"baseline must be a number or a tensor, got {type(baseline).__name__}")
        check_finite("baseline", baseline)
        return torch.full((1, channels, 1, 1), float(baseline), dtype=torch.float32, device=images.device)
    validate.same_device(baseline, images, "baseline", "images")
    if not baseline.is_floating_point():
        raise ValueError(f"baseline must be a floating-point tensor, got {baseline.dtype}")
    base = baseline.detach().to(torch.float32)
    if not bool(torch.isfinite(base).all()):  # also a finite float64 value beyond float32's range
        raise ValueError("baseline must be finite, got NaN or Inf values")
    shapes = {0: (), 1: (channels,), 3: (channels, height, width), 4: (batch, channels, height, width)}
    if base.dim() not in shapes or tuple(base.shape) != shapes[base.dim()]:
        raise ValueError(
            f"baseline must be a number, [C], [C,H,W] or [B,C,H,W] = {tuple(images.shape)}, "
            f"got shape {tuple(base.shape)}"
        )
    if base.dim() == 0:
        base = base.expand(1, channels, 1, 1)
    elif base.dim() == 1:
        base = base.reshape(1, channels, 1, 1)
    elif base.dim() == 3:
        base = base.unsqueeze(0)
    return base.contiguous()


def occlusion_batch(
    images: Tensor,
    window: IntOrPair,
    stride: IntOrPair,
    baseline: float | Tensor = 0.0,
    start: int = 0,
    count: int | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Occluded copies of `images` [B,C,H,W] for windows start … start+count−1: [count·B,C,H,W].

    Row i·B + b is image b with window (start + i) set to the baseline (a number, [C], [C,H,W]
    or [B,C,H,W]); windows are numbered row-major, iy·nx + ix, at Captum's positions (see
    :func:`window_grid`). `count` defaults to the remaining windows; `out`, when given, is a
    preallocated float32 tensor of the result's shape that is filled and returned.
    """
    images = validate.float_tensor(images, "images", 4)
    batch, channels, height, width = images.shape
    win, step = check_int_pair("window", window), check_int_pair("stride", stride)
    validate.window_fits((height, width), win)
    ny, nx = reference.window_grid((height, width), win, step)
    start = check_integer("start", start)
    if not 0 <= start <= ny * nx:
        raise ValueError(f"start must be in [0, {ny * nx}] (the number of windows), got {start}")
    count = ny * nx - start if count is None else check_integer("count", count)
    if count < 0 or start + count > ny * nx:
        raise ValueError(f"count must be in [0, {ny * nx - start}] for start={start}, got {count}")
    base = baseline4(baseline, images)
    shape = (count * batch, channels, height, width)
    if out is not None:
        if not isinstance(out, Tensor) or out.dtype != torch.float32 or tuple(out.shape) != shape:
            raise ValueError(f"out must be a float32 tensor of shape {shape}")
        if not out.is_contiguous():
            raise ValueError("out must be contiguous")
        validate.same_device(out, images, "out", "images")
    return occlusion_batch_unchecked(images, win, step, base, start, count, out)


def occlusion_batch_unchecked(images: Tensor, window: Pair, stride: Pair, baseline: Tensor, start: int,
                              count: int, out: Tensor | None = None) -> Tensor:
    """:func:`occlusion_batch` without the checks, for a caller that made them once.

    The caller guarantees: `images` contiguous float32 [B,C,H,W]; `window` and `stride` positive
    (y, x) pairs, the window inside the image; `baseline` from :func:`baseline4`; 0 ≤ start and
    start + count ≤ the number of windows; `out` None or contiguous float32 [count·B,C,H,W];
    everything on one device. (The C++ kernel still refuses shapes that would make it read or
    write out of bounds; the CUDA kernel trusts them.)
    """
    ext, on_cuda = native.for_tensor(images)
    if ext is None:
        return reference.occlusion_batch(images, window, stride, baseline, start, count, out=out)
    batch, channels, height, width = images.shape
    if out is None:
        out = torch.empty((count * batch, channels, height, width), dtype=torch.float32, device=images.device)
    if on_cuda:
        with torch.cuda.device(images.device):  # launch on the data's GPU, not the current one
            ext.occlusion_batch_cuda(native.ptr(images), native.ptr(baseline), native.ptr(out), batch, channels,
                                     height, width, baseline.shape[0], baseline.shape[2], baseline.shape[3],
                                     *window, *stride, start, count, native.stream(images))
    else:
        ext.occlusion_batch(native.array(images), native.array(baseline), native.array(out), window, stride,
                            start, count)
    return out


def occlusion_accumulate(deltas: Tensor, size: IntOrPair, window: IntOrPair, stride: IntOrPair) -> Tensor:
    """Per-pixel mean of the window deltas [B, ny·nx] over the windows covering each pixel: [B,H,W].

    Pixels no window covers (stride larger than the window) get 0. Windows are numbered as in
    :func:`occlusion_batch`; with deltas f(x) − f(x_occluded) this is Captum's occlusion map.
    """
    deltas = validate.float_tensor(deltas, "deltas", 2)
    hw, win, step = check_int_pair("size", size), check_int_pair("window", window), check_int_pair("stride", stride)
    validate.window_fits(hw, win)
    ny, nx = reference.window_grid(hw, win, step)
    if deltas.shape[1] != ny * nx:
        raise ValueError(f"deltas must be [B, {ny * nx}] (ny·nx = {ny}·{nx} windows), got {tuple(deltas.shape)}")
    return occlusion_accumulate_unchecked(deltas, hw, win, step)


def occlusion_accumulate_unchecked(deltas: Tensor, size: Pair, window: Pair, stride: Pair) -> Tensor:
    """:func:`occlusion_accumulate` without the checks, for a caller that made them once.

    The caller guarantees: `deltas` contiguous float32 [B, ny·nx] for the grid of `size`, `window`
    and `stride` (positive (y, x) pairs, the window inside the image).
    """
    ext, on_cuda = native.for_tensor(deltas)
    if ext is None:
        return reference.occlusion_accumulate(deltas, size, window, stride)
    out = torch.empty((deltas.shape[0], *size), dtype=torch.float32, device=deltas.device)
    if on_cuda:
        with torch.cuda.device(deltas.device):  # launch on the data's GPU, not the current one
            ext.occlusion_accumulate_cuda(native.ptr(deltas), native.ptr(out), deltas.shape[0], *size, *window,
                                          *stride, native.stream(deltas))
    else:
        ext.occlusion_accumulate(native.array(deltas), native.array(out), window, stride)
    return out
