"""saliency_core.render.share: the share picture marks the pixels the region share counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency_core.metrics import top_percent_share
from saliency_core.render import share_picture, top_pixels
from saliency_core.render.share import BOX_COLOUR, TOP_COLOUR


def test_top_pixels_are_the_largest_values_and_never_nan() -> None:
    a = np.arange(400, dtype=np.float32).reshape(20, 20)
    a[19, 19] = np.nan  # would be the largest
    top = top_pixels(a, 1.0)  # k = 4
    expected = np.zeros_like(top)
    expected[19, 15:19] = True
    np.testing.assert_array_equal(top, expected)


def test_attributions_are_summed_magnitudes() -> None:
    rng = np.random.default_rng(3)
    attributions = rng.standard_normal((3, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(top_pixels(attributions, 5.0), top_pixels(np.abs(attributions).sum(0), 5.0))


def test_the_box_is_clipped_and_the_share_readable_from_the_picture() -> None:
    rng = np.random.default_rng(5)
    saliency = rng.random((32, 32)).astype(np.float32)
    box = (20, 24, 40, 40)  # sticks out right and bottom: drawn up to the edge
    picture = share_picture(saliency, box, 2.0, scale=2)
    assert picture.shape == (64, 64, 3)
    assert np.all(picture[48, 40:64] == BOX_COLOUR) and np.all(picture[48:64, 40] == BOX_COLOUR)
    assert np.all(picture[48:64, 63] == BOX_COLOUR)  # the clipped right edge
    top = top_pixels(saliency, 2.0)
    share = float(top_percent_share(torch.from_numpy(saliency)[None], torch.tensor([box]), 2.0))
    assert share == pytest.approx(top[24:, 20:].sum() / top.sum())
    orange = np.all(picture[::2, ::2] == TOP_COLOUR, axis=-1)
    assert orange.sum() <= top.sum() and not (orange & ~top).any()


@pytest.mark.parametrize("bad", [{"scale": 0}, {"box": (40, 40, 50, 50)}, {"box": (5, 5, 5, 9)}])
def test_bad_arguments_are_named(bad: dict) -> None:
    kwargs = {"box": (0, 0, 4, 4), **bad}
    box = kwargs.pop("box")
    with pytest.raises(ValueError, match="scale|box"):
        share_picture(np.ones((16, 16), np.float32), box, **kwargs)
