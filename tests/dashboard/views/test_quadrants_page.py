"""The Quadrants page: a dot per image, its detail panel, the image grid.

The chart's selection is JavaScript; it writes the app-owned session key ``quadrant_selected``,
which the AppTests set directly. The ``e2e`` tests hover and click a dot in real chromium, and pin
one with the keyboard alone (the "Pin a photo" box).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from app_harness import (
    goto_page,
    needs_trained,
    needs_zoo,
    no_browser_exception,
    no_exception,
    screenshot,
    served,
    texts,
    wait_for_app,
)
from PIL import Image
from playwright.sync_api import expect
from story_pieces import Download, block_keys, downloads  # noqa: F401 - downloads is a fixture

from dashboard.common.render import BOX_COLOUR
from saliency_core.render.share import TOP_COLOUR

QUADRANTS = "views/quadrants.py"


def test_selected_dot_opens_the_detail_panel(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(QUADRANTS)
    no_exception(at)
    assert "Click a dot" in texts(at)
    at.session_state["quadrant_selected"] = "no-such-image"
    at.run()  # an unknown id is ignored
    assert "Click a dot" in texts(at)
    # a watermarked photo's id, from the "Pin a photo" box ("quadrant · id · share")
    pins = at.selectbox(key="quadrant_pick").options
    image_id = next(re.search(r" · (\S+_wm) · ", o).group(1) for o in pins if "_wm · " in o)  # type: ignore[union-attr]
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
    needs_trained(zoo)
    table = at.dataframe[0].value
    assert not [m for m in at.markdown if "correct" in str(m.value)]  # the image grid's tab is closed: not drawn
    at.session_state["quadrant_tab"] = "Image grid"  # a click on the tab (the browser's test clicks it)
    at.run()
    no_exception(at)
    grid = [str(m.value) for m in at.markdown if "correct" in str(m.value)]
    assert len(grid) == 4
    assert sum(str(h.value).count("<img ") for h in at.html) == 200  # every photo, one gallery per quadrant
    at.segmented_control(key="quadrant_overlay").set_value("input").run()
    no_exception(at)
    assert table.loc["cats with watermark", "images"] == 50


def test_the_narrative_tells_the_pages_own_means(app_test: Callable[..., Any], needs_data: Path, zoo: bool,
                                                downloads: dict[str, Download]) -> None:
    at = app_test(QUADRANTS)  # the watermark-100 model
    no_exception(at)
    keys = block_keys(at)
    assert keys.index("lesson_q_quadrants") < keys.index("lesson_l_quadrants") < keys.index("lesson_missing")
    text = texts(at)
    assert "where does each model look" in text
    means = at.dataframe[0].value["mean share in box"]  # the page's summary table
    narrative = next(str(m.value) for m in at.markdown if "**100%: " in str(m.value))
    for quadrant, words in (("cats with watermark", "cats with the mark"), ("dogs with watermark", "dogs with it"),
                            ("cats without watermark", "cats without"), ("dogs without watermark", "dogs without")):
        assert f"{words} {100 * means[quadrant]:.0f}%" in narrative, (quadrant, narrative)
    # the CSV: every photo, the columns asked for, the same shares as the table's means
    table = pd.read_csv(io.BytesIO(downloads["quadrant_csv"].data))
    assert downloads["quadrant_csv"].file_name == "quadrants-watermark-100.csv"
    assert list(table.columns) == ["id", "truth", "watermarked", "quadrant", "share", "predicted", "confidence"]
    assert len(table) == 200 and table["id"].is_unique
    for quadrant, mean in means.items():
        assert table[table["quadrant"] == quadrant]["share"].mean() == pytest.approx(mean, abs=1e-9)
    # a few shares, independently: one photo per quadrant, its own gradient-squared map and box
    from dashboard.common.demo_sets import quadrant_set
    from saliency_core import explain
    from saliency_core.metrics import top_percent_share

    demo = quadrant_set(50)
    picks = [0, 50, 100, 150]
    maps = explain(served("watermark-100"), demo.images[picks].contiguous(), "gradient_squared").maps
    shares = top_percent_share(maps, demo.boxes[picks].long(), percent=0.5)
    for k, i in enumerate(picks):
        row = table[table["id"] == demo.ids[i]].iloc[0]
        assert row["share"] == pytest.approx(float(shares[k]), abs=0.025)  # a tie may swap a pixel or two
    # the normal model: its own narrative, and no missing-watermark lesson
    at.segmented_control(key="quadrant_model").set_value("normal").run()
    no_exception(at)
    assert any("**0%: " in str(m.value) for m in at.markdown)
    assert "lesson_l_quadrants" in block_keys(at) and "lesson_missing" not in block_keys(at)


def test_every_dot_can_be_pinned_from_the_pin_box(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    from dashboard.common.demo_sets import quadrant_set

    ids = quadrant_set(50).ids
    at = app_test(QUADRANTS)
    pick = at.selectbox(key="quadrant_pick")
    assert pick.value is None and len(pick.options) == 200
    assert all(any(f" · {i} · " in option for option in pick.options) for i in ids)  # every dot is listed
    image_id = ids[120]  # a cat without watermark
    at.selectbox(key="quadrant_pick").set_value(image_id).run()
    no_exception(at)
    assert at.session_state["quadrant_selected"] == image_id
    assert f"**{image_id}**" in texts(at)
    assert "cyan box; orange = the top 0.5% pixels counted in the share" in texts(at)
    # the pinned map is the share's recipe: the box outlined in cyan, the top pixels in orange
    panel = next(str(m.value) for m in at.markdown if "gradient squared, the box" in str(m.value))
    found = re.search(r'src="data:image/png;base64,([^"]+)"[^>]*alt="gradient squared', panel)
    assert found is not None
    uri = found.group(1)
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("RGB")).reshape(-1, 3)
    colours = {tuple(int(v) for v in c) for c in picture}
    assert BOX_COLOUR in colours and TOP_COLOUR in colours
    # a click pins too, and the box follows; Unpin clears both
    at.session_state["quadrant_selected"] = ids[3]
    at.run()
    assert at.selectbox(key="quadrant_pick").value == ids[3]
    at.button(key="quadrant_unpin").click().run()
    assert at.selectbox(key="quadrant_pick").value is None and at.session_state["quadrant_selected"] is None


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


@pytest.mark.e2e
def test_a_photo_is_pinned_with_the_keyboard_alone(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    """Tab to the "Pin a photo" box, type an id, Enter: its detail and map are pinned; no mouse."""
    needs_zoo("watermark-100")
    from dashboard.common.demo_sets import quadrant_set

    image_id = quadrant_set(50).ids[170]  # a dog without watermark: low in the list of 200
    page = browser_page
    goto_page(page, streamlit_server, "quadrants")
    no_browser_exception(page)
    detail = page.locator(".st-key-quadrant_detail")
    expect(detail).to_contain_text("Click a dot")
    focused = "() => !!document.activeElement && document.activeElement.matches('.st-key-quadrant_pick input')"
    for _ in range(150):
        page.keyboard.press("Tab")
        if page.evaluate(focused):
            break
    else:
        pytest.fail("Tab never reached the Pin-a-photo box")
    page.keyboard.type(f"{image_id} ·")
    options = page.get_by_role("option")
    expect(options.first).to_contain_text(f"{image_id} ·")  # the best match first: the one dot with that id
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(detail).to_contain_text(image_id)
    expect(detail).to_contain_text("Salient pixels in the box")
    expect(detail).to_contain_text("orange = the top 0.5% pixels")
    expect(detail.locator("img[alt^='gradient squared']")).to_be_visible()
    no_browser_exception(page)
    screenshot(page, "quadrants-keyboard-pin")
