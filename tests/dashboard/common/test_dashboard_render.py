"""The dashboard draws with the library's renderer (the grid picture, overlays, the share picture).

The renderer's own properties (uneven grids included) are tested in tests/io/test_render.py; these
check the dashboard's entry points are the library's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import saliency_core.render as library
from dashboard.common import render
from saliency_core.metrics import top_percent_share


@pytest.mark.parametrize("name", ["to_uint8", "scale_map", "colorize", "overlay", "grid_overlay"])
def test_the_dashboards_numerics_are_the_librarys(name: str) -> None:
    assert getattr(render, name) is getattr(library, name)


# ------------------------------------------------------------------ the region share drawn


def naive_top(saliency: np.ndarray, percent: float) -> np.ndarray:
    """The top-percent pixels by the metric's rule, in plain numpy: k = max(1, floor(p/100·N + 0.5))
    largest values, every pixel tied with the k-th included."""
    k = max(1, int(np.floor(percent / 100 * saliency.size + 0.5)))
    threshold = np.sort(saliency.ravel())[::-1][k - 1]
    return saliency >= threshold


def naive_share_picture(saliency: np.ndarray, box: tuple[int, int, int, int], percent: float,
                        scale: int) -> np.ndarray:
    """The expected picture: grey map, top pixels orange, the box's border pixels cyan, blown up."""
    pic = library.greyscale_map(saliency).copy()
    pic[naive_top(saliency, percent)] = TOP
    x0, y0, x1, y1 = box
    border = np.zeros(saliency.shape, bool)
    border[y0:y1, x0:x1] = True
    border[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = False
    pic[border] = render.BOX_COLOUR
    return np.repeat(np.repeat(pic, scale, axis=0), scale, axis=1)


TOP = (255, 64, 0)


@pytest.mark.parametrize("percent", [0.5, 2.0, 10.0])
def test_share_picture_draws_the_box_and_exactly_the_top_pixels(percent: float) -> None:
    rng = np.random.default_rng(7)
    saliency = rng.random((48, 64)).astype(np.float32) ** 3
    box = (5, 30, 40, 44)
    picture = render.share_picture(saliency, box, percent, size=192)  # 64 px wide -> 3x blocks
    assert picture.shape == (144, 192, 3) and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture, naive_share_picture(saliency, box, percent, 3))
    # the orange pixels off the box's border are exactly the top pixels there
    orange = np.all(picture[::3, ::3] == TOP, axis=-1)
    border = np.all(picture[::3, ::3] == render.BOX_COLOUR, axis=-1)
    np.testing.assert_array_equal(orange, naive_top(saliency, percent) & ~border)
    # and they are the pixels the metric counts
    top = library.top_pixels(saliency, percent)
    np.testing.assert_array_equal(top, naive_top(saliency, percent))
    share = top_percent_share(torch.from_numpy(saliency)[None], torch.tensor([box]), percent)
    assert float(share) == pytest.approx(top[30:44, 5:40].sum() / top.sum())


def test_share_picture_counts_ties_as_the_metric_does() -> None:
    saliency = np.zeros((20, 20), np.float32)
    saliency[:5, :] = 1.0  # 100 tied maxima; the top 0.5% (k = 2) includes all of them
    top = library.top_pixels(saliency, 0.5)
    assert top.sum() == 100
    np.testing.assert_array_equal(top, naive_top(saliency, 0.5))
    picture = render.share_picture(saliency, None, 0.5, size=20)
    assert np.all(picture[:5] == TOP) and np.all(picture[5:] == 0)


def test_share_picture_rejects_a_box_off_the_map() -> None:
    with pytest.raises(ValueError, match="box"):
        render.share_picture(np.ones((8, 8), np.float32), (10, 10, 12, 12))
