"""The Mystery models page: three models under neutral titles, a spoiler per click."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
import torch
from app_harness import (
    goto_page,
    needs_trained,
    no_browser_exception,
    no_exception,
    screenshot,
    served,
    texts,
    wait_for_app,
    zoo_loads,
)
from playwright.sync_api import expect

from dashboard.common import lessons
from saliency_core.artefacts import cage
from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos
from saliency_core.metrics import greyscale

MYSTERY = "views/mystery.py"


def mystery_grid(at: Any) -> str:
    grids = [str(m.value) for m in at.markdown if 'class="sl-mystery"' in str(m.value)]
    assert len(grids) == 1
    return grids[0]


def test_mystery_reveal_sets_the_spoiler(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(MYSTERY)
    assert not at.exception
    order = at.session_state["mystery_order"]
    assert sorted(order) == ["cages", "colours", "normal"]
    assert [b.label for b in at.button if b.key and b.key.startswith("mystery_reveal_")] == [
        "Mystery model 1", "Mystery model 2", "Mystery model 3"]
    grid = mystery_grid(at)
    assert grid.count("<img ") == 16  # 4 inputs + 3 models x 4 maps, one HTML grid
    assert grid.count('role="columnheader"') == 4
    for k in (1, 2, 3):  # every map carries its model's label (the grid never stacks)
        assert grid.count(f"<span class=\"sl-mlabel\">Mystery model {k}</span>") == 4
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
    expect(page.locator(".sl-mystery img")).to_have_count(16)
    page.get_by_role("button", name="Mystery model 2").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMain").get_by_test_id("stAlertContentSuccess")).to_have_count(1)
    expect(page.get_by_text("Mystery model 2 is the")).to_be_visible()
    no_browser_exception(page)
    screenshot(page, "mystery-revealed")


@pytest.mark.e2e
def test_the_last_reveal_opens_the_measured_numbers(streamlit_server: str, browser_page: Any,
                                                    needs_data: Path) -> None:
    """A reveal reruns only the panel (a fragment); the last one reruns the page, so the lesson's
    expander below it opens and the numbers are measured."""
    if not zoo_loads("cages", "colours", "normal"):
        pytest.skip("the mystery models' weights (cages, colours, normal) are not installed")
    page = browser_page
    goto_page(page, streamlit_server, "mystery")
    expect(page.get_by_text("caged dogs cats")).to_have_count(0)  # not measured on a first visit
    for k in (1, 2, 3):
        page.get_by_role("button", name=f"Mystery model {k}").click()
        wait_for_app(page)
    expect(page.get_by_text("caged dogs cats")).to_be_visible(timeout=120_000)
    no_browser_exception(page)


def independent_evidence(root: Path) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """(caged dogs, uncaged photos, caged dogs called cats, greyscale flips on the uncaged photos)
    per mystery model, rebuilt from the library alone: the first 10 test cats and dogs alternating,
    the last two of every four behind cage bars (seed = position), as the page builds them."""
    photos = load_held_out(root)
    chosen = first_of_each(photos, 10, 0)
    order = [p for pair in zip(chosen["cat"], chosen["dog"]) for p in pair]
    marked = marked_photos(photos, [(p, False) for p in order])
    images = marked.images.clone()
    caged = [j % 4 >= 2 for j in range(len(order))]
    for j in range(len(order)):
        if caged[j]:
            images[j] = cage(images[j], seed=j)[0]
    dogs = [label == "dog" for label in marked.labels]
    as_cat, grey = {}, {}
    for name in ("cages", "colours", "normal"):
        model = served(name)
        with torch.no_grad():
            pred = model(images).argmax(1)
            free = images[[not c for c in caged]]
            grey_pred = model(greyscale(free)).argmax(1)
        as_cat[name] = sum(int(pred[j]) == 0 and caged[j] and dogs[j] for j in range(len(order)))
        grey[name] = int((grey_pred != model(free).argmax(1)).sum())
    return sum(c and d for c, d in zip(caged, dogs)), caged.count(False), as_cat, grey


def test_mystery_question_lesson_and_downloads(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(MYSTERY)
    no_exception(at)
    text = texts(at)
    assert "Can you find the cheats" in text
    assert "Post hoc Explanations may be Ineffective for Detecting Unknown Spurious Correlation" in text
    assert "https://arxiv.org/abs/2212.04629" in text and "https://arxiv.org/abs/2011.05429" in text
    assert text.index("The question.") < text.index("The lesson.")
    assert [b.label for b in at.get("download_button")] == ["These maps (PNG)", "These predictions (CSV)"]
    assert not at.expander[0].proto.expanded  # spoilers closed until every model is revealed
    # a first visit does not measure all 20 photos: the numbers wait behind a button
    assert "caged dogs cats" not in text and not at.progress
    at.button(key="mystery_measure_button").click().run()
    no_exception(at)
    text = texts(at)
    assert "caged dogs cats" in text and not at.expander[0].proto.expanded
    at.button(key="mystery_shuffle").click().run()  # kept: another click does not hide them again
    assert "caged dogs cats" in texts(at)
    needs_trained(zoo)
    caged_dogs, uncaged, as_cat, grey = independent_evidence(needs_data)
    assert f"calls {as_cat['cages']} of {caged_dogs} caged dogs cats (normal model: {as_cat['normal']})" in text
    assert f"Turn the {uncaged} uncaged photos grey and {grey['colours']} of its predictions change " \
           f"(normal model: {grey['normal']})" in text


def test_revealing_every_model_opens_the_measured_numbers(app_test: Callable[..., Any], needs_data: Path,
                                                          zoo: bool) -> None:
    at = app_test(MYSTERY)
    no_exception(at)
    for k in (1, 2):
        at.button(key=f"mystery_reveal_{k}").click().run()
    assert "caged dogs cats" not in texts(at) and not at.expander[0].proto.expanded
    at.button(key="mystery_reveal_3").click().run()
    no_exception(at)
    assert at.expander[0].proto.expanded and "caged dogs cats" in texts(at)
    assert len(at.main.success) == 3
    assert "mystery_measure_button" not in [b.key for b in at.button]  # measured, not asked for


def lesson_numbers(at: Any) -> str:
    [numbers] = [str(m.value) for m in at.markdown if "caged dogs cats" in str(m.value)]
    return numbers


def test_the_measured_numbers_are_kept_on_disk_for_the_next_server(
        app_test: Callable[..., Any], needs_data: Path, zoo: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(MYSTERY)
    at.button(key="mystery_measure_button").click().run()
    no_exception(at)
    measured = lesson_numbers(at)
    st.cache_resource.clear()  # a new server: nothing in memory, the same disk cache
    st.cache_data.clear()

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("measured again instead of read from disk")

    monkeypatch.setattr(lessons, "measure_mystery", never)
    again = app_test(MYSTERY)
    again.button(key="mystery_measure_button").click().run()
    no_exception(again)
    assert lesson_numbers(again) == measured


@pytest.mark.e2e
def test_mystery_at_phone_width(streamlit_server: str, chromium_browser: Any, needs_data: Path) -> None:
    """At 400 x 800 the grid keeps its four columns and labels, and nothing scrolls sideways."""
    if not zoo_loads("cages", "colours", "normal"):
        pytest.skip("the mystery models' weights (cages, colours, normal) are not installed")
    context = chromium_browser.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        goto_page(page, streamlit_server, "mystery")
        no_browser_exception(page)
        expect(page.locator(".sl-mystery img")).to_have_count(16)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
        heads = page.locator(".sl-mystery [role=columnheader]")
        expect(heads).to_have_count(4)
        boxes = [heads.nth(i).bounding_box() for i in range(4)]
        assert all(b is not None and b["width"] > 40 for b in boxes)
        assert len({round(b["y"]) for b in boxes}) == 1  # one row: the columns did not stack
        assert boxes[3]["x"] + boxes[3]["width"] <= 400
        labels = page.locator(".sl-mystery .sl-mlabel")
        expect(labels).to_have_count(12)
        for i in range(12):
            expect(labels.nth(i)).to_be_visible()
        screenshot(page, "mystery-400px")
    finally:
        context.close()


def test_every_batch_is_prefetched_for_the_shuffle(app_test: Callable[..., Any], needs_data: Path, zoo: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With background work on (a real server), the first visit starts one thread that computes
    the other batches' maps into the panel's cache; the shuffle then walks every batch."""
    import threading
    import time

    from dashboard.common import explanations

    monkeypatch.setenv("SALIENCY_WARMUP", "1")
    explanations._batch_maps.clear()
    at = app_test(MYSTERY)
    deadline = time.monotonic() + 120
    while any(t.name.endswith("mystery-prefetch") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(t.name.endswith("mystery-prefetch") for t in threading.enumerate())
    computed = []
    real = explanations.explain_locked
    monkeypatch.setattr(explanations, "explain_locked", lambda *a, **k: computed.append(1) or real(*a, **k))
    for batch in range(2, 6):
        at.button(key="mystery_shuffle").click().run()
        assert not at.exception
        assert any(f"Batch {batch} of 5" in str(c.value) for c in at.caption), batch
    assert computed == []  # every batch came from the prefetched cache

