"""Turning maps into pictures: colour-mapped heatmaps blended over the image (uint8 RGB arrays).

Kept in the library (not the dashboard) so the CLI, the dashboard and users' notebooks draw maps
the same way.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor


def to_uint8_image(image: Tensor) -> np.ndarray:
    """[3,H,W] float in [0,1] → [H,W,3] uint8."""
    return (image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def normalise_map(saliency: Tensor, clip_percentile: float = 99.5) -> np.ndarray:
    """[H,W] map → [H,W] float in [0,1]: divide by a high percentile so one outlier doesn't wash it out."""
    values = torch.nan_to_num(saliency.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0).abs()
    top = float(torch.quantile(values.flatten(), clip_percentile / 100)) if values.numel() else 0.0
    if top <= 0:
        top = float(values.max()) or 1.0
    return (values / top).clamp(0, 1).numpy()


def heatmap(saliency: Tensor, colormap: int = cv2.COLORMAP_INFERNO) -> np.ndarray:
    """[H,W] map → [H,W,3] uint8 RGB heatmap."""
    gray = (normalise_map(saliency) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(gray, colormap), cv2.COLOR_BGR2RGB)


def overlay(image: Tensor, saliency: Tensor, alpha: float = 0.6) -> np.ndarray:
    """Blend the heatmap of ``saliency`` over ``image`` [3,H,W]; ``alpha`` is the heatmap's weight."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    base = to_uint8_image(image).astype(np.float32)
    heat = heatmap(saliency).astype(np.float32)
    return (base * (1 - alpha) + heat * alpha + 0.5).astype(np.uint8)


def draw_box(picture: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int] = (0, 255, 255)) -> np.ndarray:
    """A copy of ``picture`` with the (x0, y0, x1, y1) box outlined (x1/y1 exclusive)."""
    out = picture.copy()
    x0, y0, x1, y1 = box
    cv2.rectangle(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), colour, 1)
    return out
