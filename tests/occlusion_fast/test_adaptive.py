"""Adaptive drill-down: shape, exactness when every window is refined, and a usable approximation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from saliency_core import kernels
from saliency_core.methods.occlusion_adaptive import adaptive_occlusion
from occlusion_fast_models import FlattenHead, demo_cnn, naive_deltas


def test_maps_have_one_channel_per_image_at_full_resolution() -> None:
    images = torch.rand(3, 3, 64, 48)
    maps = adaptive_occlusion(demo_cnn(), images, (16, 16), (8, 8), 0.0, torch.tensor([0, 1, 0]))
    assert maps.shape == (3, 64, 48) and maps.dtype == torch.float32 and torch.isfinite(maps).all()


@pytest.mark.parametrize(("window", "stride"), [((16, 16), (8, 8)), ((10, 12), (7, 9))])
def test_refining_every_window_equals_exact_occlusion(window: tuple[int, int], stride: tuple[int, int]) -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, 64, 64)
    target = torch.tensor([1, 0])
    maps = adaptive_occlusion(model, images, window, stride, 0.2, target, refine_fraction=1.0)
    exact = kernels.occlusion_accumulate(naive_deltas(model, images, window, stride, torch.tensor(0.2), target),
                                         (64, 64), window, stride)
    torch.testing.assert_close(maps, exact, atol=1e-4, rtol=0)


def test_unsupported_model_falls_back_to_full_inference_and_stays_exact() -> None:
    model = FlattenHead().eval()
    images = torch.rand(1, 3, 16, 16)
    target = torch.tensor([0])
    maps = adaptive_occlusion(model, images, (4, 4), (4, 4), 0.0, target, refine_fraction=1.0)
    exact = kernels.occlusion_accumulate(naive_deltas(model, images, (4, 4), (4, 4), torch.tensor(0.0), target),
                                         (16, 16), (4, 4), (4, 4))
    torch.testing.assert_close(maps, exact, atol=1e-4, rtol=0)


def test_progress_ends_at_the_total_and_bad_fraction_is_rejected() -> None:
    calls: list[tuple[int, int]] = []
    adaptive_occlusion(demo_cnn(), torch.rand(1, 3, 64, 64), (16, 16), (8, 8), 0.0, torch.tensor([0]),
                       progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    with pytest.raises(ValueError, match="refine_fraction"):
        adaptive_occlusion(demo_cnn(), torch.rand(1, 3, 64, 64), (16, 16), (8, 8), 0.0, torch.tensor([0]),
                           refine_fraction=1.5)


def test_a_single_strong_patch_is_found_by_the_drill_down() -> None:
    """A model that only looks at one 8×8 spot: the fast map peaks inside that spot, like exact."""

    class Spot(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 1, 3, padding=1)
            self.conv.weight.data.fill_(1.0)
            self.conv.bias.data.zero_()
            mask = torch.zeros(1, 1, 64, 64)
            mask[..., 40:48, 16:24] = 1.0
            self.register_buffer("mask", mask)
            self.fc = nn.Linear(1, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.mean(self.conv(x) * self.mask, dim=(2, 3)))

    model = Spot().eval()
    maps = adaptive_occlusion(model, torch.ones(1, 3, 64, 64), (8, 8), (4, 4), 0.0, torch.tensor([1]))
    peak = int(maps[0].abs().flatten().argmax())
    assert 36 <= peak // 64 < 52 and 12 <= peak % 64 < 28


def test_public_occlusion_modes_agree_through_the_engine() -> None:
    """occlusion(mode="exact") (incremental) equals mode="naive"; mode="fast" gives [B,H,W] maps."""
    from saliency_core.methods.occlusion import occlusion

    model = demo_cnn()
    images = torch.rand(2, 3, 64, 64)
    exact = occlusion(model, images, 16, 8, baseline=0.1, target=[0, 1], mode="exact")
    naive = occlusion(model, images, 16, 8, baseline=0.1, target=[0, 1], mode="naive")
    torch.testing.assert_close(exact, naive, atol=1e-4, rtol=0)
    assert occlusion(model, images, 16, 8, mode="fast").shape == (2, 64, 64)
