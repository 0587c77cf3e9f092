"""The Beyond-simple-saliency page: the sanity check, K-SSD/CCM/FAM and counterfactual flips run
live on a few photos, the families of methods beyond saliency, and the link on to the audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from app_harness import no_exception, served, texts

import saliency_core
from saliency_core.data.quadrants import first_of_each, load_held_out, marked_photos
from saliency_core.metrics.sanity_checks import cascading_randomisation, spaced_layers

BEYOND = "views/beyond.py"


def frame_with(at: Any, column: str) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) == 1, [list(d.value.columns) for d in at.dataframe]
    return frames[0]


def independent_sanity(root: Path) -> pd.DataFrame:
    """The page's sanity check recomputed from the library alone: the first two clean test cats
    and dogs, the zoo's normal model (batch norms folded, as served), vanilla gradients, cascading randomisation; means per step."""
    photos = load_held_out(root)
    chosen = first_of_each(photos, 4, 0)
    rows = [(p, False) for species in ("cat", "dog") for p in chosen[species][:2]]
    images = marked_photos(photos, rows).images
    model = served("normal")  # as the server serves it
    table = cascading_randomisation(model, images, lambda m, x: saliency_core.explain(m, x, "vanilla_gradient"),
                                    measure_at=spaced_layers(model, 12))
    return table.groupby(["step", "layer"], sort=False)[["spearman", "spearman_abs", "ssim", "hog"]].mean()


def test_beyond_page_runs_the_three_tests(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(BEYOND)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    text = texts(at)
    for family in ("XRAI", "LIME", "SHAP", "Influence functions", "TCAV"):
        assert family in text
    assert [m.label for m in at.metric] == ["K-SSD (watermark model)", "CCM (normal vs watermark)",
                                            "FAM (normal vs watermark)"]
    for m in at.metric:
        assert -1.0 <= float(m.value) <= 1.0

    flips = frame_with(at, "flip rate")
    assert set(flips["transform"]) == {"greyscale", "hue shifted 180°"} and set(flips["n"]) == {8}
    assert [(link.value, link.proto.page) for link in at.page_link] == [("Next: Dataset audit", "dataset_audit")]
    assert [b.label for b in at.get("download_button")] == [
        "Sanity check, per photo and step (CSV)", "K-SSD, CCM and FAM per photo (CSV)", "Flip rates per class (CSV)"]


def test_the_sanity_numbers_match_the_library(app_test: Callable[..., Any], needs_data: Path, zoo: bool) -> None:
    at = app_test(BEYOND)
    no_exception(at)
    shown = frame_with(at, "spearman").set_index(["step", "layer"])
    expected = independent_sanity(needs_data)
    assert list(shown.index) == list(expected.index)
    # The page's table may come from disk (shipped, or written by an earlier server that ran with
    # another thread count): the maps then differ in their last float bits, which SSIM and HOG
    # amplify to ~2e-4. A wrong layer, photo or model moves these scores by 0.01 or more.
    np.testing.assert_allclose(shown[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-3, atol=1e-3)
    last = expected.iloc[-1]
    assert f"Spearman) with the original map is {last['spearman']:.2f}" in texts(at)
