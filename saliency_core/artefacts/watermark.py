"""A stock-photo style watermark: a (c) logo and the word STOCK, semi-transparent, bottom-left.

Drawn with OpenCV without anti-aliasing, so the mark is a binary shape and the region mask is
exactly the set of changed pixels. Sizes scale with the image width (designed for 128x128, where
the mark is about 60x14 px, i.e. a bit larger than the top-0.5% pixel budget of 82 pixels).
"""

from __future__ import annotations

import random

import cv2
import numpy as np
import torch

from ._blend import blend, check_image

LIGHT = (1.0, 1.0, 1.0)
DARK = (0.08, 0.08, 0.08)


def _mark(h: int, w: int, rng: random.Random | None) -> tuple[np.ndarray, float]:
    """Binary mark canvas ``uint8 [h, w]`` and its opacity; jittered slightly when seeded."""
    dx, dy, alpha = (rng.randint(0, 3), rng.randint(0, 3), rng.uniform(0.55, 0.75)) if rng else (0, 0, 0.65)
    s = w / 128.0
    canvas = np.zeros((h, w), np.uint8)
    r = max(2, round(5 * s))
    cx, cy = round(4 * s) + r + dx, h - round(5 * s) - r - dy
    cv2.circle(canvas, (cx, cy), r, 255, max(1, round(s)), lineType=cv2.LINE_8)
    # The "c" inside the circle: an open arc.
    cv2.ellipse(canvas, (cx, cy), (max(1, r // 2), max(1, r // 2)), 0, 45, 315, 255, 1, lineType=cv2.LINE_8)
    cv2.putText(canvas, "STOCK", (cx + r + round(3 * s), cy + round(4 * s)), cv2.FONT_HERSHEY_SIMPLEX,
                0.42 * s, 255, max(1, round(s)), lineType=cv2.LINE_8)
    return canvas, alpha


def _apply(image: torch.Tensor, colour: tuple[float, float, float], seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    batch, single = check_image(image)
    canvas, alpha = _mark(batch.shape[2], batch.shape[3], random.Random(seed) if seed is not None else None)
    a = torch.from_numpy(canvas > 0).float().mul_(alpha).view(1, 1, *canvas.shape)
    return blend(batch, a, colour, single)


def watermark(image: torch.Tensor, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Light mark on ``[3,H,W]`` or ``[B,3,H,W]`` float images; returns (image, mask bool [H,W] or [B,H,W]).

    ``seed`` jitters the position (0-3 px) and opacity (0.55-0.75); None gives the canonical mark.
    The input is not modified.
    """
    return _apply(image, LIGHT, seed)


def dark_watermark(image: torch.Tensor, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The same mark in a dark colour (rectified-gradient methods under-weight dark pixels)."""
    return _apply(image, DARK, seed)


def box_of(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """Tight box ``(x0, y0, x1, y1)`` of a bool ``[H, W]`` mask; x1, y1 exclusive."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        raise ValueError("mask must be a 2-D tensor [H, W]")
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        raise ValueError("mask is empty: it has no box")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def watermark_region(height: int = 128, width: int = 128, seed: int | None = None) -> torch.Tensor:
    """bool ``[H, W]``: every pixel the mark covers (what ``watermark`` would change on a mid-grey image).

    Use it for the box of a mark on images where some covered pixels happen not to change
    (e.g. a white mark on a white wall).
    """
    return watermark(torch.full((3, height, width), 0.5), seed)[1]
