"""The story pages at phone width (400 × 800 in chromium): nothing scrolls sideways, and what names
a model or a test stays on screen. The Mystery page's own check is in test_mystery_page.py.
Screenshots land in test-artifacts/screenshots/<page>-400px.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_harness import goto_page, no_browser_exception, screenshot, zoo_loads
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
WIDTH, HEIGHT = 400, 800


@pytest.fixture
def phone(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        yield page
    finally:
        context.close()


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width} px wide at a {WIDTH} px viewport"
    # nor inside Streamlit's own scrolling container
    inner = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                          " return m ? m.scrollWidth - m.clientWidth : 0 }")
    assert inner <= 0, f"the main area scrolls sideways by {inner} px"


def on_screen(locator: Any) -> None:
    """Visible, and within the viewport's width once scrolled to."""
    expect(locator).to_be_visible()
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 0.5, box


def test_two_models_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    if not zoo_loads("normal", "watermark-100"):
        pytest.skip("the normal and watermark-100 weights are not installed")
    goto_page(phone, streamlit_server, "two_models")
    no_browser_exception(phone)
    no_sideways_scroll(phone)
    for label in ("Model A: Normal", "Model B: Watermark"):
        on_screen(phone.get_by_role("heading", name=label))
    for model in ("normal", "watermark-100"):
        on_screen(phone.locator(f".sl-score[data-model='{model}']"))
    on_screen(phone.locator(".st-key-lesson_q_two_models"))
    on_screen(phone.locator(".st-key-lesson_l_two_models"))
    screenshot(phone, "two-models-400px")
    no_sideways_scroll(phone)


def test_beyond_at_phone_width(streamlit_server: str, phone: Any, needs_data: Path) -> None:
    if not zoo_loads("normal", "watermark-100", "colours"):
        pytest.skip("the normal, watermark-100 and colours weights are not installed")
    goto_page(phone, streamlit_server, "beyond")
    no_browser_exception(phone)
    no_sideways_scroll(phone)
    for heading in ("1 · Does the map depend on the model at all?", "3 · Skip the map: change the photo"):
        on_screen(phone.get_by_role("heading", name=heading))
    on_screen(phone.get_by_test_id("stVegaLiteChart").first)
    metrics = phone.get_by_test_id("stMetric")
    expect(metrics).to_have_count(3)
    for i in range(3):
        on_screen(metrics.nth(i))
    expect(phone.get_by_test_id("stDownloadButton")).to_have_count(3)
    screenshot(phone, "beyond-400px")
    no_sideways_scroll(phone)


def test_introduction_at_phone_width(streamlit_server: str, phone: Any) -> None:
    goto_page(phone, streamlit_server, "")
    no_browser_exception(phone)
    on_screen(phone.get_by_role("heading", name="Can saliency maps catch a model cheating?"))
    no_sideways_scroll(phone)
    screenshot(phone, "introduction-400px")
