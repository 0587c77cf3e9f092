"""SmoothGrad (Smilkov et al. 2017) and SmoothGrad-squared.

The gradient is averaged over ``samples`` noisy copies x + ε, ε ~ N(0, σ²), with σ a fraction
(``stdev_spread``) of each image's input range max − min, as PAIR ``saliency`` and Captum's
tutorials define the "stdev spread". The squared variant averages the squared gradients.
Noisy copies are processed in chunks of at most ``batch_size`` rows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.checks import check_finite, check_positive, check_seed
from saliency_core.methods.base import Attribution, Model, Progress, max_abs_over_channels, target_gradient


def smoothgrad(
    model: Model,
    images: Tensor,
    target: Tensor,
    *,
    samples: int = 50,
    stdev_spread: float = 0.15,
    seed: int | None = None,
    noise: Tensor | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
    squared: bool = False,
) -> Attribution:
    """Mean gradient (or squared gradient) of the target logit over noisy copies of each image.

    ``noise``, if given, holds the standard-normal draws ε of shape [B, samples, C, H, W] (it
    overrides ``samples`` and ``seed``); otherwise they are drawn from a generator seeded with
    ``seed`` (or from torch's global generator when ``seed`` is None).
    """
    batch = images.shape[0]
    check_positive("batch_size", batch_size)
    if noise is not None:
        if noise.ndim != 5 or noise.shape[0] != batch or noise.shape[2:] != images.shape[1:]:
            raise ValueError(f"noise must have shape [B, samples, C, H, W], got {tuple(noise.shape)}")
        samples = noise.shape[1]
    check_positive("samples", samples)
    check_finite("stdev_spread", stdev_spread, low=0)
    seed = check_seed(seed)
    generator = None if seed is None else torch.Generator(images.device).manual_seed(seed)

    flat = images.detach().flatten(1)
    sigma = stdev_spread * (flat.amax(dim=1) - flat.amin(dim=1))  # one σ per image
    rows, image_shape = batch * samples, images.shape[1:]
    total = torch.zeros_like(images)
    # Rows are image-major (image b, sample s) -> row b * samples + s, as in Captum's NoiseTunnel.
    for start in range(0, rows, batch_size):
        index = torch.arange(start, min(start + batch_size, rows), device=images.device)
        owner = index // samples
        if noise is None:
            eps = torch.randn((len(index), *image_shape), generator=generator, device=images.device)
        else:
            eps = noise.reshape(rows, *image_shape)[index.to(noise.device)].to(images)
        noisy = images[owner] + sigma[owner].view(-1, 1, 1, 1) * eps
        grad, _ = target_gradient(model, noisy, target[owner])
        total.index_add_(0, owner, grad.square() if squared else grad)
        if progress is not None:
            progress(int(index[-1]) + 1, rows)
    mean = total / samples
    display = mean.amax(dim=1) if squared else max_abs_over_channels(mean)
    return Attribution(mean, display, {"samples": samples, "sigma": sigma})


def smoothgrad_squared(model: Model, images: Tensor, target: Tensor, **options: object) -> Attribution:
    """SmoothGrad averaging the squared gradients (Captum's ``nt_type="smoothgrad_sq"``)."""
    return smoothgrad(model, images, target, squared=True, **options)  # type: ignore[arg-type]
