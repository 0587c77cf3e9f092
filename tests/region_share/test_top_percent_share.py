"""top_percent_share against hand-built maps with known answers and a naive sort-based oracle."""

from __future__ import annotations

import pytest
import torch

from saliency_core.metrics import top_percent_share


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
