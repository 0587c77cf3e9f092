"""The model frame: every image the demo models see is 128x128 RGB in [0, 1].

Shorter side resized to 128 with area interpolation (no aliasing when shrinking), then a centre
crop. Artefacts are drawn in this frame, so their regions are exact in model coordinates.

Bounds, checked before anything is resized (so nothing huge is ever allocated): a frame is at
most ``MAX_FRAME`` pixels square, and an image's longer side at most ``MAX_ASPECT`` times its
shorter side. A 1x200000 strip would otherwise be resized to 128x25,600,000 (9.8 GB) only to
keep its middle 0.0005%; within the bound the resized image is at most 20 frames long.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from saliency_core.checks import check_integer

FRAME = 128
MAX_FRAME = 1024  # the largest frame: 1024x1024x3 float32 is 12 MB an image, before any method's copies
MAX_ASPECT = 20  # longer side / shorter side: beyond it the centre crop keeps under 5% of the image

_UINT16_TO_8 = 65535 / 255  # 257: 65535 -> 255, 32768 -> 127.5
_SLACK = 1e-3  # float rounding around 0 and 1 in [0, 1] images


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB: high-bit-depth and float grey scaled to 8 bits, transparency
    composited on white.

    Pillow's own ``convert("RGB")`` clips 16-/32-bit integer and float pixels at 255 (a mid-grey
    16-bit PNG comes out white, a [0, 1] float TIFF black) and drops alpha (a fully transparent
    pixel keeps whatever colour it stores). Grey levels: "I;16*" by 255/65535; "I" (32-bit) as
    8-bit when every pixel is at most 255, by 255/65535 when every pixel fits 16 bits, else
    stretched to the image's own maximum (no standard scale); "F" as [0, 1] when it fits (within
    rounding), else as [0, 255]. Negative (beyond rounding) or non-finite pixels, or floats above
    255, are a ValueError.
    """
    mode = image.mode
    if mode == "I" or mode.startswith("I;") or mode == "F":
        return Image.fromarray(_grey_to_uint8(np.asarray(image), mode), mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return image.convert("RGB")


def _grey_to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    values = pixels.astype(np.float32)  # float32: a 40 MP 16-bit image stays ~160 MB, not ~1 GB
    if values.size and not np.isfinite(values).all():
        raise ValueError(f"image has NaN or infinite {mode!r} pixels")
    low = float(values.min()) if values.size else 0.0
    top = float(values.max()) if values.size else 0.0
    if low < -_SLACK:
        raise ValueError(f"image has negative {mode!r} pixels (down to {low:g}); expected non-negative intensities")
    if mode == "F":
        if top > 255:
            raise ValueError(f"float image has pixels up to {top:g}; expected [0, 1] or [0, 255]")
        scale = 255.0 if top <= 1.0 + _SLACK else 1.0  # rounding overshoot (1.0001) is still [0, 1]
    elif mode.startswith("I;16"):
        scale = 1 / _UINT16_TO_8
    elif top <= 255:
        scale = 1.0  # 8-bit values in a 32-bit container
    elif top <= 65535:
        scale = 1 / _UINT16_TO_8
    else:
        scale = 255.0 / top
    return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)


def check_frame_size(size: object, name: str = "frame size") -> int:
    """``size`` as an int in [1, ``MAX_FRAME``]; ``name`` (e.g. ``--size``) words the ValueError."""
    value = check_integer(name, size)
    if not 1 <= value <= MAX_FRAME:
        raise ValueError(f"{name} must be from 1 to {MAX_FRAME} pixels (the largest frame), got {size!r}")
    return value


def check_aspect(width: int, height: int, name: str = "image") -> None:
    """Refuse an image whose longer side is over ``MAX_ASPECT`` times its shorter side (or that
    has no pixels): one ValueError starting with ``name``."""
    short, long = min(width, height), max(width, height)
    if short < 1:
        raise ValueError(f"{name}: the image is empty ({width}x{height} pixels)")
    if long > MAX_ASPECT * short:
        raise ValueError(f"{name}: {width}x{height} is a strip, not a picture: its aspect ratio "
                         f"{long / short:,.0f}:1 is over the {MAX_ASPECT}:1 limit (the square frame "
                         f"would keep {100 * short / long:.2g}% of it)")


def frame_array(image: Image.Image, size: int = FRAME) -> np.ndarray:
    """``uint8 [size, size, 3]`` RGB: EXIF-transposed, shorter side to ``size``, centre-cropped.

    ``size`` is at most ``MAX_FRAME`` and the aspect ratio at most ``MAX_ASPECT`` (checked
    before decoding or resizing).
    """
    check_frame_size(size)
    check_aspect(*image.size)  # EXIF rotation swaps the sides, not their ratio
    rgb = np.asarray(to_rgb(ImageOps.exif_transpose(image)))
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (nw, nh), interpolation=interp)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size])


def mask_frame(mask: np.ndarray, size: int = FRAME) -> np.ndarray:
    """A 2-D label mask through the same resize + crop (nearest neighbour keeps labels)."""
    check_frame_size(size)
    h, w = mask.shape[:2]
    check_aspect(w, h, "mask")
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[top:top + size, left:left + size])


def to_model_frame(image: Image.Image, size: int = FRAME) -> torch.Tensor:
    """``float32 [3, size, size]`` in [0, 1] from a PIL image."""
    return torch.from_numpy(frame_array(image, size)).permute(2, 0, 1).float().div_(255.0)
