"""End-to-end (real chromium) tests of pages 5-7: a spoiler reveal, an upload that shows its map,
the audit page's charts; a full-page screenshot of each page under test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _dashboard_helpers import data_path, goto_page, screenshot, wait_for_app, zoo_loads
from PIL import Image

pytestmark = pytest.mark.e2e


def open_page(page: Any, base_url: str, url_path: str) -> None:
    """A deep link straight into the page (pages live in dashboard/views/, so Streamlit's legacy
    pages/ listing never takes over a fresh server)."""
    goto_page(page, base_url, url_path)


def no_exception(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_spoiler_reveal(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    from playwright.sync_api import expect

    if not zoo_loads("cages", "colours", "normal"):
        pytest.skip("the mystery models' weights (cages, colours, normal) are not installed")
    page = browser_page
    open_page(page, streamlit_server, "mystery")
    no_exception(page)
    expect(page.get_by_test_id("stImage")).to_have_count(16)
    page.get_by_role("button", name="Mystery model 2").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMain").get_by_test_id("stAlertContentSuccess")).to_have_count(1)
    expect(page.get_by_text("Mystery model 2 is the")).to_be_visible()
    no_exception(page)
    screenshot(page, "b_mystery")


def test_upload_shows_its_saliency_map(streamlit_server: str, browser_page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, streamlit_server, "your_model")
    no_exception(page)
    if not zoo_loads():  # no zoo: bring a model, as a user would (weights + architecture name)
        from safetensors.torch import save_file

        from saliency_core.zoo.architecture import DemoCNN

        weights = tmp_path / "my_model.safetensors"
        save_file({k: v.contiguous() for k, v in DemoCNN().state_dict().items()}, weights)
        page.get_by_text("Upload a model").click()
        wait_for_app(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(1).set_input_files(str(weights))
        wait_for_app(page)
    photo = tmp_path / "kitten.png"
    data = data_path()
    if data is not None and (data / "cat" / "cat.4001.jpg").is_file():  # a real photo reads better
        Image.open(data / "cat" / "cat.4001.jpg").save(photo)
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photo)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(photo))
    wait_for_app(page)
    expect(page.get_by_text("4. Maps and results")).to_be_visible()
    expect(page.get_by_text("Gradient squared").first).to_be_visible()
    # thumbnail, box preview, the input with its box and at least one saliency map
    assert page.get_by_test_id("stImage").count() >= 4
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    no_exception(page)
    screenshot(page, "b_your_model")


def test_audit_page(streamlit_server: str, browser_page: Any) -> None:
    from playwright.sync_api import expect

    from dashboard.views._b_helpers import CACHE_DIR

    page = browser_page
    open_page(page, streamlit_server, "dataset_audit")
    no_exception(page)
    if (CACHE_DIR / "meta.json").is_file():
        expect(page.get_by_text("Precomputed report")).to_be_visible()
        expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
        for tab in ("Failure prediction", "Sanity checks", "Core vs spurious", "Counterfactual flips"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
        no_exception(page)
        page.get_by_role("tab", name="Global saliency").click()
    screenshot(page, "b_dataset_audit")
    if (CACHE_DIR / "meta.json").is_file():
        page.get_by_role("tab", name="Counterfactual flips").click()
        page.wait_for_timeout(500)
        screenshot(page, "b_dataset_audit_flips")
