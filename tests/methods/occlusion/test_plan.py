"""Krypton's projective-field threshold (``build_plan(..., threshold=τ)``): exact when off or 1.0,
caps every windowed layer, and approximates by exactly the documented rule (checked against a
reference written out from full inference)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from saliency_core.methods.occlusion.geometry import window_regions
from saliency_core.methods.occlusion.incremental import deltas_from_plan
from saliency_core.methods.occlusion.plan import build_plan, build_region_plan

from occlusion_models import ToyNet, demo_cnn, naive_deltas


@pytest.mark.parametrize("threshold", [None, 1.0])
@pytest.mark.parametrize("net", ["demo", "toy"])
def test_threshold_off_or_one_equals_naive_inference(threshold: float | None, net: str) -> None:
    model = demo_cnn() if net == "demo" else ToyNet().eval()
    images = torch.rand(2, 3, 64, 64)
    target = torch.tensor([1, 0])
    plan = build_plan(model, images, (16, 16), (8, 8), threshold=threshold)
    assert plan is not None
    deltas = deltas_from_plan(plan, images, 0.3, target)
    torch.testing.assert_close(deltas, naive_deltas(model, images, (16, 16), (8, 8), torch.tensor(0.3), target),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("threshold", [0.2, 0.5])
def test_threshold_caps_the_recomputed_region_of_every_windowed_layer(threshold: float) -> None:
    images = torch.rand(1, 3, 128, 128)
    plan = build_plan(demo_cnn(), images, (16, 16), (8, 8), threshold=threshold)
    exact = build_plan(demo_cnn(), images, (16, 16), (8, 8))
    assert plan is not None and exact is not None
    capped = 0
    for step, full in zip(plan.steps, exact.steps):
        if step.kind != "window":
            continue
        for axis, uncapped in zip(step.axes, full.axes):
            cap = max(1, math.ceil(threshold * axis.extent))
            assert axis.size <= max(cap, 1) and (axis.hi - axis.lo).max() <= cap
            # the kept interval lies inside the exact changed interval
            assert (axis.lo >= uncapped.lo).all() and (axis.hi <= uncapped.hi).all()
            capped += int(uncapped.size > cap)
    assert capped > 0


def test_thresholded_deltas_follow_the_centre_rule_on_a_one_conv_model() -> None:
    """conv 3×3 → ReLU → mean → Linear: with the cap, only the centre ``cap`` rows/columns of the conv's
    changed region take their occluded values, the rest keep the unoccluded ones."""

    class OneConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(torch.mean(torch.relu(self.conv(x)), dim=(2, 3)))

    torch.manual_seed(0)
    model = OneConv().eval()
    size, window, stride, threshold = 40, (8, 8), (8, 8), 0.2  # cap = 8 < changed width 10 (9 at borders)
    images = torch.rand(1, 3, size, size)
    target = torch.tensor([1])
    plan = build_plan(model, images, window, stride, threshold=threshold)
    assert plan is not None
    deltas = deltas_from_plan(plan, images, 0.0, target)

    cap = math.ceil(threshold * size)
    with torch.no_grad():
        clean_map = torch.relu(model.conv(images))
        score = model(images)[0, 1]
        expected = []
        for top in range(0, size - window[0] + 1, stride[0]):
            for left in range(0, size - window[1] + 1, stride[1]):
                occluded = images.clone()
                occluded[..., top : top + window[0], left : left + window[1]] = 0.0
                occluded_map = torch.relu(model.conv(occluded))
                kept = []
                for lo in (top, left):
                    first, last = max(0, lo - 1), min(size, lo + window[0] + 1)  # changed outputs
                    if last - first > cap:
                        first += (last - first - cap) // 2
                        last = first + cap
                    kept.append((first, last))
                mixed = clean_map.clone()
                (y0, y1), (x0, x1) = kept
                mixed[..., y0:y1, x0:x1] = occluded_map[..., y0:y1, x0:x1]
                expected.append(score - model.fc(mixed.mean(dim=(2, 3)))[0, 1])
    torch.testing.assert_close(deltas[0], torch.stack(expected), atol=1e-5, rtol=0)
    exact = naive_deltas(model, images, window, stride, torch.tensor(0.0), target)
    assert not torch.allclose(deltas, exact, atol=1e-4)  # the cap did change something


def test_invalid_threshold_is_rejected() -> None:
    images = torch.rand(1, 3, 32, 32)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            build_region_plan(demo_cnn(), images, window_regions((32, 32), (8, 8), (8, 8)), threshold=bad)
