"""The Gradients page: every method's map for the chosen models, side by side; white on black by
default; the signed gradient as arrows on a patch; the squared map's lost direction, counted live."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from app_harness import goto_page, no_browser_exception, no_exception, screenshot, served, texts, wait_for_app
from PIL import Image
from playwright.sync_api import expect
from story_pieces import Download, downloads  # noqa: F401 - downloads is a fixture

from saliency_core import explain
from saliency_core.methods import METHODS

GRADIENTS = "views/gradients.py"
SIGNED_SECTION = 3  # st.image: input with the patch, signed map, its colour bar
FOOTNOTE = 4  # one HTML row: input, vanilla, squared, signed
PATCH = 12


def _array(value: Any) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {dtype, bdata, shape} (plotly >= 6)."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            a = a.reshape([int(v) for v in str(shape).split(",")])
        return a
    return np.asarray(value if value is not None else [], dtype=np.float64)


def _arrows(at: Any) -> dict[str, np.ndarray]:
    """The arrows figure's heads by trace name: rows of (y, x, value)."""
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    return {d["name"]: _array(d.get("customdata")).reshape(-1, 3) for d in spec["data"]
            if d.get("mode") == "markers"}


def _html(at: Any, css_class: str) -> str:
    [body] = [str(h.value) for h in at.html if f'class="{css_class}"' in str(h.value)]
    return body


def _grid(at: Any) -> tuple[list[str], list[str]]:
    """The maps grid (one HTML element): its column headings and its pictures' sources, row by row."""
    body = _html(at, "sl-gradients-grid")
    return re.findall(r'role="columnheader"[^>]*>([^<]*)<', body), re.findall(r'<img src="([^"]+)"', body)


def _image(index: int = 1) -> torch.Tensor:
    from dashboard.common.demo_sets import occlusion_pairs

    return occlusion_pairs(6).images[index]


def _signed(name: str, image: torch.Tensor) -> np.ndarray:
    model = served(name)
    return explain(model, image[None], "signed_gradient", target=0).maps[0].numpy()  # 0 = cat


