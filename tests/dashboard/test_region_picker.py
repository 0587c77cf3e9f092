"""The region picker (``dashboard.common.region_picker``): by hand (drag, type) or by data
(watermark box, a mask, a mask file); photo pixels on screen, frame coordinates on request.

Pure parts and AppTests of ``region_picker_app.py`` (a 300x200 synthetic photo with an elliptic
"pet" mask) run everywhere; the ``e2e`` tests drag and type in real chromium.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from app_harness import no_browser_exception, no_exception, wait_for_app
from component_app_server import SCRIPT, serve_components
from PIL import Image
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from dashboard.common.region_picker import RegionChoice, watermark_box
from saliency_core.artefacts import watermark
from saliency_core.data.preprocess import Preprocess

WIDTH, HEIGHT = 300, 200  # the test app's photo


def ellipse() -> np.ndarray:
    """The test app's pet mask, rebuilt here."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return ((xs - 150) / 60.0) ** 2 + ((ys - 100) / 40.0) ** 2 <= 1


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# ------------------------------------------------------------------------------ pure Python
def test_frame_box_follows_the_centre_crop() -> None:
    # 300x200 -> 192x128 (x0.64), the frame starts 32 px in: x 60..180 -> 38.4..115.2 -> 6..84
    choice = RegionChoice("typed", (60, 50, 180, 150), (WIDTH, HEIGHT))
    assert choice.frame_box() == (6, 32, 84, 96)
    # stretched to 224: x * 224/300, y * 224/200, outward to whole pixels
    assert choice.frame_box(Preprocess(size=224, resize="stretch")) == (44, 56, 135, 168)


def test_a_region_the_crop_cuts_off_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the part of the 300x200 photo the model sees"):
        RegionChoice("typed", (0, 0, 40, 200), (WIDTH, HEIGHT)).frame_box()  # x < 50 is cropped off


def test_frame_mask_of_a_box_and_of_a_mask() -> None:
    # 400x200 -> 256x128 (x0.64), frame from x = 64: photo x 100..300 is the whole frame width
    frame = np.zeros((128, 128), bool)
    frame[32:96, :] = True
    box = RegionChoice("typed", (100, 50, 300, 150), (400, 200))
    assert np.array_equal(box.frame_mask(), frame)
    mask = np.zeros((200, 400), bool)
    mask[50:150, 100:300] = True
    as_mask = RegionChoice("mask:test", (100, 50, 300, 150), (400, 200), mask)
    assert np.array_equal(as_mask.frame_mask(), frame)
    assert isinstance(as_mask.frame_region(), np.ndarray) and box.frame_region() == (0, 32, 128, 96)
    stretched = np.zeros((128, 128), bool)
    stretched[32:96, 32:96] = True  # x 100..300 of 400 and y 50..150 of 200 -> 32..96 of 128
    assert np.array_equal(as_mask.frame_mask(Preprocess(resize="stretch")), stretched)
    outside = np.zeros((200, 400), bool)
    outside[:, :20] = True  # cut off by the crop
    with pytest.raises(ValueError, match="outside the part"):
        RegionChoice("mask:test", (0, 0, 20, 200), (400, 200), outside).frame_mask()


def test_watermark_box_is_where_the_mark_changes_pixels() -> None:
    marked, _ = watermark(torch.zeros(3, HEIGHT, WIDTH))  # a light mark on black: every mark pixel changes
    assert watermark_box(WIDTH, HEIGHT) == tight_box(marked.amax(0).numpy() > 0)


# ------------------------------------------------------------------------------ AppTest
def result(at: AppTest) -> str:
    return next(str(c.value) for c in at.code if str(c.value).startswith("RESULT"))


@pytest.fixture
def picker() -> AppTest:
    at = AppTest.from_file(str(SCRIPT), default_timeout=60)
    at.run()
    no_exception(at)
    return at


def test_the_first_box_is_the_watermark_box_typed(picker: AppTest) -> None:
    box = ",".join(map(str, watermark_box(WIDTH, HEIGHT)))
    assert picker.text_input(key="rp_text").value == box
    assert result(picker).startswith(f"RESULT source=typed box={box} ")


def test_typed_box_in_photo_pixels(picker: AppTest) -> None:
    picker.text_input(key="rp_text").set_value("60, 50, 180, 150").run()
    no_exception(picker)
    assert result(picker) == "RESULT source=typed box=60,50,180,150 frame=6,32,84,96"
    assert any("6,32,84,96" in str(c.value) and "128×128 frame" in str(c.value) for c in picker.caption)


@pytest.mark.parametrize(("text", "message"), [
    ("1,2,3", "The box must be four integers x0,y0,x1,y1"),
    ("0,0,301,10", "lies outside the 300x200 photo"),
    ("50,50,50,60", "is empty"),
    ("0,0,40,200", "outside the part of the 300x200 photo the model sees"),
])
def test_a_bad_box_is_one_line(picker: AppTest, text: str, message: str) -> None:
    picker.text_input(key="rp_text").set_value(text).run()
    no_exception(picker)
    assert len(picker.error) == 1
    assert message in str(picker.error[0].value) and "\n" not in str(picker.error[0].value)
    assert result(picker) == "RESULT none"


