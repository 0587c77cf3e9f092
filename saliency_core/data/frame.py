"""The model frame: every image the demo models see is 128x128 RGB in [0, 1].

Shorter side resized to 128 with area interpolation (no aliasing when shrinking), then a centre
crop. Artefacts are drawn in this frame, so their regions are exact in model coordinates.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

FRAME = 128


def frame_array(image: Image.Image, size: int = FRAME) -> np.ndarray:
    """``uint8 [size, size, 3]`` RGB: EXIF-transposed, shorter side to ``size``, centre-cropped."""
    if size < 1:
        raise ValueError(f"frame size must be positive, got {size}")
    rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    h, w = rgb.shape[:2]
    if h == 0 or w == 0:
        raise ValueError("image is empty")
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (nw, nh), interpolation=interp)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size])


def mask_frame(mask: np.ndarray, size: int = FRAME) -> np.ndarray:
    """A 2-D label mask through the same resize + crop (nearest neighbour keeps labels)."""
    h, w = mask.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size])


def to_model_frame(image: Image.Image, size: int = FRAME) -> torch.Tensor:
    """``float32 [3, size, size]`` in [0, 1] from a PIL image."""
    return torch.from_numpy(frame_array(image, size)).permute(2, 0, 1).float().div_(255.0)
