"""Adebayo et al. sanity checks: similarities and model/data randomisation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from saliency_core.metrics import (
    cascading_randomisation,
    data_randomisation,
    hog_similarity,
    independent_randomisation,
    randomisable_layers,
    spaced_layers,
    spearman,
    ssim,
)


def vanilla_gradient(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """max |d logit_0 / dx| over channels, by torch.autograd.grad (independent of the methods)."""
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    return grad.abs().amax(1)


def test_identical_maps_have_similarity_one() -> None:
    maps = torch.rand(3, 16, 16)
    for value in (spearman(maps, maps), spearman(maps, maps, absolute=True), ssim(maps, maps),
                  hog_similarity(maps, maps)):
        np.testing.assert_allclose(value, 1.0, atol=1e-6)


def test_spearman_matches_scipy_per_image_including_abs() -> None:
    a, b = torch.randn(4, 9, 9), torch.randn(4, 9, 9)
    for i in range(4):
        x, y = a[i].flatten().numpy(), b[i].flatten().numpy()
        assert spearman(a, b)[i] == pytest.approx(stats.spearmanr(x, y).statistic)
        assert spearman(a, b, absolute=True)[i] == pytest.approx(
            stats.spearmanr(np.abs(x), np.abs(y)).statistic)


def test_negated_map_has_spearman_minus_one_but_abs_spearman_one() -> None:
    a = torch.randn(1, 8, 8)
    assert spearman(a, -a)[0] == pytest.approx(-1.0)
    assert spearman(a, -a, absolute=True)[0] == pytest.approx(1.0)


def test_unrelated_maps_have_low_similarity() -> None:
    a, b = torch.rand(8, 32, 32), torch.rand(8, 32, 32)
    assert abs(spearman(a, b).mean()) < 0.1
    assert ssim(a, b).mean() < 0.2


def test_layers_are_listed_top_down(tiny_cnn: nn.Module) -> None:
    assert randomisable_layers(tiny_cnn) == ["head", "conv3", "conv2", "bn1", "conv1"]


def test_vanilla_gradient_maps_decorrelate_as_layers_are_randomised(tiny_cnn: nn.Module) -> None:
    images = torch.rand(6, 3, 16, 16)
    before = copy.deepcopy(tiny_cnn.state_dict())
    table = cascading_randomisation(tiny_cnn, images, vanilla_gradient, seed=0)
    assert len(table) == 5 * 6
    # Unrandomised, every similarity is 1 (test_identical_maps...); from the first randomised
    # layer on, the gradient maps keep little rank agreement or structure with the original.
    per_step = table.groupby("step")[["spearman_abs", "ssim", "hog"]].mean()
    assert (per_step < 0.5).all().all(), per_step
    for name, value in tiny_cnn.state_dict().items():  # the user's model is untouched
        assert torch.equal(value, before[name]), name


def test_randomisation_is_reproducible_with_a_seed(tiny_cnn: nn.Module) -> None:
    images = torch.rand(2, 3, 16, 16)
    a = independent_randomisation(tiny_cnn, images, vanilla_gradient, seed=5)
    b = independent_randomisation(tiny_cnn, images, vanilla_gradient, seed=5)
    assert a.equals(b)
    assert sorted(a["layer"].unique()) == sorted(randomisable_layers(tiny_cnn))


def test_data_randomisation_of_a_model_against_itself_is_one(tiny_cnn: nn.Module) -> None:
    images = torch.rand(3, 3, 16, 16)
    table = data_randomisation(tiny_cnn, copy.deepcopy(tiny_cnn), images, vanilla_gradient)
    assert table["test"].eq("data").all() and len(table) == 3
    np.testing.assert_allclose(table[["spearman", "spearman_abs", "ssim", "hog"]], 1.0, atol=1e-6)


def test_bad_input_raises_value_error(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="batch sizes differ"):
        ssim(torch.rand(2, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        spearman(torch.full((1, 8, 8), float("nan")), torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(torch.rand(1, 4, 4), torch.rand(1, 4, 4))
    with pytest.raises(ValueError, match="unknown or non-randomisable"):
        cascading_randomisation(tiny_cnn, torch.rand(1, 3, 16, 16), vanilla_gradient, layers=["relu"])


def test_measuring_at_some_layers_keeps_the_full_cascade(tiny_cnn: nn.Module) -> None:
    images = torch.rand(2, 3, 16, 16)
    every = cascading_randomisation(tiny_cnn, images, vanilla_gradient, seed=3)
    layers = randomisable_layers(tiny_cnn)
    some = cascading_randomisation(tiny_cnn, images, vanilla_gradient, seed=3, measure_at=[layers[1], layers[-1]])
    # the same rows as the full cascade at those steps: the layers in between were randomised too
    expected = every[every["layer"].isin([layers[1], layers[-1]])].reset_index(drop=True)
    assert some.reset_index(drop=True).equals(expected)
    with pytest.raises(ValueError, match="measure_at"):
        cascading_randomisation(tiny_cnn, images, vanilla_gradient, layers=layers[:1], measure_at=[layers[-1]])


def test_spaced_layers_run_from_the_top_to_the_bottom(tiny_cnn: nn.Module) -> None:
    layers = randomisable_layers(tiny_cnn)
    assert spaced_layers(tiny_cnn, len(layers) + 3) == layers
    two = spaced_layers(tiny_cnn, 2)
    assert two == [layers[0], layers[-1]]
