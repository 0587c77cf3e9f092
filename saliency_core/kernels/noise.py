"""The masked-noise kernel (``csrc/noise.cpp``, ``csrc/noise.cu``): Gaussian noise weighted by soft
masks, from a counter-based RNG that gives the same numbers on every backend."""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.checks import check_finite, check_integer
from saliency_core.kernels import native, reference, validate


def masked_noise(images: Tensor, masks: Tensor, sigma: float, seed: int) -> Tensor:
    """clamp(x + sigma·ε·m, 0, 1): Gaussian noise weighted by soft masks m ∈ [0,1], reproducible.

    `images` [B,C,H,W] float32, `masks` [B,H,W] or [B,1,H,W] (shared by the channels). ε for the
    flat NCHW element i depends only on (seed mod 2³², i): the same on every backend (see
    :func:`reference.gaussian`).
    """
    images = validate.float_tensor(images, "images", 4)
    batch, _, height, width = images.shape
    if not isinstance(masks, Tensor):
        raise ValueError(f"masks must be a torch.Tensor, got {type(masks).__name__}")
    validate.same_device(masks, images, "masks", "images")
    if tuple(masks.shape) not in {(batch, height, width), (batch, 1, height, width)}:
        raise ValueError(f"masks must be [B,H,W] or [B,1,H,W] for images {tuple(images.shape)}, "
                         f"got {tuple(masks.shape)}")
    weights = masks.detach().to(torch.float32).reshape(batch, height, width).contiguous()
    if weights.numel() and not bool(((weights >= 0) & (weights <= 1)).all()):
        raise ValueError("masks must hold values in [0, 1]")
    sigma = check_finite("sigma", sigma, low=0)
    seed = check_integer("seed", seed) % 2**32
    ext, on_cuda = native.for_tensor(images)
    if ext is None:
        return reference.masked_noise(images, weights, sigma, seed)
    key1, key2 = reference.hash_int(2 * seed), reference.hash_int(2 * seed + 1)
    out = torch.empty_like(images)
    if on_cuda:
        with torch.cuda.device(images.device):  # launch on the data's GPU, not the current one
            ext.masked_noise_cuda(native.ptr(images), native.ptr(weights), native.ptr(out), batch, images.shape[1],
                                  height * width, sigma, key1, key2, native.stream(images))
    else:
        ext.masked_noise(native.array(images), native.array(weights), native.array(out), sigma, key1, key2)
    return out
