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

_UINT16_TO_8 = 65535 / 255  # 257: 65535 -> 255, 32768 -> 127.5
_UINT32_TO_8 = 4294967295 / 255


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB, with high-bit-depth grey scaled to 8 bits instead of clipped.

    Pillow's own ``convert("RGB")`` clips 16- and 32-bit integer pixels ("I;16", "I;16B", "I", ...)
    at 255, so a mid-grey 16-bit PNG comes out white. "I;16*" modes are scaled by 255/65535; mode
    "I" (32-bit signed, also how Pillow has long stored 16-bit PNGs) by 255/65535 when every pixel
    fits 16 bits, else by 255/(2**32 - 1); negative pixels are a ValueError. Other modes go through
    ``convert("RGB")`` as usual.
    """
    mode = image.mode
    if mode == "I" or mode.startswith("I;"):
        pixels = np.asarray(image).astype(np.float64)
        if pixels.size and pixels.min() < 0:
            raise ValueError(f"image has negative {mode!r} pixels; expected non-negative integer intensities")
        full = pixels.max() if pixels.size else 0
        divisor = _UINT16_TO_8 if mode.startswith("I;16") or full <= 65535 else _UINT32_TO_8
        grey = np.clip(np.rint(pixels / divisor), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def frame_array(image: Image.Image, size: int = FRAME) -> np.ndarray:
    """``uint8 [size, size, 3]`` RGB: EXIF-transposed, shorter side to ``size``, centre-cropped."""
    if size < 1:
        raise ValueError(f"frame size must be positive, got {size}")
    rgb = np.asarray(to_rgb(ImageOps.exif_transpose(image)))
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
