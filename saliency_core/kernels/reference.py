"""Plain-torch reference kernels: slow, simple, and the oracle of the tests.

Each function has the same contract as its compiled twin in :mod:`saliency_core.kernels`
(see ``docs/KERNELS.md``). Arguments are assumed valid here; the public wrappers validate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from saliency_core.checks import Pair, int_pair


class TopPercent(NamedTuple):
    """Result of :func:`top_percent`: per-map threshold, region share, salient mask and count."""

    threshold: Tensor  # float32 [B]
    share: Tensor | None  # float32 [B]; None without a region
    mask: Tensor | None  # bool [B,H,W]; None unless asked for
    count: Tensor  # int64 [B]: salient pixels (ties included)


def top_k(percent: float, pixels: int) -> int:
    """k = max(1, floor(percent/100 * pixels + 0.5)): half rounds up, never zero pixels."""
    return max(1, math.floor(percent / 100.0 * pixels + 0.5))


def window_grid(size: tuple[int, int], window: int | Pair, stride: int | Pair) -> Pair:
    """Window count per axis, as Captum's Occlusion: ceil((H - h) / s) + 1.

    Windows start at 0, s, 2s, ...; the last one may stick out past the border and is clipped.
    """
    (height, width), (h, w), (sy, sx) = size, int_pair(window), int_pair(stride)
    return (math.ceil((height - h) / sy) + 1, math.ceil((width - w) / sx) + 1)


def _window_box(index: int, size: tuple[int, int], window: Pair, stride: Pair) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of window `index` (row-major), clipped to the image."""
    _, nx = window_grid(size, window, stride)
    iy, ix = divmod(index, nx)
    y0, x0 = iy * stride[0], ix * stride[1]
    return y0, min(y0 + window[0], size[0]), x0, min(x0 + window[1], size[1])


def _baseline_like(images: Tensor, baseline: float | Tensor) -> Tensor:
    """The baseline broadcast to the images' shape [B,C,H,W]."""
    if not isinstance(baseline, Tensor):
        return torch.full_like(images, float(baseline))
    if baseline.dim() == 1:  # per channel
        baseline = baseline[:, None, None]
    return baseline.to(images).expand_as(images)


def occlusion_batch(
    images: Tensor,
    window: int | Pair,
    stride: int | Pair,
    baseline: float | Tensor = 0.0,
    start: int = 0,
    count: int | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Row i*B + b = image b with window (start + i) set to the baseline."""
    batch, _, height, width = images.shape
    win, step = int_pair(window), int_pair(stride)
    ny, nx = window_grid((height, width), win, step)
    if count is None:
        count = ny * nx - start
    base = _baseline_like(images, baseline)
    result = images.repeat(count, 1, 1, 1)
    for i in range(count):
        y0, y1, x0, x1 = _window_box(start + i, (height, width), win, step)
        rows = slice(i * batch, (i + 1) * batch)
        result[rows, :, y0:y1, x0:x1] = base[:, :, y0:y1, x0:x1]
    if out is not None:
        out.copy_(result)
        return out
    return result


def occlusion_accumulate(
    deltas: Tensor, size: tuple[int, int], window: int | Pair, stride: int | Pair
) -> Tensor:
    """Per pixel: the mean of the deltas [B, nWin] of the windows covering it, 0 where none does."""
    win, step = int_pair(window), int_pair(stride)
    total = torch.zeros(deltas.shape[0], *size, dtype=torch.float64, device=deltas.device)
    cover = torch.zeros(size, dtype=torch.float64, device=deltas.device)
    for index in range(deltas.shape[1]):
        y0, y1, x0, x1 = _window_box(index, size, win, step)
        total[:, y0:y1, x0:x1] += deltas[:, index, None, None].double()
        cover[y0:y1, x0:x1] += 1
    return torch.where(cover > 0, total / cover.clamp(min=1), 0.0).float()


def region_mask(region: Tensor, size: tuple[int, int]) -> Tensor:
    """Boxes [B,4] (x0,y0,x1,y1; x1/y1 exclusive; clipped) or masks [B,H,W] → bool [B,H,W]."""
    if region.dim() == 3:
        return region != 0
    height, width = size
    ys = torch.arange(height, device=region.device)[None, :, None]
    xs = torch.arange(width, device=region.device)[None, None, :]
    x0, y0, x1, y1 = (region[:, j].floor().long()[:, None, None] for j in range(4))
    return (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)


def top_percent(
    maps: Tensor, percent: float = 0.5, region: Tensor | None = None, return_mask: bool = False
) -> TopPercent:
    """Threshold at the top `percent` of each map; the share of salient pixels inside `region`.

    k = max(1, floor(percent/100·H·W + 0.5)). The threshold is the k-th largest non-NaN value
    (+Inf largest, −Inf smallest); with fewer than k non-NaN values it is the smallest of them,
    and NaN when the map is all NaN. Salient = value ≥ threshold (ties included, so more than k
    pixels may be salient); NaN is never salient. share = salient ∩ region / salient (NaN when
    nothing is salient, None without a region).
    """
    batch, height, width = maps.shape
    k = top_k(percent, height * width)
    thresholds = torch.full((batch,), math.nan, dtype=torch.float32, device=maps.device)
    for b in range(batch):
        values = maps[b].flatten()
        values = values[~values.isnan()]
        if values.numel() > 0:
            ordered = values.sort(descending=True).values
            thresholds[b] = ordered[min(k, values.numel()) - 1]
    mask = maps >= thresholds[:, None, None]  # NaN compares False on either side
    count = mask.sum(dim=(1, 2))
    share = None
    if region is not None:
        inside = (mask & region_mask(region, (height, width))).sum(dim=(1, 2))
        share = torch.where(count > 0, inside / count.clamp(min=1), math.nan).float()
    return TopPercent(thresholds, share, mask if return_mask else None, count)


# --- counter-based Gaussian noise (bit-identical scheme in csrc/noise.cpp and csrc/noise.cu) ---
_MASK32 = 0xFFFFFFFF


def _mul32(x: Tensor, constant: int) -> Tensor:
    """(x * constant) mod 2**32 for x < 2**32 without int64 overflow (split in 16-bit halves)."""
    low = x * (constant & 0xFFFF)
    high = ((x * (constant >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def hash32(x: Tensor) -> Tensor:
    """The `lowbias32` integer hash (Chris Wellons) on uint32 values held in int64."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def hash_int(value: int) -> int:
    """hash32 of one Python int (taken mod 2**32)."""
    return int(hash32(torch.tensor([value & _MASK32], dtype=torch.int64))[0])


def gaussian(numel: int, seed: int, device: torch.device | str = "cpu") -> Tensor:
    """Standard normal float32 noise; element i depends only on (seed, i).

    u1 = (hash32((i + key1) mod 2³²) >> 8 + 1)·2⁻²⁴ ∈ (0,1], u2 = (hash32((i + key2) mod 2³²) >> 8)·2⁻²⁴,
    with key1 = hash32(2·seed), key2 = hash32(2·seed + 1); ε = sqrt(−2 ln u1)·cos(2π u2) (Box–Muller).
    """
    seed &= _MASK32
    key1, key2 = hash_int(2 * seed), hash_int(2 * seed + 1)
    index = torch.arange(numel, dtype=torch.int64, device=device)
    bits1 = hash32((index + key1) & _MASK32) >> 8
    bits2 = hash32((index + key2) & _MASK32) >> 8
    scale = 1.0 / 16777216.0
    u1 = (bits1 + 1).float() * scale
    u2 = bits2.float() * scale
    return torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)


