"""Heatmap rendering: normalisation, blending weights and boxes, checked against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saliency_core.render import draw_box, heatmap, normalise_map, overlay, to_uint8_image


def test_normalise_map_divides_by_the_clip_percentile_and_ignores_nan():
    values = torch.arange(100, dtype=torch.float32).view(10, 10)
    values[0, 0] = float("nan")
    out = normalise_map(values, clip_percentile=50)
    top = float(torch.quantile(torch.nan_to_num(values, nan=0.0).flatten(), 0.5))
    assert out[0, 0] == 0.0
    assert out[0, 1] == pytest.approx(1 / top)
    assert out.max() == 1.0


def test_alpha_zero_overlay_is_the_image_and_alpha_one_is_the_heatmap():
    image = torch.rand(3, 8, 8)
    saliency = torch.rand(8, 8)
    assert np.array_equal(overlay(image, saliency, 0.0), to_uint8_image(image))
    assert np.array_equal(overlay(image, saliency, 1.0), heatmap(saliency))
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, saliency, 1.5)


def test_draw_box_outlines_only_the_border():
    picture = np.zeros((10, 10, 3), np.uint8)
    out = draw_box(picture, (2, 3, 6, 8))
    drawn = out.any(axis=2)
    assert drawn[3, 2:6].all() and drawn[7, 2:6].all() and drawn[3:8, 2].all() and drawn[3:8, 5].all()
    assert not drawn[4:7, 3:5].any() and drawn.sum() == 2 * 4 + 2 * 3
    assert not picture.any()  # the input is not modified
