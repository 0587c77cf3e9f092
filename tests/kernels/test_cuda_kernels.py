"""CUDA kernels against the reference (run where a GPU is visible; CI builds them everywhere)."""

from __future__ import annotations

import math

import pytest
import torch

from saliency_core import kernels as K
from saliency_core.kernels import reference as R

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not K.cuda_available(), reason="no CUDA GPU visible or CUDA kernels not compiled"),
]


def test_backend_is_extension_cuda() -> None:
    assert K.backend() == "extension+cuda"


@pytest.mark.parametrize("baseline", ["float", "channel", "image", "batch"])
def test_cuda_occlusion_batch_equals_reference_on_a_side_stream(baseline: str) -> None:
    images = torch.rand(3, 4, 19, 14, device="cuda")
    base = {
        "float": 0.25,
        "channel": torch.rand(4, device="cuda"),
        "image": torch.rand(4, 19, 14, device="cuda"),
        "batch": torch.rand(3, 4, 19, 14, device="cuda"),
    }[baseline]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())  # the inputs were made on the default stream
    with torch.cuda.stream(stream):
        got = K.occlusion_batch(images, (5, 4), (3, 5), base, start=2, count=7)
    stream.synchronize()
    assert torch.equal(got, R.occlusion_batch(images, (5, 4), (3, 5), base, start=2, count=7))


@pytest.mark.parametrize(("window", "stride"), [((5, 4), (3, 5)), ((2, 2), (3, 3)), ((19, 14), (1, 1))])
def test_cuda_occlusion_accumulate_equals_reference(window: tuple[int, int], stride: tuple[int, int]) -> None:
    ny, nx = K.window_grid((19, 14), window, stride)
    deltas = torch.randn(5, ny * nx, device="cuda")
    torch.testing.assert_close(
        K.occlusion_accumulate(deltas, (19, 14), window, stride),
        R.occlusion_accumulate(deltas, (19, 14), window, stride),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("percent", [100.0, 1e-4, 0.5, 13.0])
@pytest.mark.parametrize("region", ["none", "boxes", "masks"])
def test_cuda_top_percent_equals_reference(percent: float, region: str) -> None:
    maps = torch.randn(16, 37, 53, device="cuda")
    maps[1] = maps[1].round()
    maps[2, :5] = math.nan
    maps[3, 7] = math.inf
    maps[4, 8] = -math.inf
    maps[5] = math.nan
    reg = {
        "none": None,
        "boxes": torch.randint(-5, 60, (16, 4), device="cuda"),
        "masks": torch.rand(16, 37, 53, device="cuda") < 0.3,
    }[region]
    got, expected = K.top_percent(maps, percent, reg, True), R.top_percent(maps, percent, reg, True)
    torch.testing.assert_close(got.threshold, expected.threshold, equal_nan=True, rtol=0, atol=0)
    assert torch.equal(got.count, expected.count) and torch.equal(got.mask, expected.mask)
    if reg is not None:
        torch.testing.assert_close(got.share, expected.share, equal_nan=True)


def test_cuda_masked_noise_equals_reference_and_cpu() -> None:
    images, masks = torch.rand(3, 3, 20, 21), torch.rand(3, 20, 21)
    cpu = K.masked_noise(images, masks, 0.3, 11)
    gpu = K.masked_noise(images.cuda(), masks.cuda(), 0.3, 11)
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-5)
    torch.testing.assert_close(gpu, R.masked_noise(images.cuda(), masks.cuda(), 0.3, 11), rtol=0, atol=1e-5)


def test_cuda_unchecked_twins_equal_reference_on_a_side_stream() -> None:
    """The entry points the occlusion engine calls chunk after chunk, launched on its stream."""
    images = torch.rand(2, 3, 13, 10, device="cuda")
    base = K.baseline4(torch.rand(3, device="cuda"), images)
    ny, nx = K.window_grid((13, 10), (4, 3), (3, 2))
    deltas = torch.randn(2, ny * nx, device="cuda")
    table = torch.randn(2 * 9 * 8, 4, device="cuda")
    index = [torch.tensor(v, device="cuda") for v in ([0, 1, 1], [0, 4, 2], [3, 0, 5])]
    patch = torch.randn(3, 4, 2, 2, device="cuda").contiguous(memory_format=torch.channels_last)
    offset = (torch.tensor([1, -1, 4], device="cuda"), torch.tensor([0, 2, 3], device="cuda"))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())  # the inputs were made on the default stream
    with torch.cuda.stream(stream):
        batch = K.occlusion_batch_unchecked(images, (4, 3), (3, 2), base, 5, 6)
        maps = K.occlusion_accumulate_unchecked(deltas, (13, 10), (4, 3), (3, 2))
        crops = K.gather_patches_unchecked(table, (9, 8), *index, (5, 3), patch, offset)
    stream.synchronize()
    assert torch.equal(batch, R.occlusion_batch(images, (4, 3), (3, 2), base, 5, 6))
    torch.testing.assert_close(maps, R.occlusion_accumulate(deltas, (13, 10), (4, 3), (3, 2)), rtol=1e-5, atol=1e-6)
    expected = R.gather_patches(table, (9, 8), *index, (5, 3), patch, offset).permute(0, 3, 1, 2)
    assert torch.equal(crops, expected) and crops.is_contiguous(memory_format=torch.channels_last)
