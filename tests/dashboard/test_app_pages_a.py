"""AppTest of pages 1-4 (Two models, Occlusion, Gradients, Quadrants) and the app frame.

The JavaScript-driven inputs (the occlusion grid's clicks, the quadrant chart's selection) write
app-owned session keys (``occluded_cells``, ``quadrant_selected``); these tests set those keys.
Behaviour that needs the trained zoo (the Watermark model failing on clean cats) skips, with the
reason, where the weights are not installed; every page still runs on stand-in models then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
import torch
from _dashboard_helpers import texts, zoo_loads

TWO = "views/two_models.py"
OCCLUSION = "views/occlusion.py"
GRADIENTS = "views/gradients.py"
QUADRANTS = "views/quadrants.py"
PAGES_A = (TWO, OCCLUSION, GRADIENTS, QUADRANTS)
NEEDED = ("normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100")


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """True with the trained zoo; False with seeded random stand-ins under the zoo's names.

    Streamlit's caches are cleared around each test, so models (real or stand-in) and the results
    computed with them never leak between tests.
    """
    st.cache_resource.clear()
    st.cache_data.clear()
    real = zoo_loads(*NEEDED)
    if not real:
        from saliency_core import zoo as zoo_module
        from saliency_core.zoo.architecture import DemoCNN

        def fake_load(name: str) -> torch.nn.Module:
            torch.manual_seed(sum(map(ord, name)))
            return DemoCNN(width=8).eval()

        monkeypatch.setattr(zoo_module, "load", fake_load)
        monkeypatch.setattr(zoo_module, "names", lambda: [*NEEDED, "cages", "colours"])
    yield real
    st.cache_resource.clear()
    st.cache_data.clear()


def needs_trained(real: bool) -> None:
    if not real:
        pytest.skip("the zoo's trained weights are not installed (saliency-lab train --all)")


def no_exception(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def correct_counts(at: Any) -> dict[str, int]:
    """{"normal": N, "watermark-100": M} from the two "N/50 correct" lines."""
    found = {}
    for md in at.markdown:
        m = re.search(r'data-model="([^"]+)".*?(\d+)/(\d+) correct', str(md.value))
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


def readout(at: Any) -> str:
    return next(str(md.value) for md in at.markdown if "sl-occ-readout" in str(md.value))


# ------------------------------------------------------------------------------------- the frame


def test_sidebar_shows_data_and_backend(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test()
    no_exception(at)
    sidebar = "\n".join(str(e.value) for e in [*at.sidebar.success, *at.sidebar.caption])
    assert "photos" in sidebar
    assert "Kernel backend" in sidebar


def test_sidebar_without_data_says_how_to_get_it(app_test: Callable[..., Any], zoo: bool) -> None:
    at = app_test(data=False)
    no_exception(at)
    warning = "\n".join(str(e.value) for e in at.sidebar.warning)
    assert "SALIENCY_DATA" in warning and "saliency-lab data fetch" in warning


@pytest.mark.parametrize("page", PAGES_A)
def test_page_without_data_shows_the_how_to(app_test: Callable[..., Any], zoo: bool, page: str) -> None:
    at = app_test(page, data=False)
    no_exception(at)
    info = "\n".join(str(e.value) for e in at.info)
    assert "No demo photos found" in info
    assert "SALIENCY_DATA" in info and "saliency-lab data fetch" in info
    assert not at.image  # nothing else ran


@pytest.mark.parametrize("page", PAGES_A)
def test_every_page_runs(app_test: Callable[..., Any], needs_data: Path, zoo: bool, page: str) -> None:
    at = app_test(page)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.title


# ------------------------------------------------------------------------------------ two models


def test_two_models_toggle_changes_the_counts(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(TWO)
    no_exception(at)
    first = correct_counts(at)
    assert set(first) == {"normal", "watermark-100"}
    assert "50 correct" in texts(at)
    at.segmented_control(key="two_models_set").set_value("clean").run()
    no_exception(at)
    clean = correct_counts(at)
    assert set(clean) == {"normal", "watermark-100"}
    needs_trained(zoo)
    # the Watermark model learned "watermark -> cat": without the mark it calls cats dogs
    assert clean["watermark-100"] <= first["watermark-100"] - 10, (first, clean)
    assert first["watermark-100"] >= 45
    assert clean["normal"] >= 33  # about 79% clean-test accuracy (model card)


# ------------------------------------------------------------------------------------- occlusion


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
    assert [int(o) for o in at.select_slider(key="occlusion_auto_n").options] == list(range(2, 19))
    for n in (14, 17, 18):  # sizes that no whole-pixel square window can tile 128 px with
        at.select_slider(key="occlusion_n").set_value(n).run()
        at.select_slider(key="occlusion_auto_n").set_value(n).run()
        no_exception(at)
        assert len(at.multiselect(key="occluded_cells").options) == n * n
        captions = [c.caption for img in at.image for c in img.proto.imgs if c.caption]
        assert any(f"each of {n}×{n} cells hidden" in c for c in captions)


def test_automatic_maps_and_another_image(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    captions = [c for img in at.image for c in img.proto.imgs for c in [c.caption] if c]
    assert any("P(dog)" in c for c in captions)
    assert any("occlusion attribution" in c for c in captions)
    at.button(key="occlusion_strip_pick_2").click().run()  # a clean dog
    no_exception(at)
    assert at.session_state["occlusion_image"] == at.session_state["occlusion_strip"]
    assert at.session_state["occluded_cells"] == []


def test_upload_a_bad_file_is_a_plain_error(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(OCCLUSION)
    at.file_uploader(key="occlusion_upload").set_value(("broken.png", b"not an image", "image/png")).run()
    no_exception(at)
    assert any("can't be used" in str(e.value) for e in at.error)


def test_uploaded_image_is_occluded(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    import io

    import numpy as np
    from PIL import Image

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


# ------------------------------------------------------------------------------------- gradients


def test_gradients_all_methods_for_one_model(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(GRADIENTS)
    no_exception(at)
    default_images = len(at.image)
    at.multiselect(key="gradients_models").set_value(["normal"])
    at.multiselect(key="gradients_methods").set_value([
        "vanilla_gradient", "gradient_squared", "smoothgrad", "integrated_gradients", "guided_backprop",
        "grad_cam", "competitive_gradient_x_input", "rectified_gradient", "rectified_gradient_unbiased"])
    at.run()
    no_exception(at)
    strip = 12  # the image picker's thumbnails
    assert len(at.image) == strip + 1 + 9 + 3  # input + nine maps, then the footnote's three
    assert default_images == strip + 2 * (1 + 3) + 3
    at.slider(key="gradients_alpha").set_value(0.3).run()
    no_exception(at)


def test_gradients_needs_a_model_and_a_method(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(GRADIENTS)
    at.multiselect(key="gradients_methods").set_value([]).run()
    no_exception(at)
    assert any("at least one model and one method" in str(e.value) for e in at.info)


# ------------------------------------------------------------------------------------- quadrants


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


# ------------------------------------------------------------------------------ saliency-lab demo


def test_demo_command_runs_the_app_with_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    from saliency_core.cli import main

    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd, env: calls.append((cmd, env)) or 0)
    assert main(["demo", "--port", "8765", "--data", str(tmp_path), "--headless"]) == 0
    cmd, env = calls[0]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert "8765" in cmd and "--server.headless" in cmd
    assert env["SALIENCY_DATA"] == str(tmp_path.resolve())
    assert main(["demo", "--data", str(tmp_path / "missing")]) == 2  # a plain error, no traceback
    assert main(["demo", "--port", "0"]) == 2
    assert len(calls) == 1
