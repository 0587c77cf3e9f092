"""The story pages at phone width (400 × 800 in chromium): nothing scrolls sideways, and what names
a model or a test stays on screen. The Mystery page's own check is in test_mystery_page.py.
Screenshots land in test-artifacts/screenshots/<page>-400px.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_harness import (
    PHONE_WIDTH,
    goto_page,
    no_browser_exception,
    no_sideways_scroll,
    on_screen,
    screenshot,
    zoo_loads,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
WIDTH = PHONE_WIDTH


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
