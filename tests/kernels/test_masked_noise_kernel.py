"""Mask-weighted noise: the same counter-based numbers as the reference, and its defining properties."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from saliency_core import kernels as K
from saliency_core.kernels import reference as R


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([1, 2, 64]), st.sampled_from([1, 3, 4]), st.integers(1, 9), st.integers(1, 9),
    st.floats(0, 3), st.integers(-(2**40), 2**40), st.booleans(),
)
def test_masked_noise_equals_reference(batch, channels, height, width, sigma, seed, channel_dim) -> None:
    gen = torch.Generator().manual_seed(abs(seed) % 1000)
    images = torch.rand(batch, channels, height, width, generator=gen)
    masks = torch.rand(batch, height, width, generator=gen)
    if channel_dim:
        masks = masks[:, None]
    got = K.masked_noise(images, masks, sigma, seed)
    expected = R.masked_noise(images, masks, sigma, seed % 2**32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_noise_is_reproducible_and_changes_with_the_seed() -> None:
    images, masks = torch.full((2, 3, 16, 16), 0.5), torch.ones(2, 16, 16)
    a, b = K.masked_noise(images, masks, 0.1, 7), K.masked_noise(images, masks, 0.1, 7)
    assert torch.equal(a, b)
    assert not torch.equal(a, K.masked_noise(images, masks, 0.1, 8))


def test_zero_mask_and_zero_sigma_leave_images_unchanged_and_output_is_clamped() -> None:
    images = torch.rand(2, 3, 8, 8)
    assert torch.equal(K.masked_noise(images, torch.zeros(2, 8, 8), 5.0, 1), images)
    assert torch.equal(K.masked_noise(images, torch.ones(2, 8, 8), 0.0, 1), images)
    noisy = K.masked_noise(images, torch.ones(2, 8, 8), 10.0, 1)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, images)


def test_half_mask_halves_the_noise_before_clamping() -> None:
    images = torch.full((1, 1, 32, 32), 0.5)
    full = K.masked_noise(images, torch.ones(1, 32, 32), 0.01, 3) - 0.5
    half = K.masked_noise(images, torch.full((1, 32, 32), 0.5), 0.01, 3) - 0.5
    torch.testing.assert_close(half, full / 2, rtol=1e-4, atol=1e-6)
