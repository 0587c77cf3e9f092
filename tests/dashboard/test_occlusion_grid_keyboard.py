"""The occlusion grid without a mouse, and on a phone (``dashboard.components.occlusion_grid``).

Real chromium on ``region_picker_app.py?show=grid``: a 6x6 grid over two stand-in models (model A's
P(dog) with cell k hidden is k/36), whose Python side prints the cells it has received.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from app_harness import no_browser_exception, wait_for_app
from component_app_server import serve_components
from playwright.sync_api import expect

N = 6


@pytest.fixture(scope="module")
def components_server() -> Iterator[str]:
    yield from serve_components()


def open_grid(page: Any, server: str) -> Any:
    page.goto(f"{server}/?show=grid", wait_until="domcontentloaded")
    wait_for_app(page)
    expect(page.locator(".sl-occ-cell")).to_have_count(N * N)
    return page


def focused_cell(page: Any) -> int | None:
    value = page.evaluate("() => { let e = document.activeElement;"  # through the component's shadow root
                          " while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;"
                          " return e && e.dataset ? e.dataset.cell : null; }")
    return None if value is None else int(value)


def tab_into_grid(page: Any, limit: int = 30) -> int:
    for _ in range(limit):
        page.keyboard.press("Tab")
        cell = focused_cell(page)
        if cell is not None:
            return cell
    raise AssertionError(f"{limit} presses of Tab never reached the grid")


@pytest.mark.e2e
def test_keyboard_moves_and_toggles_a_cell(components_server: str, browser_page: Any) -> None:
    page = open_grid(browser_page, components_server)
    cells = page.locator(".sl-occ-cell")
    expect(page.get_by_role("grid")).to_have_count(1)
    expect(page.get_by_role("gridcell")).to_have_count(N * N)
    expect(page.locator(".sl-occ-cell[tabindex='0']")).to_have_count(1)  # one tab stop for the grid
    assert tab_into_grid(page) == 0
    expect(cells.nth(0)).to_have_attribute("aria-label", "cell row 1 column 1, shown")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    assert focused_cell(page) == 8  # row 2, column 3
    # the focus ring shows, and focusing a cell previews its prediction as hovering does
    ring = cells.nth(8).evaluate("e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth]; }")
    assert ring == ["solid", "3px"]
    chips = page.locator(".sl-occ-chip")
    expect(chips.nth(0)).to_have_text("cat 77.8%")  # P(dog) = 8/36 with cell 8 hidden
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(page.locator("code", has_text="HIDDEN")).to_have_text("HIDDEN [8]")  # Python received it
    expect(cells.nth(8)).to_have_class("sl-occ-cell hidden")
    expect(cells.nth(8)).to_have_attribute("aria-label", "cell row 2 column 3, hidden")
    expect(cells.nth(8)).to_have_attribute("aria-selected", "true")
    assert focused_cell(page) == 8  # the redrawn grid keeps the keyboard where it was
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    wait_for_app(page)
    expect(page.locator("code", has_text="HIDDEN")).to_have_text("HIDDEN [8, 14]")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")  # Enter again shows the cell again
    wait_for_app(page)
    expect(page.locator("code", has_text="HIDDEN")).to_have_text("HIDDEN [14]")
    expect(cells.nth(8)).to_have_attribute("aria-label", "cell row 2 column 3, shown")
    page.keyboard.press("Control+End")
    assert focused_cell(page) == N * N - 1
    page.keyboard.press("Home")
    assert focused_cell(page) == N * (N - 1)
    no_browser_exception(page)


@pytest.mark.e2e
def test_the_grid_fits_a_400px_viewport(components_server: str, chromium_browser: Any) -> None:
    context = chromium_browser.new_context(viewport={"width": 400, "height": 800})
    try:
        page = open_grid(context.new_page(), components_server)
        stage = page.locator(".sl-occ-stage").bounding_box()
        last = page.locator(".sl-occ-cell").nth(N - 1).bounding_box()  # the top-right cell
        assert stage is not None and last is not None
        assert stage["x"] >= 0 and stage["x"] + stage["width"] <= 400, stage
        assert stage["width"] < 384  # scaled down to the column, not a fixed 384 px
        assert abs(last["x"] + last["width"] - (stage["x"] + stage["width"])) < 1  # cells scale with it
        assert abs(stage["width"] - stage["height"]) < 1
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
        # the page's content does not scroll sideways either
        assert page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                             " return m.scrollWidth <= m.clientWidth; }")
    finally:
        context.close()


@pytest.mark.e2e
def test_a_wide_screen_keeps_the_grid_at_its_size(components_server: str, browser_page: Any) -> None:
    page = open_grid(browser_page, components_server)
    stage = page.locator(".sl-occ-stage").bounding_box()
    assert stage is not None and abs(stage["width"] - 384) < 1
