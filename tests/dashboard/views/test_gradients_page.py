"""The Gradients page: every method's map for the chosen models, side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app_harness import no_exception

GRADIENTS = "views/gradients.py"


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
