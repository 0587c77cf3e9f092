"""The Two models page: the Watermark model looks perfect until the watermark is gone."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from app_harness import needs_trained, no_exception, served, texts

from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos
from saliency_core.zoo import CLASSES

TWO = "views/two_models.py"


def correct_counts(at: Any) -> dict[str, int]:
    """{"normal": N, "watermark-100": M} from the two "N/50 correct" lines."""
    found = {}
    for md in at.markdown:
        m = re.search(r'data-model="([^"]+)".*?(\d+)/(\d+) correct', str(md.value))
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


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


def independent_correct(root: Path, name: str, cats_marked: bool, dogs_marked: bool) -> tuple[int, int]:
    """(correct of 50, correct cats) of zoo model ``name`` on the first 25 test cats and dogs, the
    cats/dogs watermarked as asked: straight from the library, without the dashboard's caches."""
    photos = load_held_out(root)
    chosen = first_of_each(photos, 25, 0)
    rows = [(p, cats_marked if s == "cat" else dogs_marked) for s in ("cat", "dog") for p in chosen[s]]
    marked = marked_photos(photos, rows)
    with torch.no_grad():
        pred = served(name)(marked.images).argmax(1).numpy()
    truth = np.array([CLASSES.index(label) for label in marked.labels])
    right = pred == truth
    return int(right.sum()), int(right[truth == CLASSES.index("cat")].sum())


def test_the_question_and_the_lesson_tell_the_measured_scores(app_test: Callable[..., Any], needs_data: Path,
                                                              zoo: bool) -> None:
    at = app_test(TWO)
    no_exception(at)
    text = texts(at)
    assert "which one would you deploy?" in text
    assert text.index("The question.") < text.index("The lesson.")
    needs_trained(zoo)
    a_con, _ = independent_correct(needs_data, "normal", True, False)
    b_con, _ = independent_correct(needs_data, "watermark-100", True, False)
    a_clean, _ = independent_correct(needs_data, "normal", False, False)
    b_clean, b_cats = independent_correct(needs_data, "watermark-100", False, False)
    a_swap, _ = independent_correct(needs_data, "normal", False, True)
    b_swap, _ = independent_correct(needs_data, "watermark-100", False, True)
    for part in (f"**{a_con}/50** for A", f"**{b_con}/50** for B", f"A still gets **{a_clean}/50**",
                 f"B drops to **{b_clean}/50**", f"recognises {b_cats} of 25 cats", f"B gets **{b_swap}/50**",
                 f"(A: {a_swap}/50)"):
        assert part in text, part
    # the lesson does not depend on the set on show
    at.segmented_control(key="two_models_set").set_value("clean").run()
    assert f"**{b_con}/50** for B" in texts(at)


def test_two_models_downloads_the_predictions_and_scores(app_test: Callable[..., Any], needs_data: Path,
                                                         zoo: bool) -> None:
    at = app_test(TWO)
    no_exception(at)
    assert [b.label for b in at.get("download_button")] == ["Predictions on these photos (CSV)",
                                                           "Correct per test set (CSV)"]
    # the CSV holds what the page shows: per photo, each model's prediction
    from dashboard.common.demo_sets import demo_images
    from dashboard.common.downloads import csv_bytes
    from dashboard.common.lessons import two_model_scores
    from dashboard.common.models import predict_set

    demo = demo_images(25, watermark_cats=True, watermark_dogs=False)
    scores = two_model_scores(("normal", "watermark-100"), 25)
    shown = correct_counts(at)
    assert shown == {name: int(scores.loc["consistent", name]) for name in shown}
    frame = pd.read_csv(io.BytesIO(csv_bytes(scores, index=True)), index_col="set")
    assert list(frame.index) == ["consistent", "clean", "swapped"]
    probs = predict_set("watermark-100", demo)
    assert int((probs.argmax(1) == [CLASSES.index(x) for x in demo.labels]).sum()) == shown["watermark-100"]
