"""Adaptive drill-down: shape, exactness when every window is refined, and a usable approximation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from saliency_core import kernels
from saliency_core.methods.occlusion.adaptive import adaptive_occlusion
from occlusion_models import FlattenHead, demo_cnn, naive_deltas


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


class LinearMean(nn.Module):
    """1×1 convolution, global mean, linear head: Δ of a window is analytic (a sum over its pixels)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)
        self.conv.weight.data = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)
        self.fc = nn.Linear(1, 2)
        self.fc.weight.data = torch.tensor([[1.0], [-3.0]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.mean(self.conv(x), dim=(2, 3)))


def test_fast_mode_is_exact_where_deltas_are_bilinear_in_window_position() -> None:
    """A linear model on a ramp image: every window's Δ is bilinear in its position, so the
    interpolated estimates are exact and the fast map equals the analytic one."""
    size, window, stride = 64, (16, 16), (8, 8)
    ys = torch.arange(size, dtype=torch.float32)
    ramp = (0.3 + 0.01 * ys[:, None] + 0.004 * ys[None, :]) * torch.tensor([1.0, 0.5, -0.25]).view(3, 1, 1)
    images = ramp[None]
    weights = torch.tensor([0.5, -1.0, 2.0]).view(3, 1, 1)
    baseline = 0.1
    deltas = []
    for top in range(0, size - window[0] + 1, stride[0]):
        for left in range(0, size - window[1] + 1, stride[1]):
            inside = images[0, :, top : top + window[0], left : left + window[1]]
            deltas.append(-3.0 * float((weights * (inside - baseline)).sum()) / (size * size))
    expected = kernels.occlusion_accumulate(torch.tensor([deltas]), (size, size), window, stride)
    maps = adaptive_occlusion(LinearMean().eval(), images, window, stride, baseline, torch.tensor([1]),
                              refine_fraction=0.0, coarse_stride=3)
    torch.testing.assert_close(maps, expected, atol=1e-5, rtol=1e-4)


def test_an_images_fast_map_does_not_depend_on_the_rest_of_its_batch() -> None:
    """Each image refines its own windows (before: the union of the batch's choices, which made
    batched maps more accurate than the per-image maps users get)."""
    model = demo_cnn()
    images = torch.rand(3, 3, 64, 64)
    target = torch.tensor([0, 1, 1])
    batched = adaptive_occlusion(model, images, (16, 16), (8, 8), 0.0, target)
    alone = torch.cat([adaptive_occlusion(model, images[i : i + 1], (16, 16), (8, 8), 0.0, target[i : i + 1])
                       for i in range(3)])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)


def test_fast_mode_with_threshold_one_and_every_window_refined_equals_naive_inference() -> None:
    model = demo_cnn()
    images = torch.rand(2, 3, 64, 64)
    target = torch.tensor([1, 0])
    maps = adaptive_occlusion(model, images, (16, 16), (8, 8), 0.0, target, refine_fraction=1.0, threshold=1.0)
    exact = kernels.occlusion_accumulate(naive_deltas(model, images, (16, 16), (8, 8), torch.tensor(0.0), target),
                                         (64, 64), (16, 16), (8, 8))
    torch.testing.assert_close(maps, exact, atol=1e-4, rtol=0)


def test_refined_windows_are_exact_and_lie_around_the_strongest_coarse_window() -> None:
    """Windows chosen for refinement carry their exact Δ: with one strong spot, the fast map equals
    the exact map on every pixel the spot's windows cover."""
    size = 64
    model = LinearMean().eval()
    images = torch.full((1, 3, size, size), 0.1)
    images[..., 24:40, 24:40] = 1.0  # a bright square: Δ is large only for windows touching it
    target = torch.tensor([1])
    fast = adaptive_occlusion(model, images, (8, 8), (4, 4), 0.1, target, refine_fraction=0.1, coarse_stride=2)
    exact = kernels.occlusion_accumulate(naive_deltas(model, images, (8, 8), (4, 4), torch.tensor(0.1), target),
                                         (size, size), (8, 8), (4, 4))
    torch.testing.assert_close(fast[..., 24:40, 24:40], exact[..., 24:40, 24:40], atol=1e-5, rtol=0)
