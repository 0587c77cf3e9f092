"""top_percent_share refuses regions that select no pixel, as ``region_masks`` does."""

from __future__ import annotations

import math

import pytest
import torch

from saliency_core import kernels
from saliency_core.metrics import top_percent_share

MAPS = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("box", [[20, 20, 30, 30], [-10, 0, 0, 16], [0, 16, 16, 24]])
def test_share_rejects_boxes_outside_the_image(box: list[int]) -> None:
    with pytest.raises(ValueError, match=r"box .* of image 1 lies outside the 16x16 image"):
        top_percent_share(MAPS, torch.tensor([[0, 0, 8, 8], box]))


@pytest.mark.parametrize("box", [[8, 8, 4, 12], [4, 8, 12, 4], [5, 5, 5, 9], [2.2, 2.0, 2.9, 6.0]])
def test_share_rejects_inverted_or_empty_boxes(box: list[float]) -> None:
    with pytest.raises(ValueError, match=r"box .* of image 0 is empty"):
        top_percent_share(MAPS, torch.tensor([box, [0, 0, 8, 8]]))


def test_share_rejects_non_finite_boxes() -> None:
    with pytest.raises(ValueError, match="boxes contain NaN"):
        top_percent_share(MAPS, torch.tensor([[0.0, 0.0, math.nan, 8.0]] * 2))


def test_share_clips_a_box_partly_outside_the_image() -> None:
    # Reference by hand: the top 10 % of each map (26 of 256 pixels), and how many lie in the
    # part of the box that is inside the image.
    boxes = [[-5, -5, 8, 8], [8, 8, 40, 40], [0, 0, 1e20, 3]]
    maps = torch.cat([MAPS, MAPS[:1]])
    expected = []
    for m, (x0, y0, x1, y1) in zip(maps, boxes):
        top = m.flatten().topk(26).indices
        ys, xs = top // 16, top % 16
        inside = (xs >= max(x0, 0)) & (xs < min(x1, 16)) & (ys >= max(y0, 0)) & (ys < min(y1, 16))
        expected.append(float(inside.float().mean()))
    shares = top_percent_share(maps, torch.tensor(boxes, dtype=torch.float64), 10.0)
    torch.testing.assert_close(shares, torch.tensor(expected))


def test_share_rejects_masks_that_select_no_pixel() -> None:
    masks = torch.zeros(2, 16, 16)
    masks[0, :4, :4] = 1.0
    with pytest.raises(ValueError, match="mask of image 1 selects no pixel"):
        top_percent_share(MAPS, masks)
    with pytest.raises(ValueError, match="mask of image 1 selects no pixel"):
        top_percent_share(MAPS, masks.bool())


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_share_rejects_non_finite_masks(value: float) -> None:
    masks = torch.zeros(2, 16, 16)
    masks[:, :4, :4] = 1.0
    masks[1, 10, 10] = value
    with pytest.raises(ValueError, match="masks contain NaN or Inf"):
        top_percent_share(MAPS, masks)


def test_top_percent_kernel_rejects_non_finite_region_masks() -> None:
    masks = torch.ones(2, 16, 16)
    masks[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="region masks must be finite"):
        kernels.top_percent(MAPS, 1.0, masks)
