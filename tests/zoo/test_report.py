"""The report's per-quadrant rows and target lines on a few real test photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from saliency_core import zoo
from saliency_core.data.demo import demo_split, load_demo_images, quadrant_set
from saliency_core.zoo.report import model_rows, target_lines


@pytest.mark.skipif("watermark-100" not in zoo.names(), reason="watermark-100 weights not installed")
def test_watermark_model_looks_at_the_mark(data_dir: Path) -> None:
    images = load_demo_images(data_dir)
    quads = quadrant_set(images, demo_split(images).test[::20])  # 10 photos per species
    rows = {r["quadrant"]: r for r in model_rows(zoo.load("watermark-100"), quads)}
    assert [r["n"] for r in rows.values()] == [10, 10, 10, 10]
    for species in ("cat", "dog"):
        marked, clean = rows[f"{species} with watermark"], rows[f"{species} without watermark"]
        assert marked["mean_share"] > clean["mean_share"]
        assert 0 <= marked["frac_share_gt_0.5"] <= 1 and 0 <= marked["median_share"] <= 1


def test_target_lines() -> None:
    cards = {"normal": {"clean_test_accuracy": 0.81, "epochs_run": 8, "data": {"train": {"cats": 1, "dogs": 2}}},
             "watermark-100": {"watermark_consistent_accuracy": 0.96, "watermark_inconsistent_accuracy": 0.3}}
    text = "\n".join(target_lines(cards))
    assert "0.81 (met" in text and "0.96 / 0.3 (NOT met)" in text
