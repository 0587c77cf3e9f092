"""top_percent_share against hand-built maps with known answers and a naive sort-based oracle; it
refuses regions that select no pixel, as ``region_masks`` does."""

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


def naive_share(m: torch.Tensor, box: tuple[int, int, int, int], percent: float) -> float:
    flat = m.flatten()
    k = max(1, int(percent / 100 * flat.numel() + 0.5))
    threshold = flat.sort(descending=True).values[k - 1]
    salient = m >= threshold
    x0, y0, x1, y1 = box
    inside = salient[y0:y1, x0:x1].sum()
    return float(inside) / float(salient.sum())


def test_all_top_pixels_inside_the_box_give_one():
    maps = torch.zeros(1, 40, 40)
    maps[0, 30:38, 2:10] = torch.rand(8, 8) + 1  # 64 hot pixels, more than the top 0.5% (8)
    assert top_percent_share(maps, torch.tensor([[0, 28, 12, 40]])).item() == 1.0


def test_no_top_pixels_inside_the_box_give_zero():
    maps = torch.rand(1, 40, 40)
    maps[0, :5, :5] += 10
    assert top_percent_share(maps, torch.tensor([[20, 20, 40, 40]])).item() == 0.0


def test_half_the_top_pixels_inside_gives_one_half():
    maps = torch.zeros(1, 20, 20)  # top 5% of 400 = 20 pixels
    maps[0, 0, :10] = torch.arange(10, 20).float()  # 10 inside the box
    maps[0, 19, :10] = torch.arange(20, 30).float()  # 10 outside
    assert top_percent_share(maps, torch.tensor([[0, 0, 20, 5]]), percent=5).item() == pytest.approx(0.5)


def test_mask_region_equals_box_region():
    maps = torch.rand(4, 32, 32)
    boxes = torch.tensor([[0, 0, 16, 16], [3, 5, 30, 9], [10, 10, 11, 11], [0, 20, 32, 32]])
    masks = torch.zeros(4, 32, 32, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        masks[i, y0:y1, x0:x1] = True
    torch.testing.assert_close(top_percent_share(maps, boxes, 3.0), top_percent_share(maps, masks, 3.0))


@pytest.mark.parametrize("percent", [0.5, 2.0, 10.0, 100.0])
def test_matches_a_naive_sort_on_random_maps(percent):
    gen = torch.Generator().manual_seed(3)
    maps = torch.rand(6, 37, 29, generator=gen)
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 29, 37], [0, 30, 29, 37], [12, 3, 20, 30], [0, 0, 29, 37], [7, 7, 8, 8]])
    ours = top_percent_share(maps, boxes, percent)
    expected = torch.tensor([naive_share(m, tuple(b), percent) for m, b in zip(maps, boxes.tolist())])
    torch.testing.assert_close(ours, expected)


def test_missing_region_and_bad_percent_are_value_errors():
    with pytest.raises(ValueError, match="region"):
        top_percent_share(torch.rand(1, 8, 8), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="percent"):
        top_percent_share(torch.rand(1, 8, 8), torch.tensor([[0, 0, 4, 4]]), percent=0)
