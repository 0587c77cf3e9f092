"""The reference kernels against hand-computed answers and Captum's own window placement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from captum.attr import Occlusion

from saliency_core.kernels import reference as R


@pytest.mark.parametrize(
    ("size", "window", "stride"),
    [((10, 10), (3, 3), (4, 4)), ((7, 5), (7, 2), (1, 3)), ((9, 12), (4, 5), (2, 3)), ((6, 6), (6, 6), (2, 2))],
)
def test_window_grid_matches_captums_shift_count_formula(size, window, stride) -> None:
    current = np.subtract(size, window)
    expected = tuple(int(v) for v in np.add(np.ceil(np.divide(current, stride)).astype(int), 1))
    assert R.window_grid(size, window, stride) == expected


@pytest.mark.parametrize(("size", "window", "stride"), [((9, 7), (4, 3), (3, 2)), ((5, 6), (2, 4), (2, 3))])
def test_occluded_region_is_captums_occlusion_mask(size, window, stride) -> None:
    """Captum numbers features H-fastest; we number row-major: the same windows, reindexed."""
    channels = 2
    ny, nx = R.window_grid(size, window, stride)
    occ = Occlusion(lambda x: x.sum(dim=(1, 2, 3)))
    ones = torch.ones(1, channels, *size)
    covered = 1 - R.occlusion_batch(ones, window, stride, 0.0)  # [ny*nx, C, H, W], 1 inside the window
    for feature in range(ny * nx):
        iy, ix = feature % ny, feature // ny
        captum_mask = occ._occlusion_mask(
            ones, feature, torch.ones(channels, *window), (channels, *stride), (1, ny, nx), False
        )[0]
        assert torch.equal(covered[iy * nx + ix], captum_mask.float())


def test_occlusion_accumulate_hand_computed_overlaps() -> None:
    # 3x3 image, 2x2 windows, stride 1: windows 0..3 at (0,0),(0,1),(1,0),(1,1).
    deltas = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    expected = torch.tensor([[1.0, 1.5, 2.0], [2.0, 2.5, 3.0], [3.0, 3.5, 4.0]])
    assert torch.allclose(R.occlusion_accumulate(deltas, (3, 3), 2, 1)[0], expected)


def test_occlusion_accumulate_leaves_uncovered_pixels_at_zero() -> None:
    # 5 wide, window 1, stride 3: windows at x = 0 and 3 only (clipped grid 1 x 2).
    deltas = torch.tensor([[2.0, -1.0]])
    out = R.occlusion_accumulate(deltas, (1, 5), (1, 1), (1, 3))
    assert torch.equal(out, torch.tensor([[[2.0, 0.0, 0.0, -1.0, 0.0]]]))


def test_last_window_is_clipped_at_the_border() -> None:
    # width 6, window 3, stride 2: ceil(3/2) + 1 = 3 windows at x = 0, 2, 4; the last covers 4..5 only.
    out = R.occlusion_batch(torch.ones(1, 1, 1, 6), (1, 3), (1, 2), 0.0)
    assert out[:, 0, 0].tolist() == [[0, 0, 0, 1, 1, 1], [1, 1, 0, 0, 0, 1], [1, 1, 1, 1, 0, 0]]


@pytest.mark.parametrize(("percent", "pixels", "k"), [(0.5, 224 * 224, 251), (50, 3, 2), (1e-6, 100, 1), (100, 7, 7)])
def test_k_rounds_half_up_and_is_at_least_one(percent, pixels, k) -> None:
    assert R.top_k(percent, pixels) == k


def test_share_is_one_when_every_salient_pixel_is_in_the_box_and_zero_when_none() -> None:
    maps = torch.zeros(2, 10, 10)
    maps[:, 2, 3] = 5.0  # the single top pixel (k = 1 at 1 %)
    boxes = torch.tensor([[3, 2, 4, 3], [0, 0, 3, 10]])  # first contains (y=2, x=3), second does not
    result = R.top_percent(maps, 1.0, boxes)
    assert result.share.tolist() == [1.0, 0.0]
    assert result.count.tolist() == [1, 1]


def test_constant_map_ties_make_every_pixel_salient_and_share_the_area_fraction() -> None:
    maps = torch.full((1, 8, 10), 0.25)
    result = R.top_percent(maps, 0.5, torch.tensor([[0, 0, 5, 4]]), return_mask=True)
    assert result.count.item() == 80 and bool(result.mask.all())
    assert result.share.item() == pytest.approx(20 / 80)


def test_nan_is_never_salient_and_infinities_order_as_extremes() -> None:
    maps = torch.tensor([[[math.nan, math.inf, 1.0, -math.inf]]])
    top = R.top_percent(maps, 25.0, return_mask=True)  # k = 1
    assert top.threshold.item() == math.inf and top.mask.tolist() == [[[False, True, False, False]]]
    everything = R.top_percent(maps, 100.0, return_mask=True)  # k = 4 > 3 non-NaN: smallest of them
    assert everything.threshold.item() == -math.inf and everything.count.item() == 3


def test_all_nan_map_has_nan_threshold_and_share_and_no_salient_pixel() -> None:
    result = R.top_percent(torch.full((1, 3, 3), math.nan), 10.0, torch.tensor([[0, 0, 3, 3]]), return_mask=True)
    assert math.isnan(result.threshold.item()) and math.isnan(result.share.item())
    assert result.count.item() == 0 and not bool(result.mask.any())


def _lowbias32(x: int) -> int:
    """Plain-int lowbias32, independent of the tensor arithmetic in the reference."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_hash32_matches_plain_integer_lowbias32() -> None:
    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xDEADBEEF]
    hashed = R.hash32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert hashed == [_lowbias32(v) for v in values]


def test_gaussian_noise_is_standard_normal_and_seed_dependent() -> None:
    noise = R.gaussian(200_000, seed=3)
    assert abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 1) < 0.01
    assert abs((noise.abs() < 1).float().mean().item() - 0.6827) < 0.005
    assert not torch.equal(R.gaussian(100, 3), R.gaussian(100, 4))
    assert torch.equal(R.gaussian(100, 3), R.gaussian(200, 3)[:100])
