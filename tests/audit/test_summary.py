"""summarize(): per-group counts, accuracy, share statistics and Wilson intervals."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from saliency_core.audit import quadrant, summarize
from saliency_core.metrics import wilson_interval


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [str(i) for i in range(6)],
        "model": ["a"] * 4 + ["b"] * 2,
        "method": ["m"] * 6,
        "truth": [0, 0, 1, 1, 0, 1],
        "prediction": [0, 1, 1, 1, 0, 0],
        "share": [0.9, 0.2, 0.6, float("nan"), 0.1, 0.8],
        "flip_grey": [True, False, False, False, True, True],
    })


def test_groups_by_the_available_columns_and_counts_by_hand() -> None:
    summary = summarize(_table())  # "watermarked" is absent: ignored
    assert list(summary.columns[:3]) == ["model", "method", "truth"]
    row = summary[(summary["model"] == "a") & (summary["truth"] == 0)].iloc[0]
    assert row["n"] == 2 and row["accuracy"] == 0.5
    assert row["mean_share"] == pytest.approx(0.55) and row["median_share"] == pytest.approx(0.55)
    assert row["share_over"] == 0.5
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx(wilson_interval(1, 2))
    assert row["flip_grey"] == 0.5


def test_images_without_a_region_count_for_accuracy_but_not_for_share() -> None:
    summary = summarize(_table(), by=("model", "truth"))
    row = summary[(summary["model"] == "a") & (summary["truth"] == 1)].iloc[0]
    assert row["n"] == 2 and row["accuracy"] == 1.0
    assert row["mean_share"] == pytest.approx(0.6) and row["share_over"] == 1.0


def test_no_grouping_summarises_the_whole_table() -> None:
    summary = summarize(_table(), by=())
    assert len(summary) == 1 and summary.loc[0, "n"] == 6
    assert summary.loc[0, "accuracy"] == pytest.approx(4 / 6)


def test_quadrants_split_correctness_by_where_the_model_looks() -> None:
    q = quadrant(_table())
    assert q.tolist() == ["correct/artefact", "wrong/elsewhere", "correct/artefact",
                          "correct/no region", "correct/elsewhere", "wrong/artefact"]
    summary = summarize(_table(), by=("quadrant",))
    assert summary.set_index("quadrant").loc["correct/artefact", "n"] == 2
    assert not math.isnan(summary["accuracy"].sum())
