"""Shelter-cage bars: vertical bars across the frame and two horizontal cross-bars, grey metal."""

from __future__ import annotations

import random

import torch

from ._blend import blend, check_image

METAL = (0.62, 0.63, 0.66)


def cage(image: torch.Tensor, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Bars on ``[3,H,W]`` or ``[B,3,H,W]`` float images; returns (image, mask of changed pixels).

    Vertical bars every ~1/6 of the width, 3 px wide at 128 px, nearly opaque (alpha 0.85);
    ``seed`` shifts the bar phase. The input is not modified.
    """
    batch, single = check_image(image)
    h, w = batch.shape[2], batch.shape[3]
    rng = random.Random(seed) if seed is not None else None
    spacing = max(6, round(w / 6))
    thick = max(1, round(3 * w / 128))
    phase = rng.randrange(spacing) if rng else spacing // 2
    alpha = torch.zeros(1, 1, h, w)
    for x in range(phase, w, spacing):
        alpha[..., :, x:x + thick] = 0.85
    for y in (round(h * 0.3), round(h * 0.7)):
        alpha[..., y:y + thick, :] = 0.85
    return blend(batch, alpha, METAL, single)
