"""The Occlusion page: hidden cells change both models' predictions; bad uploads are messages.

The grid's clicks are JavaScript; they write the app-owned session key ``occluded_cells``, which
the AppTests set directly. The ``e2e`` tests hover and click the grid in real chromium.
"""

from __future__ import annotations

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
    errors,
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

OCCLUSION = "views/occlusion.py"


def _pair_id(index: int) -> str:
    from dashboard.common.demo_sets import occlusion_pairs

    return occlusion_pairs(6).ids[index]


def readout(at: Any) -> str:
    return next(str(md.value) for md in at.markdown if "sl-occ-readout" in str(md.value))


def test_occluded_cells_change_the_predictions(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    no_exception(at)
    before = readout(at)
    assert "nothing hidden" in before
    at.session_state["occluded_cells"] = list(range(36))  # every cell of the 6x6 grid: a black image
    at.run()
    no_exception(at)
    after = readout(at)
    assert "36 cells hidden" in after
    assert after != before
    assert at.multiselect(key="occluded_cells").value == list(range(36))


def test_cell_picker_and_clear_button(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    at.multiselect(key="occluded_cells").set_value([30, 31]).run()
    no_exception(at)
    assert "2 cells hidden" in readout(at)
    at.button(key="occlusion_clear").click().run()
    assert "nothing hidden" in readout(at)


def test_watermark_model_flips_when_the_mark_is_hidden(app_test: Callable[..., Any], needs_data: Path,
                                                     zoo: bool) -> None:
    needs_trained(zoo)
    at = app_test(OCCLUSION)  # the default image is a watermarked cat
    at.session_state["occlusion_n"] = 4
    at.run()
    wm = re.search(r"Watermark: (.*)$", readout(at)).group(1)  # type: ignore[union-attr]
    assert 'data-label="cat"' in wm
    at.session_state["occluded_cells"] = [12]  # the bottom-left quarter: where the mark is
    at.run()
    no_exception(at)
    assert re.search(r"Watermark: (.*)$", readout(at)).group(1) != wm  # type: ignore[union-attr]


def test_grid_size_change_clears_the_cells(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION, state={"occluded_cells": [0, 1]})
    assert "2 cells hidden" in readout(at)
    at.select_slider(key="occlusion_n").set_value(8).run()
    no_exception(at)
    assert "nothing hidden" in readout(at)
    assert len(at.multiselect(key="occluded_cells").options) == 64


def test_every_grid_size_from_2_to_18_is_offered_and_works(app_test: Callable[..., Any], needs_data: Path,
                                                            zoo: bool) -> None:
    at = app_test(OCCLUSION)
    assert [int(o) for o in at.select_slider(key="occlusion_n").options] == list(range(2, 19))
    for n in (14, 17, 18):  # sizes that no whole-pixel square window can tile 128 px with
        at.session_state["occlusion_tab"] = "Manual"
        at.run()
        at.select_slider(key="occlusion_n").set_value(n).run()
        no_exception(at)
        assert len(at.multiselect(key="occluded_cells").options) == n * n
        at.session_state["occlusion_tab"] = "Automatic"  # a click on the tab (the browser tests click it)
        at.run()
        assert [int(o) for o in at.select_slider(key="occlusion_auto_n").options] == list(range(2, 19))
        at.select_slider(key="occlusion_auto_n").set_value(n).run()
        no_exception(at)
        captions = [c.caption for img in at.image for c in img.proto.imgs if c.caption]
        assert any(f"each of {n}×{n} cells hidden" in c for c in captions)


def test_automatic_maps_and_another_image(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    assert "occlusion_auto_n" not in [s.key for s in at.select_slider]  # the Automatic tab is closed: not run
    at.session_state["occlusion_tab"] = "Automatic"  # a click on the tab
    at.run()
    captions = [c for img in at.image for c in img.proto.imgs for c in [c.caption] if c]
    assert any("P(dog)" in c for c in captions)
    assert any("occlusion attribution" in c for c in captions)
    # the strip's clicks are JavaScript (the e2e test_the_photo_strip_picks_a_photo_and_clears_the_hidden_cells);
    # here the app-owned key they write
    at.session_state["occlusion_image"] = _pair_id(2)  # a clean dog
    at.run()
    no_exception(at)
    assert at.session_state["occlusion_strip"] == _pair_id(2)  # the strip follows the chosen photo


def test_upload_a_bad_file_is_a_plain_error(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("broken.png", b"not an image", "image/png")).run()
    no_exception(at)
    assert any("can't be used" in str(e.value) for e in at.error)


def test_removing_a_bad_occlusion_upload_clears_its_error(app_test: Callable[..., Any], needs_data: Path,
                                                          zoo: bool) -> None:
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("text.jpg", b"just text", "image/jpeg")).run()
    assert not at.exception
    assert any("text.jpg" in m for m in errors(at))
    at.file_uploader(key="occlusion_upload").set_value(("empty.png", b"", "image/png")).run()
    assert not at.exception
    assert any("empty.png" in m and "empty" in m for m in errors(at))
    at.file_uploader(key="occlusion_upload").set_value(None).run()
    assert not at.exception and not at.error  # no stale error about a file that is gone


def test_uploaded_image_is_occluded(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)).save(buffer, "PNG")
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("mine.png", buffer.getvalue(), "image/png")).run()
    no_exception(at)
    assert not at.error
    assert at.session_state["occlusion_image"] == "upload"
    assert "Your image: mine.png" in texts(at)
    at.session_state["occluded_cells"] = [0, 7]
    at.run()
    assert "2 cells hidden" in readout(at)


