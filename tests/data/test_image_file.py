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
    with pytest.raises(ValueError, match="notes.txt: not an image format"):
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


def _sixteen_bit_png(path, value: int, shape=(64, 64)):
    Image.fromarray(np.full(shape, value, np.uint16)).save(path)
    return path


@pytest.mark.parametrize("value", [0, 16384, 32768, 65535])
def test_sixteen_bit_png_keeps_its_brightness(tmp_path, value):
    from saliency_core.data import to_model_frame

    path = _sixteen_bit_png(tmp_path / "16bit.png", value)
    frame = to_model_frame(read_image(path))
    assert abs(float(frame.mean()) - value / 65535) <= 1 / 255  # the source's true brightness, to 8 bits


def test_sixteen_bit_gradient_keeps_its_order_and_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))  # 16:1, within MAX_ASPECT
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    grey = np.asarray(read_image(tmp_path / "ramp.png"))[0, :, 0].astype(int)
    assert grey[0] == 0 and grey[-1] == 255
    assert np.all(np.diff(grey) >= 0)
    assert np.abs(grey - np.round(np.linspace(0, 255, 256))).max() <= 1


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_big_endian_and_32_bit_integer_grey_are_scaled_not_clipped(mode):
    # A mid-grey 16-bit value in each mode: true brightness 1/2, never white.
    image = Image.new(mode, (16, 16), 32768)
    out = read_image(encode(image, "TIFF"))
    assert abs(np.asarray(out).mean() / 255 - 32768 / 65535) <= 1 / 255


def test_frame_array_of_a_directly_opened_sixteen_bit_png_keeps_its_brightness(tmp_path):
    # The folder loaders open files themselves and call frame_array.
    from saliency_core.data import frame_array

    path = _sixteen_bit_png(tmp_path / "16bit.png", 32768)
    with Image.open(path) as image:
        assert image.mode.startswith("I")
        assert abs(frame_array(image).mean() / 255 - 0.5) <= 1 / 255


def test_a_directory_is_refused_as_not_a_file(tmp_path):
    folder = tmp_path / "photo.jpg"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"photo\.jpg.*not a file"):
        read_image(folder)


def test_float_images_in_unit_range_keep_their_brightness():
    values = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    out = np.asarray(read_image(encode(Image.fromarray(values, mode="F"), "TIFF")))[:, :, 0]
    assert np.abs(out.astype(float) - values * 255).max() <= 1  # was all black: clipped, not scaled


def test_integer_grey_beyond_sixteen_bits_is_stretched_not_lost():
    values = np.linspace(0, 1_600_000, 64).astype(np.int32).reshape(8, 8)
    out = np.asarray(read_image(encode(Image.fromarray(values, mode="I"), "TIFF")))[:, :, 0]
    assert out.max() == 255 and out.min() == 0 and np.all(np.diff(out.flatten().astype(int)) >= 0)


def test_transparent_pixels_show_the_white_background_not_their_hidden_colour():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere ...
    rgba[:4, :, 3] = 0  # ... but the top half fully transparent
    rgba[4:, :, 3] = 255
    out = np.asarray(read_image(encode(Image.fromarray(rgba, mode="RGBA"), "PNG")))
    assert (out[:4] == 255).all()  # white
    assert (out[4:] == [255, 0, 0]).all()  # opaque red stays red


@pytest.mark.parametrize("values", [np.full((4, 4), np.nan, np.float32), np.full((4, 4), 300.0, np.float32),
                                    np.full((4, 4), -1.0, np.float32)])
def test_float_images_without_a_known_scale_are_named(values):
    with pytest.raises(ValueError, match="image"):
        read_image(encode(Image.fromarray(values, mode="F"), "TIFF"))


def test_eight_bit_values_in_a_32_bit_container_are_not_dimmed():
    image = Image.fromarray(np.full((8, 8), 200, np.int32), mode="I")
    assert (np.asarray(read_image(encode(image, "TIFF"))) == 200).all()


def test_float_images_with_rounding_overshoot_stay_unit_range():
    values = np.full((8, 8), 0.5, np.float32)
    values[0, 0], values[0, 1] = 1.0001, -1e-6
    out = np.asarray(read_image(encode(Image.fromarray(values, mode="F"), "TIFF")))[:, :, 0]
    assert out[0, 0] == 255 and out[0, 1] == 0 and (out[1:] == 128).all()
