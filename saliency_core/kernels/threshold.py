"""The top-percent kernel (``csrc/threshold.cpp``, ``csrc/threshold.cu``): each map's threshold at
its top percent, the salient mask and count, and the salient share inside a region."""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.checks import check_finite
from saliency_core.kernels import native, reference, validate
from saliency_core.kernels.reference import TopPercent, top_k


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
    k = top_k(check_finite("percent", percent, low=0, high=100, closed="right"), height * width)
    kind, data = _region(region, maps)
    ext, on_cuda = native.for_tensor(maps)
    if ext is None:
        # The reference reads the normalised region (the same clipping as the native kernels).
        return reference.top_percent(maps, percent, data, return_mask)
    device = maps.device
    threshold = torch.empty(batch, dtype=torch.float32, device=device)
    share_out = torch.empty(batch, dtype=torch.float32, device=device)
    count = torch.empty(batch, dtype=torch.int64, device=device)
    mask = torch.empty((batch, height, width), dtype=torch.bool, device=device) if return_mask else None
    boxes, masks = (data if kind == 1 else None), (data if kind == 2 else None)
    if on_cuda:
        with torch.cuda.device(maps.device):  # launch on the data's GPU, not the current one
            ext.top_percent_cuda(native.ptr(maps), batch, height, width, k, kind, native.ptr(boxes),
                                 native.ptr(masks), native.ptr(threshold), native.ptr(share_out), native.ptr(count),
                                 native.ptr(mask), native.stream(maps))
    else:
        ext.top_percent(native.array(maps), k, native.array(boxes), native.array(masks), native.array(threshold),
                        native.array(share_out), native.array(count),
                        native.array(mask.view(torch.uint8) if mask is not None else None))
    return TopPercent(threshold, share_out if kind else None, mask, count)
