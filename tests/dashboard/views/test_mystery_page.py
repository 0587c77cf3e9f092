"""The Mystery models page: three models under neutral titles, a spoiler per click."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from app_harness import goto_page, no_browser_exception, screenshot, texts, wait_for_app, zoo_loads
from playwright.sync_api import expect

MYSTERY = "views/mystery.py"


def test_mystery_reveal_sets_the_spoiler(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(MYSTERY)
    assert not at.exception
    order = at.session_state["mystery_order"]
    assert sorted(order) == ["cages", "colours", "normal"]
    assert [b.label for b in at.button if b.key and b.key.startswith("mystery_reveal_")] == [
        "Mystery model 1", "Mystery model 2", "Mystery model 3"]
    assert len(at.image) == 16  # 4 inputs + 3 models x 4 maps
    assert not at.main.success  # nothing revealed yet

    colours_column = order.index("colours") + 1
    at.button(key=f"mystery_reveal_{colours_column}").click().run()
    assert not at.exception
    assert at.session_state["mystery_revealed"] == ["colours"]
    spoiler = at.main.success[0].value
    assert spoiler.startswith(f"**Mystery model {colours_column} is the colour detector.**")
    assert "counterfactual" in spoiler

    at.button(key="mystery_shuffle").click().run()
    assert at.session_state["mystery_batch"] == 1
    assert at.session_state["mystery_revealed"] == ["colours"]  # reveals survive a shuffle
    at.segmented_control(key="mystery_method").set_value("Gradient squared").run()
    assert not at.exception
    at.button(key="mystery_hide").click().run()
    assert at.session_state["mystery_revealed"] == [] and not at.main.success


def test_mystery_without_data_says_how_to_get_it(app_test: Callable[..., Any]) -> None:
    at = app_test(MYSTERY, data=False)
    assert not at.exception
    assert "SALIENCY_DATA" in texts(at)


@pytest.mark.e2e
def test_spoiler_reveal(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    if not zoo_loads("cages", "colours", "normal"):
        pytest.skip("the mystery models' weights (cages, colours, normal) are not installed")
    page = browser_page
    goto_page(page, streamlit_server, "mystery")
    no_browser_exception(page)
    expect(page.get_by_test_id("stImage")).to_have_count(16)
    page.get_by_role("button", name="Mystery model 2").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMain").get_by_test_id("stAlertContentSuccess")).to_have_count(1)
    expect(page.get_by_text("Mystery model 2 is the")).to_be_visible()
    no_browser_exception(page)
    screenshot(page, "mystery-revealed")
