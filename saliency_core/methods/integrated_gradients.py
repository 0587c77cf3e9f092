"""Integrated Gradients (Sundararajan et al. 2017) with the trapezoid rule.

IG_i(x) = (x_i − x'_i) ∫₀¹ ∂f(x' + α(x − x'))/∂x_i dα, approximated on ``steps`` equally spaced
α ∈ [0, 1] (endpoints included) with trapezoid weights 1/(steps−1), halved at both ends. This is
the textbook trapezoid rule: it is exact for a linear model. (Captum's ``riemann_trapezoid`` uses
the same points but weights 1/steps, so its result is ours × (steps−1)/steps.)

Completeness says Σ_i IG_i = f(x) − f(x'); the per-image gap is returned as
``extras["completeness_error"]`` — it measures how far ``steps`` is from enough.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from saliency_core.checks import check_finite, check_positive, check_seed
from saliency_core.methods.base import Attribution, Model, Progress, sum_abs_over_channels, target_gradient

BASELINES = ("black", "blurred", "noise")


# Beyond this many tail taps, the tail's mass is the Gaussian integral (σ is then so large that
# the kernel is flat over a pixel and the sum and the integral agree to float precision).
_EXACT_TAIL_TAPS = 1_000_000


def _kernel_1d(sigma: float, radius: int, length: int) -> Tensor:
    """The normalised Gaussian taps (float64, CPU) for a ``length``-pixel axis with edge replication.

    The kernel nominally reaches ``radius`` = ⌈3σ⌉. On an axis of ``length`` pixels, every tap
    further than ``length − 1`` reads the replicated edge pixel for *every* output pixel, so the
    taps beyond that are folded into the outermost kept tap: the result is exactly the full-radius
    blur, and a huge σ costs no more than the image size.
    """
    kept = min(radius, max(1, length - 1))
    offsets = torch.arange(-kept, kept + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    if kept < radius:
        if radius - kept <= _EXACT_TAIL_TAPS:
            tail_offsets = torch.arange(kept + 1, radius + 1, dtype=torch.float64)
            tail = float(torch.exp(-0.5 * (tail_offsets / sigma) ** 2).sum())
        else:  # Σ_{d=kept+1}^{radius} exp(−d²/2σ²) ≈ ∫_{kept+½}^{radius+½}
            scale = sigma * math.sqrt(2.0)
            tail = sigma * math.sqrt(math.pi / 2) * (math.erf((radius + 0.5) / scale) - math.erf((kept + 0.5) / scale))
        kernel[0] += tail
        kernel[-1] += tail
    return kernel / kernel.sum()


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [B,C,H,W] with edge replication (any finite σ > 0, any image size).

    The kernel is truncated at 3σ (as scipy's ``gaussian_filter(mode="nearest")``); its radius is
    capped at the image size without changing the result (see :func:`_kernel_1d`), so a huge σ is
    as fast as a small one and tends to the edge-replicated limit (each row, then each column,
    becomes the mean of its two end pixels).
    """
    sigma = check_finite("blur_sigma", sigma, low=0, closed="right")  # pixels, > 0
    radius = max(1, math.ceil(3 * sigma))
    channels = images.shape[1]
    height, width = images.shape[-2:]
    kx = _kernel_1d(sigma, radius, width).to(images)
    ky = _kernel_1d(sigma, radius, height).to(images)
    rx, ry = (len(kx) - 1) // 2, (len(ky) - 1) // 2
    horizontal = kx.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = ky.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(F.pad(images, (rx, rx, 0, 0), mode="replicate"), horizontal, groups=channels)
    out = F.conv2d(F.pad(out, (0, 0, ry, ry), mode="replicate"), vertical, groups=channels)
    return out


def make_baseline(
    images: Tensor, baseline: str | Tensor, blur_sigma: float | None, seed: int | None
) -> Tensor:
    """The reference image x' for each image: black, blurred, uniform noise, or a given tensor."""
    seed = check_seed(seed)
    if isinstance(baseline, Tensor):
        try:
            return torch.broadcast_to(baseline.to(images), images.shape)
        except RuntimeError as error:
            raise ValueError(
                f"baseline of shape {tuple(baseline.shape)} does not broadcast to {tuple(images.shape)}"
            ) from error
    if baseline == "black":
        return torch.zeros_like(images)
    if baseline == "blurred":
        # Default: σ = a tenth of the shorter side, strong enough to remove object detail
        # (gaussian_blur checks a given blur_sigma).
        sigma = blur_sigma if blur_sigma is not None else min(images.shape[-2:]) / 10
        return gaussian_blur(images, sigma)
    if baseline == "noise":
        # Uniform noise over each image's own value range.
        generator = None if seed is None else torch.Generator(images.device).manual_seed(seed)
        flat = images.flatten(1)
        low = flat.amin(dim=1).view(-1, 1, 1, 1)
        high = flat.amax(dim=1).view(-1, 1, 1, 1)
        uniform = torch.rand(images.shape, generator=generator, device=images.device)
        return low + (high - low) * uniform
    raise ValueError(f"baseline must be one of {BASELINES} or a tensor, got {baseline!r}")


def trapezoid_weights(steps: int) -> Tensor:
    """Weights of the trapezoid rule on ``steps`` equally spaced points of [0, 1]."""
    weights = torch.full((steps,), 1.0 / (steps - 1))
    weights[0] /= 2
    weights[-1] /= 2
    return weights


def integrated_gradients(
    model: Model,
    images: Tensor,
    target: Tensor,
    *,
    baseline: str | Tensor = "black",
    steps: int = 50,
    blur_sigma: float | None = None,
    seed: int | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> Attribution:
    """Integrated Gradients of the target logit from ``baseline`` to each image (trapezoid rule)."""
    check_positive("batch_size", batch_size)
    if check_positive("steps", steps) < 2:
        raise ValueError(f"steps must be >= 2 for the trapezoid rule, got {steps}")
    images = images.detach()
    reference = make_baseline(images, baseline, blur_sigma, seed).detach()
    alphas = torch.linspace(0, 1, steps, device=images.device)
    weights = trapezoid_weights(steps).to(images.device)

    batch, rows = images.shape[0], images.shape[0] * steps
    total = torch.zeros_like(images)
    end_logits = torch.zeros(batch, 2, device=images.device)  # f_t(x') and f_t(x)
    # Rows are image-major: row b * steps + k is image b at alpha_k.
    for start in range(0, rows, batch_size):
        index = torch.arange(start, min(start + batch_size, rows), device=images.device)
        owner, step = index // steps, index % steps
        alpha = alphas[step].view(-1, 1, 1, 1)
        path = reference[owner] + alpha * (images[owner] - reference[owner])
        grad, logits = target_gradient(model, path, target[owner])
        total.index_add_(0, owner, weights[step].view(-1, 1, 1, 1) * grad)
        picked = logits.gather(1, target[owner].view(-1, 1)).squeeze(1)
        for end, at in ((0, 0), (1, steps - 1)):
            hit = step == at
            end_logits[owner[hit], end] = picked[hit]
        if progress is not None:
            progress(int(index[-1]) + 1, rows)

    attributions = (images - reference) * total
    gap = end_logits[:, 1] - end_logits[:, 0]
    error = (attributions.flatten(1).sum(dim=1) - gap).abs()
    extras = {"completeness_error": error, "baseline": reference, "steps": steps}
    return Attribution(attributions, sum_abs_over_channels(attributions), extras)