def test_question_first_and_the_measured_lesson_last(app_test: Callable[..., Any], needs_data: Path,
                                                     zoo: bool) -> None:
    at = app_test(OCCLUSION)
    no_exception(at)
    keys = block_keys(at)
    assert keys.index("lesson_q_occlusion") < keys.index("lesson_l_occlusion")
    assert keys[-1] == "lesson_l_occlusion"  # measured last, after the page's own content
    text = texts(at)
    assert "What must you hide to flip the watermark model?" in text
    assert "Why the fine 18×18 grid misses the mark" in text and "325 forward passes" in text
    # a clean photo: its box is where the mark would be
    at.session_state["occlusion_image"] = _pair_id(2)
    at.run()
    no_exception(at)
    assert "This photo has no watermark" in texts(at)


def test_an_uploaded_photo_has_no_lesson(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(buffer, "PNG")
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("mine.png", buffer.getvalue(), "image/png")).run()
    no_exception(at)
    assert "lesson_q_occlusion" in block_keys(at) and "lesson_l_occlusion" not in block_keys(at)


def test_each_automatic_grid_downloads_as_png_and_csv(app_test: Callable[..., Any], needs_data: Path, zoo: bool,
                                                      downloads: dict[str, Download]) -> None:
    from dashboard.common.demo_sets import occlusion_pairs
    from saliency_core import cell_grid

    at = app_test(OCCLUSION, state={"occlusion_tab": "Automatic"})
    no_exception(at)
    image = occlusion_pairs(6).images[1]  # the page's default photo
    g = cell_grid(6, 128)  # the automatic grid's default size
    for name in ("normal", "watermark-100"):
        png = Image.open(io.BytesIO(downloads[f"occlusion_grid_png_{name}"].data))
        assert png.format == "PNG" and png.size == (384, 384)  # the picture as shown
        table = pd.read_csv(io.BytesIO(downloads[f"occlusion_grid_csv_{name}"].data))
        assert list(table.columns) == ["cell", "row", "column", "x0", "y0", "x1", "y1", "P(cat)", "P(dog)"]
        assert table["cell"].tolist() == list(range(36)) and table[["row", "column"]].max().tolist() == [6, 6]
        # independently: each cell blacked out in its own copy, one plain forward pass
        hidden = image.repeat(36, 1, 1, 1)
        for cell in range(36):
            hidden[cell][:, g.mask([cell])] = 0
        with torch.no_grad():
            expected = served(name)(hidden).softmax(-1).numpy()
        np.testing.assert_allclose(table[["P(cat)", "P(dog)"]].to_numpy(), expected, atol=1e-4)


# ------------------------------------------------------------------------------ in the browser
def open_occlusion(server: str, page: Any) -> Any:
    """The Occlusion page, loaded (its two models must be installed)."""
    needs_zoo("normal", "watermark-100")
    goto_page(page, server, "occlusion")
    wait_for_app(page)
    return page


@pytest.mark.e2e
def test_hover_in_manual_occlusion_changes_a_chip(streamlit_server: str, browser_page: Any,
                                                 needs_data: Path) -> None:
    page = open_occlusion(streamlit_server, browser_page)
    no_browser_exception(page)
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
    no_browser_exception(page)
    page.get_by_role("tab", name="Automatic").click()
    wait_for_app(page)
    expect(page.get_by_text("with each of 6×6 cells hidden").first).to_be_visible()
    no_browser_exception(page)
    screenshot(page, "occlusion-automatic")


@pytest.mark.e2e
def test_the_photo_strip_picks_a_photo_and_clears_the_hidden_cells(streamlit_server: str, browser_page: Any,
                                                                   needs_data: Path) -> None:
    page = open_occlusion(streamlit_server, browser_page)
    photos = page.locator(".st-key-occlusion_strip_strip .sl-ps-pick")
    expect(photos).to_have_count(12)
    expect(photos.nth(1)).to_have_attribute("aria-pressed", "true")  # the default: the first watermarked cat
    page.locator(".sl-occ-cell").nth(30).click()
    wait_for_app(page)
    expect(page.locator(".sl-occ-cell.hidden")).to_have_count(1)
    photos.nth(2).click()  # a clean dog
    wait_for_app(page)
    expect(photos.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(photos.nth(1)).to_have_attribute("aria-pressed", "false")
    expect(page.locator(".sl-occ-cell.hidden")).to_have_count(0)  # a new photo starts with nothing hidden
    expect(page.get_by_text(f"dog photo {_pair_id(2)}").first).to_be_visible()
    # by keyboard: Tab reaches a photo, Enter picks it
    photos.nth(3).focus()
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(photos.nth(3)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_text(f"dog photo {_pair_id(3)} with a watermark").first).to_be_visible()
    no_browser_exception(page)


@pytest.mark.e2e
def test_an_18_by_18_grid_tiles_the_image_in_the_browser(streamlit_server: str, browser_page: Any,
                                                          needs_data: Path) -> None:
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
    no_browser_exception(page)
    screenshot(page, "occlusion-18x18")
