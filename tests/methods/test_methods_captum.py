"""Agreement with Captum (an independent implementation) on seeded small CNNs, to 1e-5."""

from __future__ import annotations

import pytest
import torch
from captum.attr import (
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from method_models import without_inplace
from torch import nn

from saliency_core.methods import explain

TOL = {"atol": 1e-5, "rtol": 1e-5}
TARGET = torch.tensor([0, 1, 1])


def test_vanilla_gradient_magnitude_matches_captum_saliency(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    ours = explain(tiny_cnn, images, "vanilla_gradient", target=TARGET)
    theirs = Saliency(tiny_cnn).attribute(images.clone().requires_grad_(), target=TARGET, abs=True)
    torch.testing.assert_close(ours.attributions.abs(), theirs, **TOL)
    raw = Saliency(tiny_cnn).attribute(images.clone().requires_grad_(), target=TARGET, abs=False)
    torch.testing.assert_close(ours.attributions, raw, **TOL)


def test_gradient_x_input_matches_captum_input_x_gradient(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    ours = explain(tiny_cnn, images, "gradient_x_input", target=TARGET)
    theirs = InputXGradient(tiny_cnn).attribute(images.clone().requires_grad_(), target=TARGET)
    torch.testing.assert_close(ours.attributions, theirs, **TOL)


@pytest.mark.parametrize(("method", "nt_type"), [("smoothgrad", "smoothgrad"), ("smoothgrad_squared", "smoothgrad_sq")])
def test_smoothgrad_matches_captum_noise_tunnel_with_the_same_noise(
    tiny_cnn: nn.Module, method: str, nt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples, spread = 5, 0.2
    # Images spanning exactly [0, 1], so our σ = spread · (max − min) equals Captum's single stdev.
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    images.view(2, -1)[:, 0], images.view(2, -1)[:, 1] = 0.0, 1.0
    eps = torch.randn(2, samples, 3, 16, 16, generator=torch.Generator().manual_seed(9))

    def same_noise(input: torch.Tensor, stdev: float, nt_samples_partition: int) -> torch.Tensor:
        # Captum's rows are image-major (repeat_interleave), as ours.
        assert nt_samples_partition == samples
        return input.repeat_interleave(samples, dim=0) + stdev * eps.reshape(-1, 3, 16, 16)

    monkeypatch.setattr(NoiseTunnel, "_add_noise_to_input", staticmethod(same_noise))
    ours = explain(tiny_cnn, images, method, target=1, noise=eps, stdev_spread=spread, batch_size=3)
    theirs = NoiseTunnel(Saliency(tiny_cnn)).attribute(
        images.clone(), nt_type=nt_type, nt_samples=samples, stdevs=spread, target=1, abs=False
    )
    torch.testing.assert_close(ours.attributions, theirs, **TOL)


def test_integrated_gradients_matches_captum_riemann_trapezoid(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    steps = 16
    ours = explain(tiny_cnn, images, "integrated_gradients", target=TARGET, steps=steps, batch_size=7)
    theirs = IntegratedGradients(tiny_cnn).attribute(
        images.clone().requires_grad_(), target=TARGET, n_steps=steps, method="riemann_trapezoid"
    )
    # Captum weights the same points by 1/steps instead of 1/(steps - 1) (see integrated_gradients.py).
    torch.testing.assert_close(ours.attributions * (steps - 1) / steps, theirs, **TOL)


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")
def test_guided_backprop_with_inplace_relu_matches_captum_on_a_non_inplace_copy(
    tiny_cnn: nn.Module, images: torch.Tensor
) -> None:
    assert tiny_cnn.relu.inplace  # ours runs on the in-place, reused ReLU
    ours = explain(tiny_cnn, images, "guided_backprop", target=TARGET)
    theirs = GuidedBackprop(without_inplace(tiny_cnn)).attribute(images.clone().requires_grad_(), target=TARGET)
    torch.testing.assert_close(ours.attributions, theirs, **TOL)
    assert tiny_cnn.relu.inplace


def test_guided_backprop_differs_from_the_plain_gradient(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    guided = explain(tiny_cnn, images, "guided_backprop", target=TARGET).attributions
    plain = explain(tiny_cnn, images, "vanilla_gradient", target=TARGET).attributions
    assert not torch.allclose(guided, plain)


def test_grad_cam_matches_captum_layer_grad_cam_upsampled(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    ours = explain(tiny_cnn, images, "grad_cam", target=TARGET)
    assert ours.extras["layer"] == "conv3"  # the last conv layer with a spatial output
    twin = without_inplace(tiny_cnn)  # Captum reads conv3's output, which our in-place ReLU overwrites
    cam = LayerGradCam(twin, twin.conv3).attribute(images.clone().requires_grad_(), target=TARGET, relu_attributions=True)
    theirs = LayerAttribution.interpolate(cam, (16, 16), interpolate_mode="bilinear")[:, 0]
    torch.testing.assert_close(ours.maps, theirs, **TOL)


def test_occlusion_through_explain_matches_captum_occlusion(tiny_cnn: nn.Module, images: torch.Tensor) -> None:
    ours = explain(tiny_cnn, images, "occlusion", target=TARGET, window=4, stride=3, mode="naive")
    theirs = Occlusion(tiny_cnn).attribute(
        images.clone(), sliding_window_shapes=(3, 4, 4), strides=(3, 3, 3), target=TARGET, baselines=0.0,
        perturbations_per_eval=32,
    )
    torch.testing.assert_close(ours.attributions, theirs, **TOL)
    torch.testing.assert_close(ours.maps, theirs[:, 0], **TOL)
    assert ours.target.tolist() == TARGET.tolist()
