"""Reading one untrusted image file (an upload, a CLI argument, a file in a data folder) safely.

The one image reader of the library: the CLI, the dashboard's uploads and the folder loaders
all decode through :func:`read_image`, so every surface takes and refuses the same files.

* regular files only, checked before opening (``files.read_regular_file``): a named pipe,
  device or socket is refused by name, never read (it would block or never end);
* Pillow ``verify()`` first (truncated and corrupt files, without decoding), then a pixel cap
  before decoding (decompression bombs); PNG text chunks (zTXt/iTXt) that inflate past Pillow's
  ``PngImagePlugin.MAX_TEXT_CHUNK`` are refused by name;
* multi-frame files (animated GIF/WebP/APNG, multi-page TIFF) are refused rather than silently
  reduced to frame 0, whose picture may be nothing like what a viewer shows. A camera's MPO JPEG
  is the exception: its frame 0 *is* the photo (the rest are previews or depth maps);
* a long thin strip (aspect ratio over ``MAX_ASPECT``) is refused: the square model frame would
  keep a sliver of it (``frame.check_aspect``);
* EXIF orientation, RGB conversion (16-/32-bit grey scaled to 8 bits).

Every refusal is a one-line ValueError ``"<name>: <what is wrong>"``.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from saliency_core.data.files import read_regular_file, shown_name
from saliency_core.data.frame import check_aspect, to_rgb

MAX_PIXELS = 40_000_000

# Pillow's words for a PNG text chunk that inflates too far (PngImagePlugin._safe_zlib_decompress
# and check_text_memory): both are ValueErrors.
_TEXT_BOMB = ("MAX_TEXT_CHUNK", "MAX_TEXT_MEMORY")


def _sniff(data: bytes) -> str:
    """Why bytes that Pillow cannot identify are no image, in words (people save SVG drawings,
    web pages and PDFs under image names)."""
    if not data:
        return "the file is empty (0 bytes)"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "is an SVG drawing, not a raster image (export it as PNG or JPEG)"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "is an HTML page, not an image (a saved web page?)"
    if head.startswith(b"%pdf"):
        return "is a PDF document, not an image"
    return "not an image format Pillow reads (unknown or damaged header)"


def _refusal(err: BaseException) -> str:
    """A decoder's exception as the reason a file is refused."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, ValueError) and any(knob in text for knob in _TEXT_BOMB):
        return "a PNG text chunk (zTXt/iTXt) inflates past Pillow's limit: a decompression bomb, refused"
    if "truncated" in text.lower():
        return "truncated: the file ends before the image does"
    return f"damaged or not a valid image ({type(err).__name__}: {text})"


def _frames(image: Image.Image) -> int:
    return 1 if image.format == "MPO" else int(getattr(image, "n_frames", 1))


def read_image(source: str | os.PathLike[str] | bytes, name: str | None = None,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``source`` (a path or the file's bytes) to an RGB image, or raise ValueError naming it.

    ``name`` (default: the file's name) starts every message; it is shown escaped when it holds
    newlines or control characters. A missing path is a FileNotFoundError.
    """
    if name is not None:
        label = shown_name(name)
    else:
        label = shown_name(Path(source).name) if not isinstance(source, bytes) else "image"
    data = source if isinstance(source, bytes) else read_regular_file(source, label=label)
    try:
        # Pillow only warns between 89 and 179 MP; the cap here is lower, so the warning is a refusal.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ValueError(f"{label}: {_sniff(data)}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{label}: too many pixels (over {max_pixels:,}): a decompression bomb, refused") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ValueError(f"{label}: {_refusal(err)}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ValueError(f"{label}: {width}x{height} is too many pixels (limit {max_pixels:,})")
    if width == 0 or height == 0:
        raise ValueError(f"{label}: the image is empty ({width}x{height} pixels)")
    check_aspect(width, height, label)
    frames = _frames(image)
    if frames > 1:
        raise ValueError(f"{label}: has {frames} frames (animated or multi-page); "
                         "save the one frame you mean as a still image")
    try:
        image = ImageOps.exif_transpose(image)  # decodes the pixels
    except MemoryError:
        raise ValueError(f"{label}: too large to decode in the memory available") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ValueError(f"{label}: {_refusal(err)}") from None
    try:
        return to_rgb(image)  # 16-/32-bit grey scaled to 8 bits, not clipped to white
    except ValueError as err:  # pixels without a known scale (NaN, negative, float > 255)
        raise ValueError(f"{label}: {err}") from None
