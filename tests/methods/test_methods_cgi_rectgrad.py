"""CGI and RectGrad against naive re-implementations (explicit loops and explicit layer algebra)."""

from __future__ import annotations

import pytest
import torch
from method_models import SmallCNN
from torch import nn

from saliency_core.methods import explain
from saliency_core.methods.rectified_gradient import percentile


def naive_cgi(model: nn.Module, image: torch.Tensor, target: int, per_pixel: bool) -> torch.Tensor:
    """CGI of one image, one feature at a time, from the full Jacobian."""
    jacobian = torch.autograd.functional.jacobian(lambda x: model(x[None])[0], image)  # [K,C,H,W]
    scores = jacobian * image
    classes, channels, height, width = scores.shape
    out = torch.zeros_like(image)
    for i in range(height):
        for j in range(width):
            if per_pixel:
                totals = [float(scores[k, :, i, j].sum()) for k in range(classes)]
                if totals[target] > 0 and all(totals[target] >= t for t in totals):
                    out[:, i, j] = scores[target, :, i, j]
                continue
            for c in range(channels):
                values = [float(scores[k, c, i, j]) for k in range(classes)]
                if values[target] > 0 and all(values[target] >= v for v in values):
                    out[c, i, j] = scores[target, c, i, j]
    return out


@pytest.mark.parametrize("per_pixel", [False, True])
def test_cgi_equals_a_naive_loop_over_features_and_classes(small_cnn: SmallCNN, per_pixel: bool) -> None:
    x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(8))
    target = torch.tensor([0, 2])
    exp = explain(small_cnn, x, "competitive_gradient_x_input", target=target, per_pixel=per_pixel)
    for b in range(2):
        expected = naive_cgi(small_cnn, x[b], int(target[b]), per_pixel)
        torch.testing.assert_close(exp.attributions[b], expected, atol=1e-6, rtol=1e-5)


def test_cgi_maps_of_different_classes_do_not_overlap_and_are_positive(small_cnn: SmallCNN) -> None:
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(9))
    maps = [explain(small_cnn, x, "competitive_gradient_x_input", target=k).attributions for k in range(3)]
    assert all(bool((m >= 0).all()) for m in maps)
    support = sum((m > 0).int() for m in maps)
    assert int(support.max()) <= 1  # each feature is won by at most one class
    assert int(support.sum()) > 0


class MLP(nn.Module):
    """Flatten → Linear → ReLU → Linear → ReLU → Linear, written so the test can redo the algebra."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(12, 20), nn.Linear(20, 16), nn.Linear(16, 3)
        self.relu1, self.relu2 = nn.ReLU(inplace=True), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x.flatten(1))))))


def naive_rectified_gradient(model: MLP, image: torch.Tensor, target: int, q: float) -> torch.Tensor:
    """Kim et al.'s rule by hand: at each ReLU keep R where a·R ≥ the layer's q-th percentile (and a > 0)."""
    with torch.no_grad():
        x = image.flatten()
        z1 = model.fc1.weight @ x + model.fc1.bias
        a1 = z1.clamp(min=0)
        z2 = model.fc2.weight @ a1 + model.fc2.bias
        a2 = z2.clamp(min=0)
        relevance = model.fc3.weight[target]
        for a, z, weight in ((a2, z2, model.fc2.weight), (a1, z1, model.fc1.weight)):
            score = a * relevance
            tau = torch.quantile(score, q / 100)
            relevance = weight.T @ (relevance * (score >= tau) * (z > 0))
    return relevance.view_as(image)


@pytest.mark.parametrize("q", [0.0, 50.0, 80.0, 98.0])
def test_rectified_gradient_equals_the_rule_applied_by_hand(q: float) -> None:
    torch.manual_seed(21)
    model = MLP().eval()
    x = torch.rand(3, 3, 2, 2, generator=torch.Generator().manual_seed(6))
    target = torch.tensor([0, 1, 2])
    unbiased = explain(model, x, "rectified_gradient_unbiased", target=target, q=q).attributions
    biased = explain(model, x, "rectified_gradient", target=target, q=q).attributions
    for b in range(3):
        expected = naive_rectified_gradient(model, x[b], int(target[b]), q)
        torch.testing.assert_close(unbiased[b], expected, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(biased[b], expected * x[b], atol=1e-6, rtol=1e-5)


def test_rectified_gradient_with_q0_is_gradient_x_input(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    rect = explain(tiny_cnn, images, "rectified_gradient", q=0).attributions
    plain = torch.autograd.functional.jacobian(lambda x: tiny_cnn(x).sum(0), images)  # [K,B,C,H,W]
    target = tiny_cnn(images).argmax(1)
    expected = torch.stack([plain[int(target[b]), b] for b in range(len(images))]) * images
    torch.testing.assert_close(rect, expected, atol=1e-6, rtol=1e-5)


def test_unbiased_rectified_gradient_is_the_biased_one_divided_by_the_input(
    tiny_cnn: nn.Module, images: torch.Tensor
) -> None:
    biased = explain(tiny_cnn, images, "rectified_gradient").attributions
    unbiased = explain(tiny_cnn, images, "rectified_gradient_unbiased").attributions
    nonzero = images.abs() > 1e-3
    torch.testing.assert_close((biased / images)[nonzero], unbiased[nonzero], atol=1e-6, rtol=1e-4)
    assert bool(unbiased.abs().sum() > 0)


def test_higher_percentile_keeps_fewer_paths(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    counts = [
        int((explain(tiny_cnn, images, "rectified_gradient_unbiased", q=q).attributions != 0).sum())
        for q in (0.0, 90.0, 99.0)
    ]
    assert counts[0] >= counts[1] >= counts[2]
    assert counts[0] > counts[2]


@pytest.mark.parametrize("q", [0.0, 12.5, 50.0, 98.0, 100.0])
def test_percentile_matches_torch_quantile(q: float) -> None:
    values = torch.randn(3, 101, generator=torch.Generator().manual_seed(int(q)))
    expected = torch.quantile(values, q / 100, dim=1, keepdim=True)
    torch.testing.assert_close(percentile(values, q), expected)
