"""Batching under a memory budget, progress reporting, seeding, baselines and the result record."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from method_models import SmallCNN
from scipy.ndimage import gaussian_filter
from torch import nn

from saliency_core.methods import METHODS, Explanation, explain
from saliency_core.methods.integrated_gradients import gaussian_blur


@pytest.mark.parametrize(("method", "options"), [("smoothgrad", {"samples": 5, "seed": 1}), ("integrated_gradients", {"steps": 5})])
def test_result_does_not_depend_on_batch_size(tiny_cnn: nn.Module, images: torch.Tensor, method: str, options: dict) -> None:
    reference = explain(tiny_cnn, images, method, batch_size=1000, **options).attributions
    for batch_size in (1, 4, 7):
        got = explain(tiny_cnn, images, method, batch_size=batch_size, **options).attributions
        torch.testing.assert_close(got, reference, atol=1e-6, rtol=1e-5)


class CountingModel(nn.Module):
    """Records the batch size of every forward pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.sizes = model, []  # type: ignore[var-annotated]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self.model(x)


@pytest.mark.parametrize(("method", "options", "rows"), [("smoothgrad", {"samples": 6}, 18), ("integrated_gradients", {"steps": 6}, 18)])
def test_batches_respect_the_budget_and_progress_reaches_the_total(
    tiny_cnn: nn.Module, images: torch.Tensor, method: str, options: dict, rows: int
) -> None:
    model = CountingModel(tiny_cnn)
    calls: list[tuple[int, int]] = []
    explain(model, images, method, batch_size=4, progress=lambda done, total: calls.append((done, total)), **options)
    assert max(model.sizes) <= 4
    assert sum(model.sizes[1:]) == rows  # the first forward pass is explain's own
    assert [total for _, total in calls] == [rows] * len(calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == rows


def test_smoothgrad_seed_makes_it_reproducible(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    first = explain(tiny_cnn, images, "smoothgrad", samples=4, seed=5).attributions
    again = explain(tiny_cnn, images, "smoothgrad", samples=4, seed=5).attributions
    other = explain(tiny_cnn, images, "smoothgrad", samples=4, seed=6).attributions
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.allclose(first, other)


def test_smoothgrad_noise_scale_is_a_fraction_of_each_images_range(small_cnn: SmallCNN) -> None:
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    x[0] = x[0] * 0.25 + 0.5  # the second image spans a four times larger range
    eps = torch.randn(2, 3, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    exp = explain(small_cnn, x, "smoothgrad", target=0, noise=eps, stdev_spread=0.3)
    for b in range(2):
        sigma = 0.3 * float(x[b].max() - x[b].min())
        grads = []
        for s in range(3):
            noisy = (x[b] + sigma * eps[b, s]).requires_grad_(True)
            grads.append(torch.autograd.grad(small_cnn(noisy[None])[0, 0], noisy)[0])
        torch.testing.assert_close(exp.attributions[b], torch.stack(grads).mean(0), atol=1e-6, rtol=1e-5)


def test_blurred_baseline_is_a_gaussian_blur_with_edge_replication() -> None:
    x = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(3))
    expected = gaussian_filter(x.numpy(), sigma=(0, 0, 1.0, 1.0), mode="nearest", truncate=3.0)
    torch.testing.assert_close(gaussian_blur(x, 1.0), torch.from_numpy(np.ascontiguousarray(expected)), atol=1e-5, rtol=1e-5)


def test_noise_baseline_is_uniform_within_each_images_range_and_seeded(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    one = explain(tiny_cnn, images, "integrated_gradients", steps=2, baseline="noise", seed=4).extras["baseline"]
    two = explain(tiny_cnn, images, "integrated_gradients", steps=2, baseline="noise", seed=4).extras["baseline"]
    torch.testing.assert_close(one, two, rtol=0, atol=0)
    low, high = images.flatten(1).amin(1), images.flatten(1).amax(1)
    assert bool((one.flatten(1).amin(1) >= low).all()) and bool((one.flatten(1).amax(1) <= high).all())


def test_integrated_gradients_completeness_error_shrinks_with_more_steps(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    coarse = explain(tiny_cnn, images, "integrated_gradients", steps=3).extras["completeness_error"]
    fine = explain(tiny_cnn, images, "integrated_gradients", steps=64).extras["completeness_error"]
    assert float(fine.mean()) < float(coarse.mean())


def test_explanation_record_has_the_promised_shapes_and_values(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    logits = tiny_cnn(images).detach()
    options = {"smoothgrad": {"samples": 2}, "smoothgrad_squared": {"samples": 2}, "occlusion": {"window": 8}}
    for method in METHODS:
        exp = explain(tiny_cnn, images, method, **options.get(method, {}))
        assert isinstance(exp, Explanation) and exp.method == method
        assert exp.maps.shape == (3, 16, 16) and exp.maps.dtype == torch.float32
        if method not in ("occlusion", "signed_gradient"):  # their maps are signed
            assert bool((exp.maps >= 0).all()), method
        assert exp.attributions.shape == (3, 3, 16, 16)
        assert exp.target.dtype == torch.long
        torch.testing.assert_close(exp.target, logits.argmax(1))
        torch.testing.assert_close(exp.probabilities, logits.softmax(1))


def test_explain_works_under_no_grad_and_keeps_parameter_grads_empty(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    with torch.no_grad():
        exp = explain(tiny_cnn, images, "gradient_x_input", target=1)
    assert bool(exp.attributions.abs().sum() > 0)
    assert all(p.grad is None for p in tiny_cnn.parameters())


def test_grad_cam_picks_the_last_conv_block_and_accepts_an_override() -> None:
    from saliency_core.zoo.architecture import DemoCNN

    torch.manual_seed(0)
    model = DemoCNN(width=4).eval()
    x = torch.rand(2, 3, 64, 64)  # layer4 outputs 2x2 here (at 32x32 it is 1x1 and layer3 is picked)
    auto = explain(model, x, "grad_cam", target=0)
    assert auto.extras["layer"] == "layer4" and auto.extras["cam"].shape == (2, 2, 2)
    by_module = explain(model, x, "grad_cam", target=0, layer=model.layer4)
    torch.testing.assert_close(auto.maps, by_module.maps)
    earlier = explain(model, x, "grad_cam", target=0, layer="layer2")
    assert earlier.extras["layer"] == "layer2" and earlier.extras["cam"].shape == (2, 8, 8)
    assert earlier.maps.shape == (2, 64, 64)
    small = explain(model, torch.rand(1, 3, 32, 32), "grad_cam", target=0)
    assert small.extras["layer"] == "layer3"  # the last block with more than one spatial position


class TwiceUsedConv(nn.Module):
    """One conv module applied twice; Grad-CAM on it must pair the last call's output and gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.shared = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = torch.relu(self.shared(torch.relu(self.stem(x))))
        second = self.shared(first)
        return self.head(second.mean(dim=(2, 3)))


def test_grad_cam_on_a_reused_module_uses_its_last_call() -> None:
    torch.manual_seed(5)
    model = TwiceUsedConv().eval()
    x = torch.rand(2, 3, 8, 8)
    exp = explain(model, x, "grad_cam", target=1, layer="shared")
    # Reference: the same CAM computed by hand from the second call's output.
    inputs = x.clone()
    first = torch.relu(model.shared(torch.relu(model.stem(inputs))))
    second = model.shared(first)
    grad = torch.autograd.grad(model.head(second.mean(dim=(2, 3)))[:, 1].sum(), second)[0]
    cam = (grad.mean(dim=(2, 3), keepdim=True) * second).sum(1).detach()
    torch.testing.assert_close(exp.extras["cam"], cam, atol=1e-6, rtol=1e-5)