def masked_noise(images: Tensor, masks: Tensor, sigma: float, seed: int) -> Tensor:
    """clamp(x + sigma·ε·m, 0, 1) with ε from :func:`gaussian` over the flat NCHW index."""
    weights = masks.reshape(masks.shape[0], 1, *images.shape[2:]).to(images)
    noise = gaussian(images.numel(), seed, images.device).reshape(images.shape)
    return (images + sigma * noise * weights).clamp(0.0, 1.0)


def gather_patches(table: Tensor, padded_size: Pair, image: Tensor, y0: Tensor, x0: Tensor, size: Pair,
                   patch: Tensor | None = None, offset: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Crops of a padded channels-last map with patches pasted over them: [rows, h, w, C].

    Row r is ``table`` viewed as [B, Hp, Wp, C] at image ``image[r]``, rows y0[r] … y0[r]+h−1 and
    columns x0[r] … x0[r]+w−1; then ``patch[r]`` [C, ph, pw] is written over it with its top-left
    at (dy[r], dx[r]) = ``offset`` relative to the crop, clipped to the crop.
    """
    hp, wp = padded_size
    h, w = size
    rows, channels = int(image.numel()), table.shape[1]
    device = table.device
    ys = y0[:, None] + torch.arange(h, device=device)
    xs = x0[:, None] + torch.arange(w, device=device)
    index = ((image * (hp * wp))[:, None, None] + (ys * wp)[:, :, None] + xs[:, None, :]).view(-1)
    out = torch.empty((index.numel() + 1, channels), dtype=table.dtype, device=device)
    torch.index_select(table, 0, index, out=out[:-1])
    if patch is not None and offset is not None:
        dy, dx = offset
        ph, pw = patch.shape[2], patch.shape[3]
        ty = dy[:, None] + torch.arange(ph, device=device)
        tx = dx[:, None] + torch.arange(pw, device=device)
        target = ((torch.arange(rows, device=device) * (h * w))[:, None, None] + (ty * w)[:, :, None]
                  + tx[:, None, :])
        valid = ((ty >= 0) & (ty < h))[:, :, None] & ((tx >= 0) & (tx < w))[:, None, :]
        target = torch.where(valid, target, index.numel())  # the spare last row absorbs clipped values
        out.index_copy_(0, target.view(-1), patch.permute(0, 2, 3, 1).reshape(-1, channels))
    return out[:-1].view(rows, h, w, channels)
