"""Region share: the share of the top-p% salient pixels that fall inside a region.

The explorable's metric ("proportion of salient pixels in the watermark area", p = 0.5), after
Zhou et al. 2021. One fused kernel pass per map: threshold, mask and count (see docs/KERNELS.md
for ties and NaN: ties at the threshold all count as salient, NaN never does).
"""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core import kernels
from saliency_core.checks import check_boxes, check_masks
from saliency_core.kernels import validate


def top_percent_share(maps: Tensor, region: Tensor, percent: float = 0.5) -> Tensor:
    """Share in [0, 1] of each map's top-``percent``% pixels that lie inside ``region``.

    ``maps`` [B,H,W]; ``region`` boxes [B,4] (x0, y0, x1, y1 in pixels, x1/y1 exclusive, clipped to
    the image) or masks [B,H,W] (non-zero = inside). Returns float32 [B]; NaN for an all-NaN map.
    A box with no pixel inside the image (outside it, inverted or empty), a mask that selects no
    pixel, or NaN/Inf in a mask is a ValueError, as in ``region_masks``.
    """
    if region is None:
        raise ValueError("region is required: boxes [B,4] (x0,y0,x1,y1) or masks [B,H,W]")
    if isinstance(maps, Tensor) and maps.is_floating_point() and maps.dtype != torch.float32:
        maps = maps.float()
    maps = validate.float_tensor(maps, "maps", 3)
    share = kernels.top_percent(maps, percent, _checked_region(region, maps)).share
    assert share is not None  # a region was given
    return share


def _checked_region(region: Tensor, maps: Tensor) -> Tensor:
    """``region`` with the checks of ``region_masks`` (boxes partly outside the image are clipped);
    a region of the wrong type or shape is left for the kernel to name."""
    batch, height, width = maps.shape
    if isinstance(region, Tensor) and tuple(region.shape) == (batch, 4):
        return check_boxes(region, height=height, width=width, clip=True)
    if isinstance(region, Tensor) and tuple(region.shape) == (batch, height, width):
        check_masks(region)
    return region
