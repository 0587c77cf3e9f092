"""Reading one untrusted image file (an upload, a CLI argument) safely.

Pillow ``verify()`` first (it catches truncated and corrupt files without decoding), then a
pixel cap before decoding (decompression bombs), EXIF orientation, RGB conversion (16-/32-bit grey scaled to 8 bits); multi-frame
files (animated GIF/WebP, multi-page TIFF) are refused rather than silently reduced to frame 0.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from saliency_core.data.frame import to_rgb

MAX_PIXELS = 40_000_000


def read_image(source: str | os.PathLike[str] | bytes, name: str | None = None,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``source`` (a path or the file's bytes) to an RGB image, or raise ValueError naming it."""
    label = name or (Path(source).name if not isinstance(source, bytes) else "image")
    if not isinstance(source, bytes) and Path(source).is_dir():
        raise ValueError(f"{label}: is not a file (a directory)")
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{label}: not a readable image ({err.__class__.__name__})") from err
    except Image.DecompressionBombError as err:
        raise ValueError(f"{label}: too many pixels (over {max_pixels:,})") from err
    width, height = image.size
    if width * height > max_pixels:
        raise ValueError(f"{label}: {width}x{height} is too many pixels (limit {max_pixels:,})")
    if getattr(image, "n_frames", 1) > 1:
        raise ValueError(f"{label}: has {image.n_frames} frames; upload a single still image")
    try:
        image = ImageOps.exif_transpose(image)
        return to_rgb(image)  # 16-/32-bit grey scaled to 8 bits, not clipped to white
    except (OSError, ValueError) as err:
        raise ValueError(f"{label}: could not be decoded ({err})") from err
