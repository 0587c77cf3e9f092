"""signed_gradient (∂ log-odds / ∂ x, signed) and direction_counts, against closed forms and autograd."""

from __future__ import annotations

import pytest
import torch
from method_models import SHAPE, Linear, SmallCNN

from saliency_core.methods import METHODS, explain
from saliency_core.methods.signed_gradient import DirectionCounts, direction_counts


def test_two_classes_is_the_difference_of_the_weights() -> None:
    torch.manual_seed(0)
    model = Linear(classes=2).eval()
    x = torch.rand(2, *SHAPE)
    exp = explain(model, x, "signed_gradient", target=0)
    # log-odds of class 0 with two classes = logit_0 − logit_1, so its gradient is W_0 − W_1.
    expected = (model.weights(0) - model.weights(1)).expand(2, *SHAPE)
    assert torch.allclose(exp.attributions, expected, atol=1e-6)
    assert torch.allclose(exp.maps, expected.sum(1), atol=1e-6)
    assert (exp.maps < 0).any() and (exp.maps > 0).any()  # signed, not magnitudes
    flipped = explain(model, x, "signed_gradient", target=1)
    assert torch.allclose(flipped.maps, -exp.maps, atol=1e-6)


def test_matches_autograd_of_the_log_odds_on_a_cnn() -> None:
    torch.manual_seed(1)
    model = SmallCNN(inplace=False).eval()
    x = torch.rand(3, *SHAPE)
    target = torch.tensor([0, 2, 1])
    exp = explain(model, x, "signed_gradient", target=target)
    xr = x.clone().requires_grad_(True)
    p = model(xr).softmax(dim=1).gather(1, target.view(-1, 1)).squeeze(1)
    (grad,) = torch.autograd.grad((p.log() - (1 - p).log()).sum(), xr)
    assert torch.allclose(exp.attributions, grad, rtol=1e-4, atol=1e-6)
    assert torch.allclose(exp.maps, grad.sum(1), rtol=1e-4, atol=1e-6)


def test_default_target_is_the_prediction_and_it_is_registered() -> None:
    assert "signed_gradient" in METHODS
    torch.manual_seed(2)
    model = Linear(classes=2).eval()
    x = torch.rand(1, *SHAPE)
    exp = explain(model, x, "signed_gradient")
    predicted = int(model(x).argmax())
    assert int(exp.target[0]) == predicted
    assert torch.allclose(exp.maps[0], (model.weights(predicted) - model.weights(1 - predicted)).sum(0), atol=1e-6)


def test_one_class_models_are_refused() -> None:
    with pytest.raises(ValueError, match="two classes"):
        explain(Linear(classes=1), torch.rand(1, *SHAPE), "signed_gradient")


def test_direction_counts_by_hand() -> None:
    squared = torch.tensor([[9.0, 1.0, 4.0], [0.0, 16.0, 2.0]])
    signed = torch.tensor([[-3.0, 1.0, 2.0], [0.0, 4.0, 0.0]])
    assert direction_counts(squared, signed, 0.5) == DirectionCounts(top=3, toward=2, away=1, zero=0)
    assert direction_counts(squared, signed, 0.01) == DirectionCounts(1, 1, 0, 0)  # at least one pixel
    assert direction_counts(squared, signed, 1.0) == DirectionCounts(6, 3, 1, 2)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, True, "0.1"])
def test_direction_counts_bad_fraction(fraction: object) -> None:
    with pytest.raises(ValueError, match="fraction"):
        direction_counts(torch.ones(2, 2), torch.ones(2, 2), fraction)  # type: ignore[arg-type]


def test_direction_counts_needs_matching_maps() -> None:
    with pytest.raises(ValueError, match="same shape"):
        direction_counts(torch.ones(2, 2), torch.ones(2, 3))
