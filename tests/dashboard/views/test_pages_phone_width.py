"""The tool pages at phone width (400 × 800 in chromium), on the built-in photos: nothing scrolls
sideways, and each page's key element (the quadrant chart's cats and dogs columns, the occlusion
grid, the first row of gradient maps, the audit's first chart, the upload widget) is visible and
within the viewport's width. The story pages have theirs in test_story_phone_width.py.
Screenshots land in test-artifacts/screenshots/<page>-400px.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from app_harness import (
    PHONE_HEIGHT,
    PHONE_WIDTH,
    goto_page,
    needs_zoo,
    no_browser_exception,
    no_sideways_scroll,
    on_screen,
    screenshot,
    wait_for_app,
)
from playwright.sync_api import expect

from dashboard.common.audit_cache import BUILTIN_SET, CACHE_DIR

pytestmark = pytest.mark.e2e
WIDTH, HEIGHT = PHONE_WIDTH, PHONE_HEIGHT


def one_row(locator: Any) -> list[dict[str, float]]:
    """The boxes of every element ``locator`` matches, asserting they sit side by side (one row)."""
    boxes = [locator.nth(k).bounding_box() for k in range(locator.count())]
    assert boxes and all(b is not None for b in boxes)
    tops = [b["y"] for b in boxes]
    assert max(tops) - min(tops) < 2, f"stacked, not in one row: tops {tops}"
    return boxes


def test_quadrants_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    needs_zoo("watermark-100")
    goto_page(phone, streamlit_server, "quadrants")
    no_browser_exception(phone)
    chart = phone.get_by_test_id("stVegaLiteChart").first
    expect(chart.locator("g.mark-symbol.role-mark path")).to_have_count(200)  # 4 quadrants x 50 photos
    no_sideways_scroll(phone)
    on_screen(chart.locator("svg").first)
    # the facet headers name the columns: both on screen, the dogs beside the cats
    cats = on_screen(chart.locator("text").filter(has_text=re.compile(r"^cats$")).first)
    dogs = on_screen(chart.locator("text").filter(has_text=re.compile(r"^dogs$")).first)
    assert dogs["x"] > cats["x"] + cats["width"], (cats, dogs)
    # every dot, too: the dogs' dots are not cut off at the right
    right = chart.evaluate("c => Math.max(...[...c.querySelectorAll('g.mark-symbol path')]"
                           ".map(p => p.getBoundingClientRect().right))")
    assert right <= WIDTH, f"a dot ends at {right} px"
    on_screen(phone.locator(".st-key-quadrant_detail"))
    lesson = phone.locator(".st-key-lesson_missing [data-testid=stImage] img")  # the missing watermark's photo
    if lesson.count():
        on_screen(lesson.first)
    screenshot(phone, "quadrants-400px")
    no_sideways_scroll(phone)
    phone.get_by_role("tab", name="Image grid").click()
    wait_for_app(phone)
    expect(phone.get_by_text("Cats with watermark").first).to_be_visible()
    no_sideways_scroll(phone)


def test_occlusion_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    needs_zoo("normal", "watermark-100")
    goto_page(phone, streamlit_server, "occlusion")
    wait_for_app(phone)
    no_browser_exception(phone)
    expect(phone.locator(".sl-occ-cell")).to_have_count(36)  # the default 6x6 grid
    no_sideways_scroll(phone)
    # the twelve photos are one strip (not twelve full-width photos stacked before the grid)
    photos = phone.locator(".st-key-occlusion_strip_strip .sl-ps-pick img")
    expect(photos).to_have_count(12)
    boxes = one_row(photos)
    assert all(b["height"] <= 100 for b in boxes), boxes
    stage = on_screen(phone.locator(".sl-occ-stage"))
    scrolled = phone.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop")
    assert stage["y"] + scrolled < 2 * HEIGHT, f"the grid starts {stage['y'] + scrolled} px down the page"
    expect(phone.locator(".sl-occ-chip")).to_have_count(2)
    for k in range(2):
        on_screen(phone.locator(".sl-occ-chip").nth(k))
    screenshot(phone, "occlusion-400px")
    no_sideways_scroll(phone)
    phone.get_by_role("tab", name="Automatic").click()
    wait_for_app(phone)
    expect(phone.get_by_text("with each of 6×6 cells hidden").first).to_be_visible()
    no_browser_exception(phone)
    no_sideways_scroll(phone)
    for picture in phone.locator("[data-testid=stTabPanel] [data-testid=stImage] img").all():
        on_screen(picture)
    screenshot(phone, "occlusion-automatic-400px")


def test_gradients_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    needs_zoo("normal", "watermark-100")
    goto_page(phone, streamlit_server, "gradients")
    no_browser_exception(phone)
    no_sideways_scroll(phone)
    grid = phone.locator(".sl-gradients-grid")
    # the first row: the input and its maps side by side, each under its method's name
    labels = one_row(grid.locator("[role=columnheader]"))
    assert len(labels) >= 4, labels  # the input and the default methods' maps
    first = grid.locator("figure img")
    on_screen(first.first)
    images = [first.nth(k).bounding_box() for k in range(len(labels))]
    assert all(b is not None for b in images)
    assert max(b["y"] for b in images) - min(b["y"] for b in images) < 2, images
    for label, image in zip(labels, images, strict=True):
        assert abs(label["x"] - image["x"]) < 2, (label, image)
        assert label["x"] >= 0 and image["x"] + image["width"] <= WIDTH + 0.5, image
    screenshot(phone, "gradients-400px")
    no_sideways_scroll(phone)


def test_dataset_audit_at_phone_width(streamlit_server: str, phone: Any) -> None:
    if not (CACHE_DIR / BUILTIN_SET / "meta.json").is_file():
        pytest.skip("the precomputed audit of the built-in photos is missing")
    goto_page(phone, streamlit_server, "dataset_audit")
    no_browser_exception(phone)
    expect(phone.get_by_text("Precomputed report")).to_be_visible()
    chart = phone.get_by_test_id("stPlotlyChart").first
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    no_sideways_scroll(phone)
    on_screen(chart)
    on_screen(chart.locator("svg.main-svg").first)
    screenshot(phone, "dataset_audit-400px")
    no_sideways_scroll(phone)
    for tab in ("Animal vs background", "Failure prediction", "Sanity checks", "Core vs spurious",
                "Counterfactual flips", "Table"):
        phone.get_by_role("tab", name=tab).click()
        phone.wait_for_timeout(300)
        no_sideways_scroll(phone)
    no_browser_exception(phone)


def test_your_model_at_phone_width(streamlit_server: str, phone: Any) -> None:
    goto_page(phone, streamlit_server, "your_model")
    no_browser_exception(phone)
    no_sideways_scroll(phone)
    uploader = phone.get_by_test_id("stFileUploader").first
    on_screen(uploader)
    on_screen(uploader.get_by_test_id("stFileUploaderDropzone"))
    screenshot(phone, "your_model-400px")
    no_sideways_scroll(phone)


def test_your_model_maps_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    needs_zoo("normal", "watermark-100")
    photo = next(iter(sorted(needs_data.rglob("*.jpg"))), None)
    if photo is None:
        pytest.skip(f"no JPEG photo in {needs_data}")
    goto_page(phone, streamlit_server, "your_model")
    phone.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(photo))
    wait_for_app(phone)
    no_browser_exception(phone)
    expect(phone.get_by_text("Gradient squared").first).to_be_visible()
    no_sideways_scroll(phone)
    for picture in phone.get_by_test_id("stImage").all():
        on_screen(picture)
    screenshot(phone, "your_model-maps-400px")
