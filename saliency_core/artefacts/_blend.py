"""Shared checks and the alpha blend whose changed pixels are the region mask."""

from __future__ import annotations

import torch


def check_image(image: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Return a float ``[B,3,H,W]`` view and whether the input was a single ``[3,H,W]`` image."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch.Tensor, got {type(image).__name__}")
    single = image.dim() == 3
    batch = image.unsqueeze(0) if single else image
    if batch.dim() != 4 or batch.shape[1] != 3:
        raise ValueError(f"image must be [3,H,W] or [B,3,H,W] RGB, got shape {tuple(image.shape)}")
    if not batch.is_floating_point():
        raise ValueError(f"image must be float in [0, 1], got dtype {image.dtype}")
    if batch.shape[2] < 16 or batch.shape[3] < 16:
        raise ValueError(f"image is too small for an artefact: {tuple(image.shape)}")
    return batch, single


def blend(batch: torch.Tensor, alpha: torch.Tensor, colour: tuple[float, float, float],
          single: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``out = (1 - alpha) * image + alpha * colour``; the mask is exactly the pixels that changed.

    A pixel under the mark that already had the mark's colour does not change and is not in the
    mask: the mask is what a region metric should see, i.e. what the model can see.
    """
    a = alpha.to(batch.dtype).to(batch.device)
    col = torch.tensor(colour, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    out = batch * (1 - a) + col * a
    mask = (out != batch).any(dim=1)
    return (out[0], mask[0]) if single else (out, mask)
