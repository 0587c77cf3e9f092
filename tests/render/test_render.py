"""The library renderer (saliency_core.render), checked against hand computations and published colours.

References are independent of the code: ColorBrewer/matplotlib colours at the ramp ends and middle,
the blending formula at alpha 0 and 1, and pixel counts of drawn shapes.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from saliency_core import cell_grid
from saliency_core.render import (
    colorize,
    draw_box,
    grid_overlay,
    heatmap,
    normalise_map,
    overlay,
    puor_rgb,
    scale_map,
    to_uint8,
    to_uint8_image,
)

INFERNO_BLACK = (0, 0, 4)          # matplotlib inferno(0.0)
INFERNO_YELLOW = (252, 255, 164)   # matplotlib inferno(1.0)
RDBU_BLUE, WHITE, RDBU_RED = (33, 102, 172), (247, 247, 247), (178, 24, 43)  # ColorBrewer RdBu ends/middle
PUOR_ORANGE, PUOR_PURPLE = (0x7F, 0x3B, 0x08), (0x2D, 0x00, 0x4B)           # ColorBrewer PuOr-11 ends


# ------------------------------------------------------------------------------ images and scaling
def test_to_uint8_reads_channels_first_channels_last_and_gray_the_same_way() -> None:
    hwc = np.zeros((2, 4, 3), np.float32)
    hwc[0, 1] = (1.0, 0.5, 0.0)
    expected = np.zeros((2, 4, 3), np.uint8)
    expected[0, 1] = (255, 128, 0)  # 0.5 * 255 = 127.5 rounds up
    assert np.array_equal(to_uint8(hwc), expected)
    assert np.array_equal(to_uint8(torch.from_numpy(hwc).permute(2, 0, 1)), expected)
    assert np.array_equal(to_uint8_image(torch.from_numpy(hwc).permute(2, 0, 1)), expected)
    assert np.array_equal(to_uint8(np.full((2, 4), 2.0)), np.full((2, 4, 3), 255, np.uint8))  # clipped
    assert np.array_equal(to_uint8(np.full((2, 4), np.nan)), np.zeros((2, 4, 3), np.uint8))
    assert to_uint8(expected) is not None and np.array_equal(to_uint8(expected), expected)  # uint8 kept


def test_normalise_map_divides_by_the_clip_percentile_and_ignores_nan() -> None:
    values = torch.arange(100, dtype=torch.float32).view(10, 10)
    values[0, 0] = float("nan")
    out = normalise_map(values, clip_percentile=50)
    top = float(torch.quantile(torch.nan_to_num(values, nan=0.0).flatten(), 0.5))
    assert out[0, 0] == 0.0
    assert out[0, 1] == pytest.approx(1 / top)
    assert out.max() == 1.0


def test_normalise_map_scales_magnitudes_so_negative_evidence_shows_too() -> None:
    assert np.allclose(normalise_map(torch.tensor([[-2.0, 1.0, 0.0, 2.0]]), clip_percentile=100), [[1, 0.5, 0, 1]])


def test_scale_map_maps_the_clip_percentile_to_one_and_negatives_to_zero() -> None:
    m = np.array([[-3.0, 0.0, 1.0, 2.0, 4.0]])
    assert np.allclose(scale_map(m, clip_percentile=100), [[0, 0, 0.25, 0.5, 1]])


def test_signed_scale_map_puts_zero_at_one_half_and_the_largest_magnitude_at_the_ends() -> None:
    m = np.array([[-4.0, -2.0, 0.0, 1.0, 4.0]])
    assert np.allclose(scale_map(m, signed=True, clip_percentile=100), [[0, 0.25, 0.5, 0.625, 1]])


def test_a_sparse_map_is_scaled_by_its_maximum_instead_of_drawing_blank() -> None:
    m = np.zeros((20, 20), np.float32)
    m[3, 4] = 5.0  # one pixel in 400: the 99.5th percentile is 0
    out = scale_map(m)
    assert out[3, 4] == 1.0 and out.sum() == 1.0
    assert scale_map(-m, signed=True)[3, 4] == 0.0


def test_an_empty_or_all_zero_map_scales_to_zero_or_to_the_signed_middle() -> None:
    assert not scale_map(np.zeros((4, 4))).any()
    assert np.all(scale_map(np.zeros((4, 4)), signed=True) == 0.5)
    assert np.all(scale_map(np.full((4, 4), np.inf)) == 0.0)


# ------------------------------------------------------------------------------ colour ramps
def test_saliency_ramp_runs_from_inferno_black_to_inferno_yellow() -> None:
    ends = colorize(np.array([[0.0, 1.0]]), prescaled=True)
    assert tuple(ends[0, 0]) == INFERNO_BLACK and tuple(ends[0, 1]) == INFERNO_YELLOW
    middle = colorize(np.array([[0.5]]), prescaled=True)[0, 0].astype(int)
    assert np.abs(middle - (188, 55, 84)).max() <= 4  # matplotlib inferno(0.5)


def test_saliency_ramp_gets_brighter_as_saliency_grows() -> None:
    rgb = colorize(np.linspace(0, 1, 256)[None], prescaled=True)[0].astype(np.float64)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) >= 0)


def test_signed_ramp_is_blue_for_negative_white_at_zero_and_red_for_positive() -> None:
    rgb = colorize(np.array([[-1.0, 0.0, 1.0]]), "signed")
    assert [tuple(c) for c in rgb[0]] == [RDBU_BLUE, WHITE, RDBU_RED]


def test_puor_ramp_is_orange_for_cat_neutral_in_the_middle_and_purple_for_dog() -> None:
    rgb = colorize(np.array([[0.0, 0.5, 1.0, np.nan]]), "puor")
    assert [tuple(c) for c in rgb[0]] == [PUOR_ORANGE, WHITE, PUOR_PURPLE, WHITE]
    assert np.array_equal((puor_rgb(1.0) + 0.5).astype(np.uint8), PUOR_PURPLE)


def test_puor_values_are_probabilities_and_are_never_rescaled() -> None:
    low = np.full((3, 3), 0.1)  # a constant map would scale to 1 (purple) if it were rescaled
    assert np.all(colorize(low, "puor") == (0xB3, 0x58, 0x06))  # 0.1 is the 2nd of 11 PuOr stops


def test_puor_ramp_matches_matplotlib_puor_within_three_levels() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    t = np.linspace(0, 1, 101)
    reference = matplotlib.colormaps["PuOr"](t)[:, :3] * 255
    assert np.abs(colorize(t[None], "puor")[0] - reference).max() <= 3


def test_an_unknown_colour_map_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown cmap 'jet'"):
        colorize(np.zeros((2, 2)), "jet")


def test_heatmap_is_the_saliency_ramp_and_still_takes_an_opencv_colormap() -> None:
    m = torch.tensor([[0.0, 1.0]])
    assert [tuple(c) for c in heatmap(m)[0]] == [INFERNO_BLACK, INFERNO_YELLOW]
    gray = heatmap(m, cv2.COLORMAP_BONE)  # OpenCV's bone runs black → white
    assert tuple(gray[0, 0]) == (0, 0, 0) and tuple(gray[0, 1]) == (255, 255, 255)


# ------------------------------------------------------------------------------ overlays
def test_alpha_zero_overlay_is_the_image_and_alpha_one_is_the_heatmap() -> None:
    image = torch.rand(3, 8, 8)
    saliency = torch.rand(8, 8)
    assert np.array_equal(overlay(image, saliency, 0.0), to_uint8_image(image))
    assert np.array_equal(overlay(image, saliency, 1.0), heatmap(saliency))
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, saliency, 1.5)


def test_overlay_blends_the_map_colour_over_the_image_by_alpha() -> None:
    grey = np.full((6, 6, 3), 100, np.uint8)
    constant = np.ones((6, 6))  # scales to 1 everywhere: inferno yellow
    expected = (0.25 * 100 + 0.75 * np.array(INFERNO_YELLOW) + 0.5).astype(np.uint8)
    assert np.all(overlay(grey, constant, alpha=0.75) == expected)


def test_a_smaller_map_is_stretched_over_the_whole_image() -> None:
    picture = overlay(np.zeros((3, 16, 16)), np.ones((4, 4)), alpha=1.0)
    assert picture.shape == (16, 16, 3) and np.all(picture == INFERNO_YELLOW)


def test_channel_attributions_add_magnitudes_unless_the_map_is_signed() -> None:
    cancelling = np.stack([np.ones((4, 4)), -np.ones((4, 4))])  # channels of opposite sign
    assert np.all(overlay(np.zeros((4, 4, 3)), cancelling, 1.0) == INFERNO_YELLOW)
    assert np.all(overlay(np.zeros((4, 4, 3)), cancelling, 1.0, cmap="signed") == WHITE)


@pytest.mark.parametrize("n", [6, 17, 18])
def test_each_grid_cell_is_one_colour_and_neighbours_differ(n: int) -> None:
    grid = cell_grid(n, 128)
    values = np.arange(n * n, dtype=np.float32).reshape(n, n) / (n * n - 1)
    white = np.full((384, 384, 3), 255, np.uint8)  # the 128-px frame shown 3x larger
    picture = grid_overlay(white, values, alpha=1.0, edges=grid.col_edges, frame=128)
    for cell in range(n * n):
        x0, y0, x1, y1 = grid.rect(cell)
        # the cell's displayed pixels, less its first row and column (grid lines darken those)
        unique = np.unique(picture[3 * y0 + 1:3 * y1, 3 * x0 + 1:3 * x1].reshape(-1, 3), axis=0)
        assert len(unique) == 1, f"cell {cell} shows {len(unique)} colours"
        # ... and it is its own value's colour (a swapped or transposed grid would fail here)
        expected = (puor_rgb(values[cell // n, cell % n]) + 0.5).astype(np.uint8)
        assert np.abs(unique[0].astype(int) - expected.astype(int)).max() <= 1, cell


def test_grid_edges_that_do_not_match_the_values_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="cell edges"):
        grid_overlay(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4)), edges=[0, 4, 8], frame=8)


def test_grid_cells_show_the_puor_colour_of_their_value_and_lines_darken_the_first_pixels() -> None:
    values = np.array([[0.0, 1.0], [0.5, 0.5]])
    picture = grid_overlay(np.zeros((8, 8, 3), np.uint8), values, alpha=1.0)
    assert tuple(picture[1, 1]) == PUOR_ORANGE and tuple(picture[1, 5]) == PUOR_PURPLE
    assert tuple(picture[5, 1]) == WHITE
    # column 4 starts the second cell: its pixels are shaded to 70%
    assert np.abs(picture[1, 4].astype(float) - 0.7 * np.array(PUOR_PURPLE)).max() <= 1


def test_grid_overlay_alpha_zero_is_the_image_apart_from_the_grid_lines() -> None:
    image = np.full((8, 8, 3), 200, np.uint8)
    picture = grid_overlay(image, np.zeros((2, 2)), alpha=0.0)
    inner = np.ones((8, 8), bool)
    inner[4, :] = inner[:, 4] = False
    line = ~inner
    line[4, 4] = False  # the crossing is shaded twice: 200 · 0.7 · 0.7
    assert np.all(picture[inner] == 200) and np.all(picture[line] == 140) and np.all(picture[4, 4] == 98)
    with pytest.raises(ValueError, match="alpha"):
        grid_overlay(image, np.zeros((2, 2)), alpha=-0.1)


def test_draw_box_outlines_only_the_border() -> None:
    picture = np.zeros((10, 10, 3), np.uint8)
    out = draw_box(picture, (2, 3, 6, 8))
    drawn = out.any(axis=2)
    assert drawn[3, 2:6].all() and drawn[7, 2:6].all() and drawn[3:8, 2].all() and drawn[3:8, 5].all()
    assert not drawn[4:7, 3:5].any() and drawn.sum() == 2 * 4 + 2 * 3
    assert not picture.any()  # the input is not modified


def test_draw_box_thickness_grows_inward_only() -> None:
    picture = np.zeros((12, 12, 3), np.uint8)
    drawn = draw_box(picture, (2, 2, 10, 10), thickness=2).any(axis=2)
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:8, 4:8] = False  # two rings of the 8×8 box: outer 2..9, inner 3..8
    assert np.array_equal(drawn, ring)
    with pytest.raises(ValueError, match="thickness"):
        draw_box(picture, (2, 2, 10, 10), thickness=0)


@pytest.mark.parametrize("saliency", [torch.rand(16), torch.rand(0, 0), torch.rand(3, 0, 8), torch.rand(1, 3, 8, 8),
                                      np.float32(1.0)])
def test_overlay_refuses_a_map_that_is_not_one_non_empty_map(saliency) -> None:
    with pytest.raises(ValueError, match="saliency"):
        overlay(torch.rand(3, 8, 8), saliency)


@pytest.mark.parametrize("image", [np.random.rand(8, 8, 4), np.random.rand(8), np.random.rand(1, 1, 8, 8, 3),
                                   np.random.rand(2, 3, 8, 8), np.zeros((0, 0, 3)), np.zeros((3, 0, 5))])
def test_to_uint8_refuses_anything_but_one_picture(image) -> None:
    with pytest.raises(ValueError, match="image"):
        to_uint8(image)
    with pytest.raises(ValueError, match="image"):
        overlay(image, np.ones((8, 8)))


@pytest.mark.parametrize("image", [np.full((8, 8, 3), 100, np.int64), np.full((8, 8, 3), 30000, np.uint16),
                                   torch.full((3, 8, 8), 100, dtype=torch.int64)])
def test_integer_pixels_other_than_uint8_are_refused_rather_than_drawn_white(image) -> None:
    with pytest.raises(ValueError, match="image must be float in \\[0, 1\\] or uint8"):
        to_uint8(image)


def test_uint8_pixels_pass_through_unchanged_from_arrays_and_tensors() -> None:
    pixels = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    assert np.array_equal(to_uint8(pixels), pixels)
    assert np.array_equal(to_uint8(torch.from_numpy(pixels).permute(2, 0, 1)), pixels)  # not read as [0, 1]


def test_grid_overlay_refuses_values_that_are_not_one_non_empty_grid() -> None:
    for values in (np.zeros(4), np.zeros((0, 0)), np.zeros((2, 2, 2))):
        with pytest.raises(ValueError, match="values"):
            grid_overlay(np.zeros((8, 8, 3), np.uint8), values)


@pytest.mark.parametrize("mask", [np.eye(5, dtype=np.int64), torch.eye(5, dtype=torch.long)])
def test_integer_zero_one_masks_render_black_and_white(mask) -> None:
    out = to_uint8(mask)
    expected = np.repeat((np.eye(5) * 255).astype(np.uint8)[..., None], 3, axis=-1)
    assert np.array_equal(out, expected)
