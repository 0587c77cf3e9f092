"""The Quadrants page: a dot per image, its detail panel, the image grid.

The chart's selection is JavaScript; it writes the app-owned session key ``quadrant_selected``,
which the AppTests set directly. The ``e2e`` test hovers and clicks a dot in real chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import (
    goto_page,
    needs_trained,
    needs_zoo,
    no_browser_exception,
    no_exception,
    screenshot,
    texts,
    wait_for_app,
)
from playwright.sync_api import expect

QUADRANTS = "views/quadrants.py"


def test_selected_dot_opens_the_detail_panel(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(QUADRANTS)
    no_exception(at)
    assert "Click a dot" in texts(at)
    at.session_state["quadrant_selected"] = "no-such-image"
    at.run()  # an unknown id is ignored
    assert "Click a dot" in texts(at)
    # an image id from the image-grid view (each thumbnail carries its id as its title)
    image_id = re.search(r'title="([^"]+_wm)"', texts(at)).group(1)  # type: ignore[union-attr]
    at.session_state["quadrant_selected"] = image_id
    at.run()
    no_exception(at)
    assert f"**{image_id}**" in texts(at)
    assert any(m.label == "Salient pixels in the box" for m in at.metric)
    at.button(key="quadrant_unpin").click().run()
    assert at.session_state["quadrant_selected"] is None
    assert "Click a dot" in texts(at)


def test_quadrants_model_switch_and_image_grid(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(QUADRANTS)
    at.segmented_control(key="quadrant_model").set_value("normal").run()
    no_exception(at)
    assert "Normal" in texts(at)
    grid = [str(m.value) for m in at.markdown if "correct" in str(m.value)]
    assert len(grid) == 4
    at.segmented_control(key="quadrant_overlay").set_value("input").run()
    no_exception(at)
    needs_trained(zoo)
    table = at.dataframe[0].value
    assert table.loc["cats with watermark", "images"] == 50


@pytest.mark.e2e
def test_quadrant_dot_tooltip_and_detail(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    needs_zoo("watermark-100")
    page = browser_page
    goto_page(page, streamlit_server, "quadrants")
    wait_for_app(page)
    no_browser_exception(page)
    detail = page.locator(".st-key-quadrant_detail")
    expect(detail).to_contain_text("Click a dot")
    dots = page.locator("[data-testid='stVegaLiteChart'] g.mark-symbol.role-mark path")
    expect(dots).to_have_count(200)  # 4 quadrants x 50 images
    dot = dots.nth(0)
    dot.hover(force=True)
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip.locator("img")).to_be_visible()  # the image tooltip: photo + gradient-squared map
    screenshot(page, "quadrants-tooltip")
    dot.click(force=True)
    wait_for_app(page)
    expect(detail).to_contain_text("Salient pixels in the box")
    expect(detail.locator("img")).to_have_count(2)
    no_browser_exception(page)
    screenshot(page, "quadrants-detail")
