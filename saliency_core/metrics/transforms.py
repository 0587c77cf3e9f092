"""Simple counterfactual image transforms (pure torch): greyscale and hue shift.

Images are float ``[B,3,H,W]`` RGB in [0, 1]. Artefact injectors (watermarks, cage bars) live in
``saliency_core.artefacts``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from saliency_core.checks import check_images

# ITU-R BT.601 luma weights, the usual "greyscale" of PIL and OpenCV.
_LUMA = (0.299, 0.587, 0.114)


def _check_rgb(images: Tensor) -> None:
    # Pure pixel maps: NaN passes through and an empty batch stays empty; integer images
    # (uint8 0..255) would be truncated or misread as [0, 1], and so would float ones outside it.
    check_images(images, dtypes=None, channels=(3,), finite=False, allow_empty=True)


def greyscale(images: Tensor) -> Tensor:
    """Replace each pixel by its luma Y = 0.299 R + 0.587 G + 0.114 B, kept as 3 channels."""
    _check_rgb(images)
    weights = images.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True).expand_as(images).contiguous()


def hue_shift(images: Tensor, degrees: float) -> Tensor:
    """Rotate the HSV hue of every pixel by ``degrees`` (saturation and value unchanged)."""
    _check_rgb(images)
    r, g, b = images.unbind(1)
    value, argmax = images.max(1)
    minimum = images.min(1).values
    chroma = value - minimum
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    # Hue in sextants [0, 6), from whichever channel is the maximum.
    hue = torch.where(argmax == 0, ((g - b) / safe) % 6,
                      torch.where(argmax == 1, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    hue = (hue + degrees / 60.0) % 6
    # HSV -> RGB via f(n) = V - C * clamp(min(k, 4 - k), 0, 1), k = (n + H) mod 6.
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + hue) % 6
        out.append(value - chroma * torch.clamp(torch.minimum(k, 4 - k), 0, 1))
    return torch.stack(out, 1)
