"""Exact incremental occlusion on EfficientNet-Lite0 (depthwise convolutions, ReLU6, strided
'same'-style padding, the zoo's pretrained backbone) equals Captum's Occlusion."""

from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion

import saliency_core as sc
from saliency_core.methods.occlusion.plan import build_plan
from saliency_core.zoo.efficientnet import pretrained_model


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    model = pretrained_model(seed=0).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.mark.parametrize(("size", "window", "stride"), [(64, 16, 8), (72, 12, 12), (48, 7, 5)])
def test_exact_occlusion_equals_captum_on_efficientnet(lite0, size, window, stride):
    torch.manual_seed(size)
    images = torch.rand(2, 3, size, size)
    with torch.no_grad():
        target = lite0(images).argmax(1)
    # the incremental engine plans this graph (no fallback to full inference)
    assert build_plan(lite0, images[:1], (window, window), (stride, stride)) is not None
    ours = sc.occlusion(lite0, images, window=window, stride=stride, mode="exact", target=target)
    reference = Occlusion(lite0).attribute(images, sliding_window_shapes=(3, window, window),
                                           strides=(3, stride, stride), baselines=0.0, target=target,
                                           perturbations_per_eval=16)[:, 0]
    assert ours.abs().max() > 1e-3  # the windows change the logits: the comparison means something
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_the_watermark_series_cell_sweep_is_incremental_and_equals_full_inference():
    # EarlyCut (the zoo's watermark series) ends in torch.amax over the map: the global max step
    from saliency_core.methods.occlusion.cells import _regions
    from saliency_core.methods.occlusion.plan import build_region_plan
    from saliency_core.zoo.early_cut import EarlyCut

    torch.manual_seed(3)
    model = EarlyCut(seed=0).eval()
    images = torch.rand(2, 3, 64, 64)
    assert build_region_plan(model, images, _regions(sc.cell_grid(9, 64))) is not None
    ours = sc.cell_occlusion(model, images, 9, hidden=(4,))
    full = sc.cell_occlusion(model, images, 9, hidden=(4,), exact_engine=False)
    assert (full.cells - full.base[:, None]).abs().max() > 1e-4
    torch.testing.assert_close(ours.cells, full.cells, atol=1e-5, rtol=0)
