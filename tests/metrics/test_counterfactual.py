"""Counterfactual flip rates, Wilson intervals and the greyscale / hue-shift transforms."""

from __future__ import annotations

import colorsys
import copy

import pytest
import torch
from torch import nn

from saliency_core.metrics import flip_rates, flips, greyscale, hue_shift, wilson_interval


class RedVsGreen(nn.Module):
    """Class 1 when the image is redder than it is green: a pure colour shortcut."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x[:, 0] - x[:, 1]).mean(dim=(1, 2))
        return torch.stack([-score, score], 1)


def test_identity_transform_never_flips() -> None:
    images = torch.rand(10, 3, 8, 8)
    table = flip_rates(RedVsGreen(), images, torch.arange(10) % 2, lambda x: x)
    assert table["rate"].tolist() == [0.0, 0.0]
    assert table["flips"].sum() == 0


def test_a_transform_the_model_keys_on_flips_every_image() -> None:
    images = torch.rand(12, 3, 8, 8) * 0.3
    images[:, 0] += 0.6  # every image clearly red: predicted class 1
    swap_red_green = lambda x: x[:, [1, 0, 2]]  # noqa: E731
    table = flip_rates(RedVsGreen(), images, torch.ones(12, dtype=torch.long), swap_red_green,
                       class_names=["cat", "dog"])
    assert table["class"].tolist() == ["dog"]
    assert table.loc[0, "rate"] == 1.0
    assert flips(RedVsGreen(), images, greyscale).all()  # greyscale: red = green, class 0 wins


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 10, 0.0, 0.27753), (5, 10, 0.23659, 0.76341), (10, 10, 0.72247, 1.0), (1, 4, 0.04559, 0.69936)],
)
def test_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-4)


def test_greyscale_uses_bt601_luma_in_every_channel() -> None:
    image = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    expected = 0.299 + 0.587 * 0.5
    torch.testing.assert_close(greyscale(image), torch.full((1, 3, 1, 1), expected))


def test_hue_shift_matches_colorsys_and_360_degrees_is_identity() -> None:
    images = torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(hue_shift(images, 360.0), images, atol=1e-5, rtol=0)
    shifted = hue_shift(images, 75.0)
    for b, y, x in [(0, 0, 0), (1, 2, 3), (0, 4, 1)]:
        h, s, v = colorsys.rgb_to_hsv(*images[b, :, y, x].tolist())
        expected = colorsys.hsv_to_rgb((h + 75 / 360) % 1.0, s, v)
        torch.testing.assert_close(shifted[b, :, y, x], torch.tensor(expected), atol=1e-5, rtol=0)


def test_bad_images_and_transforms_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="RGB"):
        greyscale(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match="transform must return"):
        flips(RedVsGreen(), torch.rand(2, 3, 8, 8), lambda x: x[:1])
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)


@pytest.mark.parametrize("transform", [greyscale, lambda x: hue_shift(x, 0.0)], ids=["greyscale", "hue_shift"])
def test_transforms_reject_integer_images(transform) -> None:  # noqa: ANN001
    images = (torch.rand(1, 3, 4, 4) * 255).to(torch.uint8)  # 0..255: greyscale gave 0, hue_shift garbage
    with pytest.raises(ValueError, match="images must be floating-point"):
        transform(images)


def test_model_metrics_refuse_integer_images() -> None:
    images = (torch.rand(2, 3, 8, 8) * 255).to(torch.uint8)  # 0..255: no agreed scale
    with pytest.raises(ValueError, match="images must be floating-point.*uint8"):
        flips(RedVsGreen(), images, lambda x: x)
    with pytest.raises(ValueError, match="images must be floating-point"):
        flip_rates(RedVsGreen(), images, torch.tensor([0, 1]), lambda x: x)


def test_model_metrics_take_the_float_dtype_the_model_takes() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 2))
    images = torch.rand(6, 3, 8, 8, dtype=torch.float64)
    model = copy.deepcopy(linear).double()
    with torch.no_grad():
        expected = model(images).argmax(1) != model(images.flip(1)).argmax(1)
    assert torch.equal(flips(model, images, lambda x: x.flip(1)), expected)
    with pytest.raises(ValueError, match=r"model failed on torch\.float64 images"):
        flips(linear, images, lambda x: x)  # float64 into a float32 model: named, not a RuntimeError


def test_flip_rates_of_a_model_in_training_mode_runs_no_extra_pass() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 16), torch.nn.BatchNorm1d(16),
                                torch.nn.ReLU(), torch.nn.Linear(16, 2)).train()
    flip_rates(model, torch.rand(6, 3, 8, 8), torch.tensor([0, 1] * 3), lambda x: x.flip(1))
    assert int(model[2].num_batches_tracked) == 2  # the clean and the transformed batch, nothing else


@pytest.mark.parametrize("labels", [[-1, 0], [0, 2]])
def test_flip_rates_rejects_labels_outside_the_models_classes(labels: list[int]) -> None:
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 2\)"):
        flip_rates(RedVsGreen(), torch.rand(2, 3, 8, 8), torch.tensor(labels), lambda x: x,
                   class_names=["cat", "dog"])


def test_flip_rates_rejects_labels_without_a_class_name() -> None:
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 1\) .*class_names"):
        flip_rates(RedVsGreen(), torch.rand(2, 3, 8, 8), torch.tensor([0, 1]), lambda x: x, class_names=["cat"])


def test_flip_rates_rejects_non_integer_labels() -> None:
    with pytest.raises(ValueError, match="labels must be integer"):
        flip_rates(RedVsGreen(), torch.rand(2, 3, 8, 8), torch.tensor([0.0, 0.5]), lambda x: x)
    with pytest.raises(ValueError, match="labels must be integer"):
        flip_rates(RedVsGreen(), torch.rand(2, 3, 8, 8), torch.tensor([0.0, float("nan")]), lambda x: x)
