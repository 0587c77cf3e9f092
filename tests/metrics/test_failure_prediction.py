"""Response-rate/accuracy curve and AURRAC against a naive loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saliency_core.metrics import aurrac, response_rate_curve


def naive_aurrac(saliency: list[float], correct: list[int]) -> float:
    """Straight from the definition: one point per distinct threshold, (0, A_1) prepended."""
    points = []
    for t in sorted(set(saliency)):
        answered = [c for s, c in zip(saliency, correct) if s <= t]
        points.append((len(answered) / len(saliency), sum(answered) / len(answered)))
    points.insert(0, (0.0, points[0][1]))
    return sum((r1 - r0) * (a0 + a1) / 2 for (r0, a0), (r1, a1) in zip(points, points[1:]))


def test_aurrac_matches_the_naive_loop_with_ties() -> None:
    rng = np.random.default_rng(3)
    saliency = rng.integers(0, 10, size=60).astype(float).tolist()  # many ties
    correct = rng.integers(0, 2, size=60).tolist()
    assert aurrac(saliency, correct) == pytest.approx(naive_aurrac(saliency, correct))


def test_a_perfect_failure_predictor_beats_a_random_one() -> None:
    rng = np.random.default_rng(4)
    correct = np.r_[np.ones(300), np.zeros(200)]
    perfect = np.r_[rng.uniform(0, 1, 300), rng.uniform(2, 3, 200)]  # failures most salient
    random = rng.uniform(0, 1, 500)
    q = 0.6
    assert aurrac(perfect, correct) == pytest.approx(naive_aurrac(perfect.tolist(), correct.tolist()))
    assert aurrac(perfect, correct) == pytest.approx(q + q * math.log(1 / q), abs=0.01)
    assert aurrac(random, correct) == pytest.approx(q, abs=0.05)
    assert aurrac(perfect, correct) > aurrac(random, correct) + 0.2


def test_curve_ends_at_full_response_and_overall_accuracy() -> None:
    curve = response_rate_curve([0.3, 0.1, 0.2, 0.2], [1, 1, 0, 1])
    assert curve.thresholds.tolist() == [0.1, 0.2, 0.3]
    assert curve.response_rate.tolist() == [0.25, 0.75, 1.0]
    assert curve.accuracy.tolist() == pytest.approx([1.0, 2 / 3, 0.75])


def test_all_correct_gives_aurrac_one() -> None:
    assert aurrac([0.5, 0.1, 0.9], [1, 1, 1]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("saliency", "correct", "message"),
    [([0.1, 0.2], [1], "batch sizes differ"), ([float("inf")], [1], "NaN or Inf"),
     ([0.1], [2], "0/1"), ([], [], "non-empty")],
)
def test_bad_input_raises_value_error(saliency: list[float], correct: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aurrac(saliency, correct)
