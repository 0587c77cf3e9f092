"""Kendall tau between bias level and global saliency."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from saliency_core.metrics import bias_tracking

LEVELS = [0, 25, 50, 75, 100]


def test_monotone_increasing_statistic_gives_tau_one() -> None:
    assert bias_tracking(LEVELS, [0.1, 0.2, 0.35, 0.5, 0.9]).tau == pytest.approx(1.0)


def test_reversed_statistic_gives_tau_minus_one() -> None:
    assert bias_tracking(LEVELS, [0.9, 0.5, 0.35, 0.2, 0.1]).tau == pytest.approx(-1.0)


def test_tau_matches_a_naive_concordant_pair_count() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.permutation(8), rng.normal(size=8)  # no ties: tau-b = tau-a
    pairs = list(itertools.combinations(range(8), 2))
    score = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs)
    assert bias_tracking(x, y).tau == pytest.approx(score / len(pairs))


@pytest.mark.parametrize(
    ("levels", "statistic", "message"),
    [([0, 50], [0.1, 0.2, 0.3], "batch sizes differ"), ([0], [0.1], "at least two"),
     ([0, 50], [0.1, float("nan")], "NaN"), ([0, 50], [0.2, 0.2], "undefined")],
)
def test_bad_input_raises_value_error(levels: list[float], statistic: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bias_tracking(levels, statistic)