def test_watermark_and_mask_sources_and_the_typed_box_survives(picker: AppTest) -> None:
    picker.text_input(key="rp_text").set_value("60,50,180,150").run()
    picker.radio(key="rp_source").set_value("watermark").run()
    assert result(picker).startswith("RESULT source=watermark box=" + ",".join(map(str, watermark_box(WIDTH, HEIGHT))))
    picker.radio(key="rp_source").set_value("mask:pet").run()
    no_exception(picker)
    assert result(picker).startswith("RESULT source=mask:pet box=" + ",".join(map(str, tight_box(ellipse()))))
    picker.radio(key="rp_source").set_value("box").run()
    assert picker.text_input(key="rp_text").value == "60,50,180,150"
    assert result(picker) == "RESULT source=typed box=60,50,180,150 frame=6,32,84,96"


def png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_mask_file(picker: AppTest) -> None:
    picker.radio(key="rp_source").set_value("file").run()
    assert result(picker) == "RESULT none" and not picker.error  # nothing uploaded yet
    small = np.zeros((100, 150), bool)
    picker.file_uploader(key="rp_file").set_value(("small.png", png(small), "image/png")).run()
    assert "small.png is 150×100 but the photo is 300×200" in str(picker.error[0].value)
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[20:70, 200:260] = True
    picker.file_uploader(key="rp_file").set_value(("mask.png", png(mask), "image/png")).run()
    no_exception(picker)
    assert not picker.error
    assert result(picker).startswith("RESULT source=mask file box=200,20,260,70 ")
    picker.file_uploader(key="rp_file").set_value(("bad.png", b"not a png", "image/png")).run()
    assert str(picker.error[0].value).startswith("The mask file can't be used")


# ------------------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def components_server() -> Iterator[str]:
    yield from serve_components()


def shown_result(page: Any) -> str:
    return page.locator("code", has_text="RESULT").inner_text()


@pytest.mark.e2e
def test_drag_a_box_on_the_photo(components_server: str, browser_page: Any) -> None:
    page = browser_page
    page.goto(components_server, wait_until="domcontentloaded")
    wait_for_app(page)
    stage = page.locator(".sl-rb-stage")
    expect(stage).to_be_visible()
    r = stage.bounding_box()
    assert r is not None and abs(r["width"] / r["height"] - WIDTH / HEIGHT) < 0.02
    # from (20%, 25%) to (60%, 75%) of the picture: photo pixels (60, 50) to (180, 150)
    page.mouse.move(r["x"] + 0.2 * r["width"], r["y"] + 0.25 * r["height"])
    page.mouse.down()
    page.mouse.move(r["x"] + 0.4 * r["width"], r["y"] + 0.5 * r["height"], steps=4)
    expect(page.locator(".sl-rb-band")).to_be_visible()  # the rubber band follows the drag
    page.mouse.move(r["x"] + 0.6 * r["width"], r["y"] + 0.75 * r["height"], steps=4)
    page.mouse.up()
    wait_for_app(page)
    expect(page.locator("code", has_text="RESULT source=drawn")).to_be_visible()
    match = re.search(r"box=(\d+),(\d+),(\d+),(\d+)", shown_result(page))
    assert match is not None
    drawn = [int(v) for v in match.groups()]
    assert all(abs(a - b) <= 2 for a, b in zip(drawn, (60, 50, 180, 150))), drawn
    # the typed field shows the drawn box, and the box is drawn on the picture where it was dragged
    assert page.get_by_label(re.compile("Box in photo pixels")).input_value() == ",".join(map(str, drawn))
    shown = page.locator(".sl-rb-box").bounding_box()
    assert shown is not None
    assert abs(shown["x"] - (r["x"] + drawn[0] / WIDTH * r["width"])) < 2
    assert abs(shown["width"] - (drawn[2] - drawn[0]) / WIDTH * r["width"]) < 2
    no_browser_exception(page)


@pytest.mark.e2e
def test_type_a_box_in_the_browser(components_server: str, browser_page: Any) -> None:
    page = browser_page
    page.goto(components_server, wait_until="domcontentloaded")
    wait_for_app(page)
    field = page.get_by_label(re.compile("Box in photo pixels"))
    field.fill("30,40,150,160")
    field.press("Enter")
    wait_for_app(page)
    expect(page.locator("code", has_text="RESULT")).to_have_text(re.compile("RESULT source=typed box=30,40,150,160 "))
    shown = page.locator(".sl-rb-box").bounding_box()
    r = page.locator(".sl-rb-stage").bounding_box()
    assert shown is not None and r is not None
    assert abs(shown["y"] - (r["y"] + 40 / HEIGHT * r["height"])) < 2
    assert abs(shown["height"] - 120 / HEIGHT * r["height"]) < 2
    no_browser_exception(page)


@pytest.mark.e2e
def test_the_picker_fits_a_phone(components_server: str, chromium_browser: Any) -> None:
    context = chromium_browser.new_context(viewport={"width": 400, "height": 800})
    try:
        page = context.new_page()
        page.goto(components_server, wait_until="domcontentloaded")
        wait_for_app(page)
        r = page.locator(".sl-rb-stage").bounding_box()
        assert r is not None and r["x"] >= 0 and r["x"] + r["width"] <= 400
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    finally:
        context.close()
