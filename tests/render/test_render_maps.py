"""White-on-black maps, the signed cat/dog ramp and colour bars (saliency_core.render)."""

from __future__ import annotations

import numpy as np
import pytest

from saliency_core.render import PUOR_HEX, colorize, colour_bar, greyscale_map, overlay

BLACK, WHITE = (0, 0, 0), (255, 255, 255)
PUOR_ORANGE_END = tuple(int(PUOR_HEX[0][i:i + 2], 16) for i in (1, 3, 5))  # #7f3b08
PUOR_PURPLE_END = tuple(int(PUOR_HEX[-1][i:i + 2], 16) for i in (1, 3, 5))  # #2d004b
PUOR_MIDDLE = (0xF7, 0xF7, 0xF7)


def test_greyscale_map_is_white_on_black() -> None:
    m = np.zeros((4, 4), np.float32)
    m[1, 2] = 5.0
    m[3, 3] = -5.0  # negative = no evidence
    out = greyscale_map(m, clip_percentile=100)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert tuple(out[1, 2]) == WHITE and tuple(out[0, 0]) == BLACK and tuple(out[3, 3]) == BLACK
    half = greyscale_map(np.array([[1.0, 2.0]]), clip_percentile=100)
    assert tuple(half[0, 0]) == (128, 128, 128)  # linear grey: 0.5 * 255 rounds to 128
    assert np.all(half[..., 0] == half[..., 1])


def test_greyscale_map_of_attributions_sums_magnitudes() -> None:
    a = np.zeros((3, 2, 2), np.float32)
    a[0, 0, 0], a[1, 0, 0] = 1.0, -1.0  # |1| + |-1| = 2, the largest
    a[2, 1, 1] = 1.0
    out = greyscale_map(a, clip_percentile=100)
    assert tuple(out[0, 0]) == WHITE and tuple(out[1, 1]) == (128, 128, 128)
    with pytest.raises(ValueError, match="saliency"):
        greyscale_map(np.zeros((2, 2, 2, 2)))


def test_puor_signed_is_orange_for_positive_and_purple_for_negative() -> None:
    out = colorize(np.array([[1.0, 0.0, -1.0]]), "puor_signed")
    assert tuple(out[0, 0]) == PUOR_ORANGE_END
    assert tuple(out[0, 1]) == PUOR_MIDDLE
    assert tuple(out[0, 2]) == PUOR_PURPLE_END


def test_overlay_keeps_the_sign_with_the_signed_puor_ramp() -> None:
    attributions = np.zeros((3, 1, 2), np.float32)
    attributions[:, 0, 0], attributions[:, 0, 1] = 1.0, -1.0
    out = overlay(np.zeros((1, 2, 3), np.uint8), attributions, alpha=1.0, cmap="puor_signed")
    assert tuple(out[0, 0]) == PUOR_ORANGE_END and tuple(out[0, 1]) == PUOR_PURPLE_END


def test_colour_bar_runs_from_low_to_high() -> None:
    bar = colour_bar(100, "grey", thickness=5)
    assert bar.shape == (5, 100, 3) and bar.dtype == np.uint8
    assert bar[0, 0, 0] < 5 and bar[0, -1, 0] > 250  # black on the left, white on the right
    assert np.all(np.diff(bar[0, :, 0].astype(int)) >= 0) and np.all(bar == bar[:1])
    upright = colour_bar(100, "grey", thickness=5, vertical=True)
    assert upright.shape == (100, 5, 3) and upright[0, 0, 0] > 250 and upright[-1, 0, 0] < 5  # high on top
    signed = colour_bar(101, "puor_signed", thickness=1)
    assert tuple(signed[0, 50]) == PUOR_MIDDLE  # zero in the middle
    assert signed[0, 0, 2] > signed[0, 0, 0] and signed[0, -1, 0] > signed[0, -1, 2]  # purple left, orange right


@pytest.mark.parametrize(("length", "cmap"), [(0, "grey"), (10, "rainbow")])
def test_colour_bar_bad_arguments(length: int, cmap: str) -> None:
    with pytest.raises(ValueError):
        colour_bar(length, cmap)
