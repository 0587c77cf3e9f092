"""read_image refuses what an upload must never be, and decodes good files to upright RGB."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from saliency_core.data.image_file import read_image


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_png_with_alpha_becomes_rgb():
    rgba = Image.new("RGBA", (10, 6), (255, 0, 0, 128))
    out = read_image(encode(rgba, "PNG"))
    assert out.mode == "RGB" and out.size == (10, 6)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = read_image(encode(image, "JPEG", exif=exif))
    assert out.size == (10, 20)


def test_truncated_file_is_refused_with_its_name():
    data = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")
    with pytest.raises(ValueError, match="cat.png"):
        read_image(data[: len(data) // 2], name="cat.png")


def test_not_an_image_is_refused():
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(b"hello, I am text", name="notes.txt")


def test_pixel_cap_refuses_huge_images():
    with pytest.raises(ValueError, match="too many pixels"):
        read_image(encode(Image.new("RGB", (300, 300)), "PNG"), max_pixels=10_000)


def test_multi_frame_files_are_refused():
    frames = [Image.new("RGB", (8, 8), (i * 50, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match="3 frames"):
        read_image(buf.getvalue(), name="anim.gif")


def test_pixels_survive_a_lossless_round_trip():
    pixels = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    out = read_image(encode(Image.fromarray(pixels), "PNG"))
    assert np.array_equal(np.asarray(out), pixels)