def test_gradients_all_methods_for_one_model(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(GRADIENTS)
    no_exception(at)
    headings, pictures = _grid(at)
    assert headings == ["Input", "Vanilla gradient", "Gradient squared", "Grad-CAM"]
    assert len(pictures) == 2 * (1 + 3)  # two models: the input and three maps each
    at.multiselect(key="gradients_models").set_value(["normal"])
    at.multiselect(key="gradients_methods").set_value([
        "vanilla_gradient", "gradient_squared", "smoothgrad", "integrated_gradients", "guided_backprop",
        "grad_cam", "competitive_gradient_x_input", "rectified_gradient", "rectified_gradient_unbiased"])
    at.run()
    no_exception(at)
    headings, pictures = _grid(at)
    assert len(headings) == 1 + 9 and len(pictures) == 1 + 9  # the input and nine maps
    assert len(set(pictures[1:])) == 9  # nine different maps
    assert _html(at, "sl-gradients-legend").count("<img ") == 1  # the colour bar
    assert _html(at, "sl-gradients-footnote").count("<img ") == FOOTNOTE
    assert len(at.image) == SIGNED_SECTION
    at.radio(key="gradients_style").set_value("Overlay").run()
    at.slider(key="gradients_alpha").set_value(0.3).run()
    no_exception(at)


def test_gradients_needs_a_model_and_a_method(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(GRADIENTS)
    at.multiselect(key="gradients_methods").set_value([]).run()
    no_exception(at)
    assert any("at least one model and one method" in str(e.value) for e in at.info)


def test_maps_default_to_white_on_black_with_a_colour_bar(app_test: Callable[..., Any], needs_data: Path,
                                                        zoo: bool) -> None:
    at = app_test(GRADIENTS)
    no_exception(at)
    style = at.radio(key="gradients_style")
    assert style.value == "White on black" and list(style.options) == ["White on black", "Overlay"]
    assert at.slider(key="gradients_alpha").disabled  # opacity only matters for overlays
    assert "black = no effect, white = the map's top 0.5%" in texts(at)
    first_map = _grid(at)[1][1]  # the first model's first map
    style.set_value("Overlay").run()
    no_exception(at)
    assert not at.slider(key="gradients_alpha").disabled
    assert "pale yellow" in texts(at)
    assert _grid(at)[1][1] != first_map


def test_arrows_show_the_signed_gradient_of_the_patch(app_test: Callable[..., Any], needs_data: Path,
                                                      zoo: bool) -> None:
    at = app_test(GRADIENTS)
    no_exception(at)
    heads = _arrows(at)
    assert set(heads) >= {"toward cat", "toward dog"}
    assert sum(len(v) for v in heads.values()) == PATCH * PATCH  # one arrow per pixel
    assert len(heads["toward cat"]) >= 1 and len(heads["toward dog"]) >= 1  # both ways on a real photo
    assert (heads["toward cat"][:, 2] > 0).all() and (heads["toward dog"][:, 2] < 0).all()
    x = next(s for s in at.slider if s.label == "Patch left (x)")
    y = next(s for s in at.slider if s.label == "Patch top (y)")
    # The default patch is centred on the watermark's box (clipped to the frame).
    from dashboard.common.demo_sets import occlusion_pairs

    box = [round(float(v)) for v in occlusion_pairs(6).boxes[1]]
    assert (x.value, y.value) == (min(max((box[0] + box[2]) // 2 - PATCH // 2, 0), 128 - PATCH),
                                  min(max((box[1] + box[3]) // 2 - PATCH // 2, 0), 128 - PATCH))
    _check_patch(heads, _signed("watermark-100", _image(1)), x.value, y.value)
    x.set_value(40).run()
    next(s for s in at.slider if s.label == "Patch top (y)").set_value(50).run()
    no_exception(at)
    _check_patch(_arrows(at), _signed("watermark-100", _image(1)), 40, 50)


def _check_patch(heads: dict[str, np.ndarray], signed: np.ndarray, px: int, py: int) -> None:
    rows = np.concatenate(list(heads.values()))
    ys, xs = rows[:, 0].astype(int), rows[:, 1].astype(int)
    assert sorted(zip(ys.tolist(), xs.tolist())) == [(r, c) for r in range(py, py + PATCH)
                                                     for c in range(px, px + PATCH)]
    np.testing.assert_allclose(rows[:, 2], signed[ys, xs], rtol=1e-5, atol=1e-9)


def test_the_maps_grid_and_the_patch_download(app_test: Callable[..., Any], needs_data: Path, zoo: bool,
                                             downloads: dict[str, Download]) -> None:
    from dashboard.common.render import map_picture, upscale

    at = app_test(GRADIENTS)
    no_exception(at)
    # the grid as one PNG: a row per model (normal, watermark-100), the input then a map per method
    grid = np.asarray(Image.open(io.BytesIO(downloads["gradients_png"].data)).convert("RGB"))
    side, gap = 256, 2
    assert grid.shape == (2 * side + gap, 4 * side + 3 * gap, 3)
    image = _image(1)
    np.testing.assert_array_equal(grid[:side, :side], upscale(image, side))
    for row, name in enumerate(("normal", "watermark-100")):
        model = served(name)
        for col, method in enumerate(("vanilla_gradient", "gradient_squared", "grad_cam"), start=1):
            expected = map_picture(image, explain(model, image[None], method).maps[0].numpy(), size=side)
            top, left = row * (side + gap), col * (side + gap)
            block = grid[top:top + side, left:left + side].astype(int)
            assert np.abs(block - expected.astype(int)).mean() < 1.0, (name, method)
    # the arrows' patch as CSV: one row per pixel, the signed gradient toward cat
    x = next(s for s in at.slider if s.label == "Patch left (x)").value
    y = next(s for s in at.slider if s.label == "Patch top (y)").value
    patch = pd.read_csv(io.BytesIO(downloads["gradients_patch_csv"].data))
    assert list(patch.columns) == ["x", "y", "gradient"] and len(patch) == PATCH * PATCH
    assert sorted(zip(patch["y"], patch["x"])) == [(r, c) for r in range(y, y + PATCH) for c in range(x, x + PATCH)]
    signed = _signed("watermark-100", image)
    np.testing.assert_allclose(patch["gradient"], signed[patch["y"], patch["x"]], rtol=1e-5, atol=1e-9)


def test_the_squared_lesson_counts_directions_like_an_independent_count(
        app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(GRADIENTS)
    no_exception(at)
    sentence = next(m.value for m in at.markdown if "Squaring drops the direction" in m.value)
    found = re.search(r"\((\d+) pixels\), \*\*(\d+) push toward cat\*\* and \*\*(\d+) toward dog", sentence)
    assert found, sentence
    top, cat, dog = (int(v) for v in found.groups())
    from dashboard.common.demo_sets import occlusion_pairs

    pairs = occlusion_pairs(6)
    image = pairs.images[pairs.ids.index(next(i for i in pairs.ids if i.endswith("_wm")))]
    model = served("watermark-100")
    squared = explain(model, image[None], "gradient_squared").maps[0].numpy().ravel()
    signed = explain(model, image[None], "signed_gradient", target=0).maps[0].numpy().ravel()
    k = math.ceil(0.005 * squared.size)
    order = np.argsort(-squared, kind="stable")[:k]
    assert (top, cat, dog) == (k, int((signed[order] > 0).sum()), int((signed[order] < 0).sum()))
    assert "size only" not in texts(at)


def test_every_method_has_a_help_line(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    from dashboard.common.method_help import METHOD_HELP, help_line
    from dashboard.common.models import METHOD_LABELS

    assert set(METHODS) <= set(METHOD_HELP)
    for method in METHODS:
        what, misleads = METHOD_HELP[method]
        assert what.strip() and misleads.strip() and help_line(method)
    at = app_test(GRADIENTS)
    no_exception(at)
    picker = at.multiselect(key="gradients_methods")
    by_label = {label: name for name, label in METHOD_LABELS.items()}
    for label in picker.options:  # the picker shows labels
        assert f"**{label}**: {help_line(by_label[label])}" in picker.help
    assert len(at.table) == 1  # every method, in the expander beside the picker
    table = at.table[0].value
    assert len(table) == len(METHODS)  # the chosen ones first, then every other registered method


@pytest.mark.e2e
def test_arrows_figure_renders_in_chromium(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    page = browser_page
    goto_page(page, streamlit_server, "gradients")
    no_browser_exception(page)
    chart = page.get_by_test_id("stPlotlyChart")
    expect(chart).to_have_count(1)
    chart.scroll_into_view_if_needed()
    # plotly draws each arrow head as a marker path inside the chart's SVG
    expect(chart.locator("g.trace.scatter path.point").first).to_be_visible()
    assert chart.locator("g.trace.scatter path.point").count() == PATCH * PATCH
    expect(page.get_by_text("Squaring drops the direction")).to_be_visible()
    no_browser_exception(page)
    screenshot(page, "gradients-arrows")


def test_the_question_opens_and_the_measured_lesson_closes(app_test: Callable[..., Any], needs_data: Path,
                                                          zoo: bool) -> None:
    from story_pieces import block_keys

    import saliency_core
    from dashboard.common.demo_sets import occlusion_pairs
    from saliency_core.metrics import top_percent_share
    from saliency_core.methods.signed_gradient import direction_counts

    at = app_test("views/gradients.py")
    assert not at.exception, [e.value for e in at.exception]
    keys = block_keys(at)
    assert "lesson_q_gradients" in keys and "lesson_l_gradients" in keys
    assert keys.index("lesson_q_gradients") < keys.index("lesson_l_gradients")
    # the lesson's numbers, recomputed from the library on the footnote's photo (the first watermarked one)
    pairs = occlusion_pairs(6)
    foot = pairs.ids.index(next(i for i in pairs.ids if i.endswith("_wm")))
    model = served("watermark-100")
    x = pairs.images[foot][None]
    squared = saliency_core.explain(model, x, "gradient_squared").maps[0]
    signed = saliency_core.explain(model, x, "signed_gradient", target=0).maps[0]
    split = direction_counts(squared, signed, 0.005)
    share = float(top_percent_share(squared[None], pairs.boxes[foot][None].long(), percent=0.5)[0])
    text = " ".join(m.value for m in at.markdown)
    assert f"split **{split.toward} toward cat and {split.away} toward dog**" in text
    assert f"{100 * share:.0f}% of them lie in the watermark box" in text


@pytest.mark.e2e
def test_the_maps_png_is_made_on_the_click(streamlit_server: str, browser_page: Any, needs_data: Path) -> None:
    """The PNG's bytes are made when the button is clicked (a callable): the browser gets a PNG."""
    page = browser_page
    goto_page(page, streamlit_server, "gradients")
    button = page.locator(".st-key-gradients_png button")
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = info.value.path()
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert info.value.suggested_filename.startswith("gradients-") and info.value.suggested_filename.endswith(".png")
