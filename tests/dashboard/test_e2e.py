"""End-to-end tests in real chromium against ``streamlit run``: every page renders without an
exception element; a hover in manual occlusion changes a prediction chip (answered in the browser)
and a click hides the cell through Python; a quadrant dot shows an image tooltip and, clicked,
opens its detail panel. Each page's full-page screenshot goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _dashboard_helpers import REPO, goto_page, screenshot, wait_for_app, zoo_loads

pytestmark = pytest.mark.e2e

# (file under dashboard/, URL path) for every page of the app; the first is the default page.
PAGES = [
    ("views/two_models.py", ""),
    ("views/occlusion.py", "occlusion"),
    ("views/gradients.py", "gradients"),
    ("views/quadrants.py", "quadrants"),
    ("views/mystery.py", "mystery"),
    ("views/your_model.py", "your_model"),
    ("views/dataset_audit.py", "dataset_audit"),
]


def needs_zoo(*names: str) -> None:
    if not zoo_loads(*names):
        pytest.skip("the zoo's trained weights are not installed (saliency-lab train --all)")


def no_exception(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


@pytest.mark.parametrize(("file", "url_path"), PAGES, ids=[Path(f).stem for f, _ in PAGES])
def test_page_renders(streamlit_server: str, browser_page: Any, file: str, url_path: str) -> None:
    if not (REPO / "dashboard" / file).is_file():
        pytest.skip(f"{file} is not part of this build")
    page = browser_page
    goto_page(page, streamlit_server, url_path)
    wait_for_app(page)  # a deep link into a fresh server reruns once through app.py
    no_exception(page)
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
    expect(page.locator("h1").first).to_be_visible()
    screenshot(page, Path(file).stem)


def open_occlusion(server: str, page: Any) -> Any:
    """The Occlusion page, loaded (its two models must be installed)."""
    needs_zoo("normal", "watermark-100")
    goto_page(page, server, "occlusion")
    wait_for_app(page)
    return page


def test_hover_in_manual_occlusion_changes_a_chip(streamlit_server: str, browser_page: Any,
                                                 needs_data: Path) -> None:
    from playwright.sync_api import expect

    page = open_occlusion(streamlit_server, browser_page)
    no_exception(page)
    chips = page.locator(".sl-occ-chip")
    expect(chips).to_have_count(2)
    cells = page.locator(".sl-occ-cell")
    expect(cells).to_have_count(36)  # the default 6x6 grid
    before = chips.all_inner_texts()
    # the bottom-left cells first (where the watermark is), then the rest
    order = [30, 31, 24, 25, *[k for k in range(36) if k not in (30, 31, 24, 25)]]
    changed = None
    for k in order:
        cells.nth(k).hover()
        expect(cells.nth(k)).to_have_class("sl-occ-cell hover")  # blacked out while hovered
        if chips.all_inner_texts() != before:
            changed = k
            break
    assert changed is not None, "no hovered cell changed a prediction chip"
    screenshot(page, "occlusion-hover")
    page.mouse.move(2, 2)  # mouse-out restores both chips
    expect(chips.nth(0)).to_have_text(before[0])
    expect(chips.nth(1)).to_have_text(before[1])
    # a click keeps the cell hidden: Python re-predicts with it occluded
    cells.nth(changed).click()
    wait_for_app(page)
    expect(page.locator(".sl-occ-readout")).to_contain_text("1 cell hidden")
    expect(page.locator(".sl-occ-cell.hidden")).to_have_count(1)
    no_exception(page)
    page.get_by_role("tab", name="Automatic").click()
    wait_for_app(page)
    expect(page.get_by_text("with each of 6×6 cells hidden").first).to_be_visible()
    no_exception(page)
    screenshot(page, "occlusion-automatic")


def test_an_18_by_18_grid_tiles_the_image_in_the_browser(streamlit_server: str, browser_page: Any,
                                                          needs_data: Path) -> None:
    from playwright.sync_api import expect

    page = open_occlusion(streamlit_server, browser_page)
    slider = page.get_by_role("slider").first  # "Grid size (cells per side)"
    slider.focus()
    page.keyboard.press("End")  # the largest size offered
    wait_for_app(page)
    cells = page.locator(".sl-occ-cell")
    expect(cells).to_have_count(18 * 18)
    stage = page.locator(".sl-occ-stage").bounding_box()
    boxes = [cells.nth(k).bounding_box() for k in (0, 17, 18 * 17, 18 * 18 - 1)]
    assert stage is not None and all(b is not None for b in boxes)
    # the corner cells touch the image's corners: the cells cover it exactly, with no leftover strip
    assert abs(boxes[0]["x"] - stage["x"]) < 1 and abs(boxes[0]["y"] - stage["y"]) < 1
    right, bottom = boxes[3]["x"] + boxes[3]["width"], boxes[3]["y"] + boxes[3]["height"]
    assert abs(right - (stage["x"] + stage["width"])) < 1 and abs(bottom - (stage["y"] + stage["height"])) < 1
    assert abs(boxes[1]["x"] + boxes[1]["width"] - right) < 1 and abs(boxes[2]["y"] + boxes[2]["height"] - bottom) < 1
    cells.nth(18 * 17).hover()
    expect(cells.nth(18 * 17)).to_have_class("sl-occ-cell hover")
    no_exception(page)
    screenshot(page, "occlusion-18x18")


def test_quadrant_dot_tooltip_and_detail(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    from playwright.sync_api import expect

    needs_zoo("watermark-100")
    page = browser_page
    goto_page(page, streamlit_server, "quadrants")
    wait_for_app(page)
    no_exception(page)
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
    no_exception(page)
    screenshot(page, "quadrants-detail")
