"""The watermark series' architecture: an early cut of the pretrained trunk with a max-pool head."""

from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion

import saliency_core as sc
from saliency_core.zoo.early_cut import EarlyCut
from saliency_core.zoo.efficientnet import pretrained_model


@pytest.fixture(scope="module")
def model() -> EarlyCut:
    return EarlyCut(seed=0).eval()


def test_the_trunk_is_the_pretrained_networks_first_blocks(model: EarlyCut) -> None:
    full = pretrained_model().eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(model.features(x, 2), full.features(x, 2))
        assert model.features(x, 2).shape == (2, 24, 32, 32)
        torch.testing.assert_close(model(x), model.forward_from(model.features(x, 2), 2))


def test_a_different_cut_is_a_value_error(model: EarlyCut) -> None:
    with pytest.raises(ValueError, match="upto"):
        model.features(torch.rand(1, 3, 32, 32), 3)


def test_exact_occlusion_equals_captum_on_the_early_cut(model: EarlyCut) -> None:
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        target = model(images).argmax(1)
    ours = sc.occlusion(model, images, window=16, stride=8, mode="exact", target=target)
    reference = Occlusion(model).attribute(images, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8),
                                           baselines=0.0, target=target, perturbations_per_eval=16)[:, 0]
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)
