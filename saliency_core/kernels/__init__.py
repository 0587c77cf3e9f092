"""The compiled kernels of Saliency Lab, with plain-torch fallbacks.

Each function validates its arguments (bad input → ValueError naming the argument), then runs
on the best backend for the data: CUDA tensors on the CUDA kernels when they are compiled and a
GPU is visible, CPU tensors on the C++ kernels, anything else on :mod:`.reference`.
The rules (window positions, ties, NaN, RNG) are in ``docs/KERNELS.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import torch
from torch import Tensor

from saliency_core.kernels import reference, validate
from saliency_core.kernels._loader import extension
from saliency_core.kernels.reference import TopPercent, top_k

__all__ = [
    "TopPercent",
    "backend",
    "cuda_available",
    "cuda_compiled",
    "gather_patches",
    "masked_noise",
    "max_windows_per_chunk",
    "occlusion_accumulate",
    "occlusion_batch",
    "top_k",
    "top_percent",
    "window_grid",
]

IntOrPair = int | Sequence[int]


def cuda_compiled() -> bool:
    """True when the extension was built with its CUDA kernels."""
    ext = extension()
    return ext is not None and bool(ext.WITH_CUDA)


def cuda_available() -> bool:
    """True when the CUDA kernels are compiled and a CUDA device is visible now."""
    ext = extension()
    return ext is not None and bool(ext.WITH_CUDA) and bool(ext.cuda_available())


def backend() -> str:
    """"extension+cuda" (CUDA kernels usable), "extension" (C++ CPU kernels) or "reference"."""
    if extension() is None:
        return "reference"
    return "extension+cuda" if cuda_available() else "extension"


def _native(t: Tensor) -> tuple[ModuleType | None, bool]:
    """(extension, on_cuda) for data `t`; extension None means: use the reference."""
    ext = extension()
    if ext is None:
        return None, False
    if t.device.type == "cuda":
        return (ext, True) if cuda_available() else (None, False)
    return (ext, False) if t.device.type == "cpu" else (None, False)


def _ptr(t: Tensor | None) -> int:
    return 0 if t is None or t.numel() == 0 else int(t.data_ptr())


def _stream(t: Tensor) -> int:
    with torch.cuda.device(t.device):
        return int(torch.cuda.current_stream().cuda_stream)


def window_grid(size: IntOrPair, window: IntOrPair, stride: IntOrPair) -> tuple[int, int]:
    """(ny, nx) window positions per axis, as Captum's Occlusion: ceil((H − h)/s) + 1.

    Windows start at 0, s, 2s, …; the last one may reach past the border and is clipped there.
    """
    hw, win, step = validate.pair(size, "size"), validate.pair(window, "window"), validate.pair(stride, "stride")
    validate.window_fits(hw, win)
    return reference.window_grid(hw, win, step)


def max_windows_per_chunk(images_shape: Sequence[int], budget_bytes: int) -> int:
    """How many windows' occluded copies of a [B,C,H,W] batch fit in `budget_bytes` (at least 1)."""
    if len(images_shape) != 4 or any(int(n) <= 0 for n in images_shape):
        raise ValueError(f"images_shape must be a positive [B,C,H,W], got {tuple(images_shape)}")
    budget = validate.integer(budget_bytes, "budget_bytes")
    if budget <= 0:
        raise ValueError(f"budget_bytes must be positive, got {budget_bytes!r}")
    batch, channels, height, width = (int(n) for n in images_shape)
    return max(1, budget // (batch * channels * height * width * 4))


def _baseline4(baseline: float | Tensor, images: Tensor) -> Tensor:
    """The baseline as float32 [Bb,C,Hb,Wb] with Bb ∈ {1,B}, (Hb,Wb) ∈ {(1,1),(H,W)}."""
    batch, channels, height, width = images.shape
    if not isinstance(baseline, Tensor):
        if isinstance(baseline, bool) or not isinstance(baseline, (int, float)):
            raise ValueError(f"baseline must be a number or a tensor, got {type(baseline).__name__}")
        validate.finite(baseline, "baseline")
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
    win, step = validate.pair(window, "window"), validate.pair(stride, "stride")
    validate.window_fits((height, width), win)
    ny, nx = reference.window_grid((height, width), win, step)
    start = validate.integer(start, "start")
    if not 0 <= start <= ny * nx:
        raise ValueError(f"start must be in [0, {ny * nx}] (the number of windows), got {start}")
    count = ny * nx - start if count is None else validate.integer(count, "count")
    if count < 0 or start + count > ny * nx:
        raise ValueError(f"count must be in [0, {ny * nx - start}] for start={start}, got {count}")
    base = _baseline4(baseline, images)
    shape = (count * batch, channels, height, width)
    if out is None:
        out = torch.empty(shape, dtype=torch.float32, device=images.device)
    elif not isinstance(out, Tensor) or out.dtype != torch.float32 or tuple(out.shape) != shape:
        raise ValueError(f"out must be a float32 tensor of shape {shape}")
    elif not out.is_contiguous():
        raise ValueError("out must be contiguous")
    else:
        validate.same_device(out, images, "out", "images")
    ext, on_cuda = _native(images)
    if ext is None:
        return reference.occlusion_batch(images, win, step, base, start, count, out=out)
    args = (*win, *step, start, count)
    if on_cuda:
        with torch.cuda.device(images.device):  # launch on the data's GPU, not the current one
            ext.occlusion_batch_cuda(_ptr(images), _ptr(base), _ptr(out), batch, channels, height, width,
                                     base.shape[0], base.shape[2], base.shape[3], *args, _stream(images))
    else:
        ext.occlusion_batch(images.numpy(), base.numpy(), out.detach().numpy(), *args)
    return out


def occlusion_accumulate(deltas: Tensor, size: IntOrPair, window: IntOrPair, stride: IntOrPair) -> Tensor:
    """Per-pixel mean of the window deltas [B, ny·nx] over the windows covering each pixel: [B,H,W].

    Pixels no window covers (stride larger than the window) get 0. Windows are numbered as in
    :func:`occlusion_batch`; with deltas f(x) − f(x_occluded) this is Captum's occlusion map.
    """
    deltas = validate.float_tensor(deltas, "deltas", 2)
    hw, win, step = validate.pair(size, "size"), validate.pair(window, "window"), validate.pair(stride, "stride")
    validate.window_fits(hw, win)
    ny, nx = reference.window_grid(hw, win, step)
    if deltas.shape[1] != ny * nx:
        raise ValueError(f"deltas must be [B, {ny * nx}] (ny·nx = {ny}·{nx} windows), got {tuple(deltas.shape)}")
    ext, on_cuda = _native(deltas)
    if ext is None:
        return reference.occlusion_accumulate(deltas, hw, win, step)
    out = torch.empty((deltas.shape[0], *hw), dtype=torch.float32, device=deltas.device)
    if on_cuda:
        with torch.cuda.device(deltas.device):  # launch on the data's GPU, not the current one
            ext.occlusion_accumulate_cuda(_ptr(deltas), _ptr(out), deltas.shape[0], *hw, *win, *step, _stream(deltas))
    else:
        ext.occlusion_accumulate(deltas.numpy(), out.numpy(), *win, *step)
    return out


def _region(region: Tensor | None, maps: Tensor) -> tuple[int, Tensor | None]:
    """(kind, data): 0 none; 1 boxes int64 [B,4] clipped to the image; 2 masks uint8 [B,H,W]."""
    if region is None:
        return 0, None
    if not isinstance(region, Tensor):
        raise ValueError(f"region must be a tensor of boxes [B,4] or masks [B,H,W], got {type(region).__name__}")
    validate.same_device(region, maps, "region", "maps")
    batch, height, width = maps.shape
    if region.dim() == 2:
        if tuple(region.shape) != (batch, 4):
            raise ValueError(f"region boxes must be [B,4] = [{batch},4], got {tuple(region.shape)}")
        boxes = region.detach()
        if boxes.is_floating_point():
            if not bool(torch.isfinite(boxes).all()):
                raise ValueError("region boxes must be finite")
            boxes = boxes.floor()
        elif boxes.dtype == torch.bool or boxes.is_complex():
            raise ValueError(f"region boxes must be numbers, got {boxes.dtype}")
        limit = torch.tensor([width, height, width, height], device=boxes.device)
        boxes = torch.minimum(boxes.to(torch.int64).clamp(min=0), limit)
        return 1, boxes.contiguous()
    if region.dim() == 3:
        if tuple(region.shape) != (batch, height, width):
            raise ValueError(f"region masks must be [B,H,W] = {tuple(maps.shape)}, got {tuple(region.shape)}")
        masks = region.detach()
        if masks.is_floating_point() and not bool(torch.isfinite(masks).all()):
            raise ValueError("region masks must be finite (NaN is not a weight)")
        masks = masks.view(torch.uint8) if masks.dtype == torch.bool else (masks != 0).view(torch.uint8)
        return 2, masks.contiguous()
    raise ValueError(f"region must be boxes [B,4] or masks [B,H,W], got shape {tuple(region.shape)}")


def top_percent(
    maps: Tensor, percent: float = 0.5, region: Tensor | None = None, return_mask: bool = False
) -> TopPercent:
    """Threshold each map [B,H,W] at its top `percent` and measure the salient share in `region`.

    Rule: k = max(1, floor(percent/100·H·W + 0.5)). threshold = the k-th largest non-NaN value
    (+Inf largest, −Inf smallest); with fewer than k non-NaN values, the smallest of them; NaN
    for an all-NaN map. Salient = value ≥ threshold (ties included, so `count` may exceed k);
    NaN is never salient. share = salient pixels inside `region` / salient pixels (NaN when
    none is salient). `region`: boxes [B,4] (x0,y0,x1,y1; x1/y1 exclusive; float boxes are
    floored; clipped to the image) or masks [B,H,W] (nonzero = inside); None → share None.
    Returns TopPercent(threshold float32[B], share float32[B] | None, mask bool[B,H,W] | None,
    count int64[B]).
    """
    maps = validate.float_tensor(maps, "maps", 3)
    batch, height, width = maps.shape
    if height == 0 or width == 0:
        raise ValueError(f"maps must have at least one pixel, got shape {tuple(maps.shape)}")
    k = top_k(validate.percent(percent), height * width)
    kind, data = _region(region, maps)
    ext, on_cuda = _native(maps)
    if ext is None:
        # The reference reads the normalised region (the same clipping as the native kernels).
        return reference.top_percent(maps, percent, data, return_mask)
    device = maps.device
    threshold = torch.empty(batch, dtype=torch.float32, device=device)
    share_out = torch.empty(batch, dtype=torch.float32, device=device)
    count = torch.empty(batch, dtype=torch.int64, device=device)
    mask = torch.empty((batch, height, width), dtype=torch.bool, device=device) if return_mask else None
    if on_cuda:
        with torch.cuda.device(maps.device):  # launch on the data's GPU, not the current one
            ext.top_percent_cuda(_ptr(maps), batch, height, width, k, kind, _ptr(data) if kind == 1 else 0,
                                 _ptr(data) if kind == 2 else 0, _ptr(threshold), _ptr(share_out), _ptr(count),
                                 _ptr(mask), _stream(maps))
    else:
        empty_boxes = torch.zeros((0, 4), dtype=torch.int64)
        empty_masks = torch.zeros(0, dtype=torch.uint8)
        ext.top_percent(
            maps.numpy(), k, kind,
            (data if kind == 1 else empty_boxes).numpy(),  # type: ignore[union-attr]
            (data if kind == 2 else empty_masks).numpy(),  # type: ignore[union-attr]
            threshold.numpy(), share_out.numpy(), count.numpy(),
            (mask.view(torch.uint8) if mask is not None else empty_masks).numpy(),
            return_mask,
        )
    return TopPercent(threshold, share_out if kind else None, mask, count)


def masked_noise(images: Tensor, masks: Tensor, sigma: float, seed: int) -> Tensor:
    """clamp(x + sigma·ε·m, 0, 1): Gaussian noise weighted by soft masks m ∈ [0,1], reproducible.

    `images` [B,C,H,W] float32, `masks` [B,H,W] or [B,1,H,W] (shared by the channels). ε for the
    flat NCHW element i depends only on (seed mod 2³², i): the same on every backend (see
    :func:`reference.gaussian`).
    """
    images = validate.float_tensor(images, "images", 4)
    batch, _, height, width = images.shape
    if not isinstance(masks, Tensor):
        raise ValueError(f"masks must be a torch.Tensor, got {type(masks).__name__}")
    validate.same_device(masks, images, "masks", "images")
    if tuple(masks.shape) not in {(batch, height, width), (batch, 1, height, width)}:
        raise ValueError(f"masks must be [B,H,W] or [B,1,H,W] for images {tuple(images.shape)}, "
                         f"got {tuple(masks.shape)}")
    weights = masks.detach().to(torch.float32).reshape(batch, height, width).contiguous()
    if weights.numel() and not bool(((weights >= 0) & (weights <= 1)).all()):
        raise ValueError("masks must hold values in [0, 1]")
    sigma = validate.finite_non_negative(sigma, "sigma")
    seed = validate.integer(seed, "seed") % 2**32
    ext, on_cuda = _native(images)
    if ext is None:
        return reference.masked_noise(images, weights, sigma, seed)
    key1, key2 = reference.hash_int(2 * seed), reference.hash_int(2 * seed + 1)
    out = torch.empty_like(images)
    if on_cuda:
        with torch.cuda.device(images.device):  # launch on the data's GPU, not the current one
            ext.masked_noise_cuda(_ptr(images), _ptr(weights), _ptr(out), batch, images.shape[1], height * width,
                                  sigma, key1, key2, _stream(images))
    else:
        ext.masked_noise(images.numpy(), weights.numpy(), out.numpy(), sigma, key1, key2)
    return out


def gather_patches(table: Tensor, padded_size: Sequence[int], image: Tensor, y0: Tensor, x0: Tensor,
                   size: Sequence[int], patch: Tensor | None = None,
                   offset: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Crops of many windows of a padded activation map, each with its recomputed patch pasted
    over it, in one pass (the gather/merge step of incremental occlusion): [rows, C, h, w],
    channels-last in memory (what convolutions take without a copy).

    ``table`` float32 [(B·Hp·Wp), C] contiguous: the padded map [B,C,Hp,Wp] in channels-last order,
    flattened (``padded_size`` = (Hp, Wp)); ``image``, ``y0``, ``x0`` int64 [rows]: each crop's
    image and top-left corner in padded coordinates; ``size`` = (h, w). ``patch`` [rows, C, ph, pw]
    (any strides) is written over crop r with its top-left at (dy[r], dx[r]) = ``offset``, clipped
    to the crop. A crop reaching outside the padded map is a ValueError.
    """
    if not isinstance(table, Tensor) or table.dtype != torch.float32 or table.dim() != 2 or not table.is_contiguous():
        raise ValueError("table must be a contiguous float32 tensor [(B·Hp·Wp), C]")
    hp, wp = (int(v) for v in padded_size)
    h, w = (int(v) for v in size)
    if hp <= 0 or wp <= 0 or table.shape[0] % (hp * wp) != 0:
        raise ValueError(f"table has {table.shape[0]} rows, not a multiple of Hp·Wp = {hp}·{wp}")
    if h < 0 or w < 0:
        raise ValueError(f"size must be non-negative, got {(h, w)}")
    index = [validate.index_vector(t, name, table) for t, name in ((image, "image"), (y0, "y0"), (x0, "x0"))]
    rows = index[0].numel()
    if any(t.numel() != rows for t in index):
        raise ValueError("image, y0 and x0 must have one entry per row")
    shifts: list[Tensor] = []
    if patch is not None:
        if offset is None or len(offset) != 2:
            raise ValueError("a patch needs its offset (dy, dx): two int64 vectors")
        if not isinstance(patch, Tensor) or patch.dtype != torch.float32 or patch.dim() != 4 \
                or patch.shape[0] != rows or patch.shape[1] != table.shape[1]:
            raise ValueError(f"patch must be float32 [rows={rows}, C={table.shape[1]}, ph, pw]")
        validate.same_device(patch, table, "patch", "table")
        shifts = [validate.index_vector(t, name, table) for t, name in zip(offset, ("dy", "dx"))]
        if any(t.numel() != rows for t in shifts):
            raise ValueError("dy and dx must have one entry per row")
    ext, on_cuda = _native(table)
    # The C++ kernel checks every crop itself; elsewhere check here (one sync on a GPU).
    if (ext is None or on_cuda) and rows and (
            int(index[1].min()) < 0 or int(index[2].min()) < 0 or int(index[1].max()) + h > hp
            or int(index[2].max()) + w > wp or int(index[0].min()) < 0
            or int(index[0].max()) >= table.shape[0] // (hp * wp)):
        raise ValueError("gather_patches: a crop reaches outside the padded map")
    if ext is None:
        out = reference.gather_patches(table, (hp, wp), index[0], index[1], index[2], (h, w), patch,
                                       (shifts[0], shifts[1]) if shifts else None)
        return out.permute(0, 3, 1, 2)
    out = torch.empty((rows, h, w, table.shape[1]), dtype=torch.float32, device=table.device)
    p = patch if patch is not None else None
    strides = tuple(p.stride()) if p is not None else (0, 0, 0, 0)
    ph, pw = (p.shape[2], p.shape[3]) if p is not None else (0, 0)
    dy, dx = (_ptr(shifts[0]), _ptr(shifts[1])) if shifts else (0, 0)
    if on_cuda:
        with torch.cuda.device(table.device):  # launch on the data's GPU, not the current one
            ext.gather_patches_cuda(_ptr(table), table.shape[1], _ptr(index[0]), _ptr(index[1]), _ptr(index[2]), rows,
                                    h, w, hp, wp, table.shape[0] // (hp * wp), _ptr(p), ph, pw, *strides, dy, dx,
                                    _ptr(out), _stream(table))
    else:
        try:
            ext.gather_patches(_ptr(table), table.shape[0], table.shape[1], _ptr(index[0]), _ptr(index[1]),
                               _ptr(index[2]), rows, h, w, hp, wp, _ptr(p), ph, pw, *strides, dy, dx, _ptr(out))
        except IndexError as err:
            raise ValueError(str(err)) from None
    return out.permute(0, 3, 1, 2)
