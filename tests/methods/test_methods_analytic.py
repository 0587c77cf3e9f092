"""Methods on models with closed-form answers: a linear model and a sum of squares."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from saliency_core.methods import explain

from method_models import SHAPE, Linear

# Relative tolerance of float32 sums over a few hundred terms.
TOL = {"atol": 1e-5, "rtol": 1e-4}


def batch(n: int = 2) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(5))


def test_vanilla_gradient_of_linear_model_is_the_weight_row(linear_model: Linear) -> None:
    x = batch()
    exp = explain(linear_model, x, "vanilla_gradient", target=[0, 2])
    torch.testing.assert_close(exp.attributions[0], linear_model.weights(0))
    torch.testing.assert_close(exp.attributions[1], linear_model.weights(2))
    torch.testing.assert_close(exp.maps[1], linear_model.weights(2).abs().amax(dim=0))


def test_gradient_squared_of_linear_model_is_the_squared_weights(linear_model: Linear) -> None:
    exp = explain(linear_model, batch(), "gradient_squared", target=1)
    expected = linear_model.weights(1).square()
    torch.testing.assert_close(exp.attributions[0], expected)
    torch.testing.assert_close(exp.maps[0], expected.amax(dim=0))


def test_gradient_x_input_of_linear_model_is_weights_times_input(linear_model: Linear) -> None:
    x = batch()
    exp = explain(linear_model, x, "gradient_x_input", target=1)
    torch.testing.assert_close(exp.attributions, linear_model.weights(1) * x)
    torch.testing.assert_close(exp.maps, (linear_model.weights(1) * x).abs().sum(dim=1))


@pytest.mark.parametrize("baseline", ["black", "blurred", "noise"])
def test_integrated_gradients_is_exact_and_complete_on_linear_model(linear_model: Linear, baseline: str) -> None:
    x = batch()
    exp = explain(linear_model, x, "integrated_gradients", target=0, baseline=baseline, steps=5, seed=1)
    reference = exp.extras["baseline"]
    torch.testing.assert_close(exp.attributions, linear_model.weights(0) * (x - reference), **TOL)
    gap = linear_model(x)[:, 0] - linear_model(reference)[:, 0]
    torch.testing.assert_close(exp.attributions.flatten(1).sum(1), gap.detach(), **TOL)
    assert float(exp.extras["completeness_error"].max()) < 1e-4


def test_integrated_gradients_accepts_a_baseline_tensor(linear_model: Linear) -> None:
    x = batch()
    grey = torch.full(SHAPE, 0.5)
    exp = explain(linear_model, x, "integrated_gradients", target=2, baseline=grey, steps=3)
    torch.testing.assert_close(exp.attributions, linear_model.weights(2) * (x - 0.5), **TOL)


class SumOfSquares(nn.Module):
    """Logits [Σ c·x², −Σ x]: IG of class 0 from black is exactly c·x² (the integrand is linear in α)."""

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.linspace(-1, 2, SHAPE[0] * SHAPE[1] * SHAPE[2]).view(SHAPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([(self.c * x.square()).flatten(1).sum(1), -x.flatten(1).sum(1)], dim=1)


def test_integrated_gradients_of_quadratic_model_is_c_x_squared() -> None:
    x = batch()
    exp = explain(SumOfSquares(), x, "integrated_gradients", target=0, steps=4)
    torch.testing.assert_close(exp.attributions, SumOfSquares().c * x.square(), **TOL)
    assert float(exp.extras["completeness_error"].max()) < 1e-4


def test_smoothgrad_of_linear_model_is_the_weights_whatever_the_noise(linear_model: Linear) -> None:
    x = batch()
    exp = explain(linear_model, x, "smoothgrad", target=1, samples=6, stdev_spread=0.5, seed=3)
    torch.testing.assert_close(exp.attributions, linear_model.weights(1).expand_as(x), **TOL)
    squared = explain(linear_model, x, "smoothgrad_squared", target=1, samples=6, seed=3)
    torch.testing.assert_close(squared.attributions, linear_model.weights(1).square().expand_as(x), **TOL)


def test_competitive_gradient_x_input_on_linear_model_keeps_features_the_target_wins(
    linear_model: Linear,
) -> None:
    x = batch()
    exp = explain(linear_model, x, "competitive_gradient_x_input", target=0)
    w = linear_model.fc.weight.detach().view(-1, *SHAPE)  # [K,C,H,W]
    contributions = w[None] * x[:, None]  # [B,K,C,H,W]
    mine = contributions[:, 0]
    expected = torch.where((mine > 0) & (mine >= contributions.amax(dim=1)), mine, torch.zeros(()))
    torch.testing.assert_close(exp.attributions, expected)
