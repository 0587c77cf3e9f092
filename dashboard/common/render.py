"""Image and map drawing for the pages: the library's renderer plus browser encoding.

Every number (scaling, colour ramps, blending, grid cells) comes from :mod:`saliency_core.render`,
so the pages draw maps exactly as the CLI and users' notebooks do. What stays here is display
only: resizing for the browser, PNG/JPEG bytes and data URIs, and laying pictures side by side.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from saliency_core.render import colorize, grid_overlay, overlay, resize, scale_map, to_uint8
from saliency_core.render import draw_box as outline

__all__ = ["colorize", "data_uri", "draw_box", "grid_overlay", "overlay", "png_bytes", "scale_map",
           "side_by_side", "to_uint8", "upscale"]
BOX_COLOUR = (0, 229, 255)  # cyan: stands out on photos and on the saliency ramp


def upscale(a: Any, size: int, *, nearest: bool = False) -> np.ndarray:
    """The image resized so its longer side is ``size`` (bicubic; ``nearest`` keeps hard pixels,
    for grids and masks). The browser then shows it 1:1 instead of blurring a small image."""
    a = to_uint8(a)
    h, w = a.shape[:2]
    if max(h, w) == size:
        return a
    s = size / max(h, w)
    hw = (max(1, round(h * s)), max(1, round(w * s)))
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), mode))


def png_bytes(a: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(a)).save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def data_uri(a: Any, *, fmt: str = "PNG", quality: int = 85) -> str:
    """A small image as a data URI (for Vega-Lite image tooltips and inline HTML)."""
    buf = io.BytesIO()
    im = Image.fromarray(to_uint8(a))
    if fmt.upper() == "JPEG":
        im.save(buf, format="JPEG", quality=quality)
        mime = "jpeg"
    else:
        im.save(buf, format="PNG", compress_level=3)
        mime = "png"
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def side_by_side(*arrays: Any, gap: int = 2) -> np.ndarray:
    """Images of the same height next to each other, separated by white gaps."""
    ims = [to_uint8(a) for a in arrays]
    h = max(i.shape[0] for i in ims)
    parts: list[np.ndarray] = []
    for k, im in enumerate(ims):
        if im.shape[0] != h:
            im = resize(im, (h, int(round(im.shape[1] * h / im.shape[0]))))
        if k:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)


def draw_box(image: np.ndarray, box: tuple[int, int, int, int] | None, scale: int = 3) -> np.ndarray:
    """A preview of the image (enlarged ``scale`` times, hard pixels) with the box outlined."""
    picture = resize(image, (image.shape[0] * scale, image.shape[1] * scale), nearest=True)
    if box is None:
        return picture
    scaled = (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
    return outline(picture, scaled, colour=BOX_COLOUR, thickness=3)
