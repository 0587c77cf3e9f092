"""Tracking dataset bias (Pfau et al. 2019): does global saliency follow the bias level?

Models are trained with increasing artefact/label co-occurrence (e.g. 0, 25, 50, 75, 100% of the
cats watermarked). If a saliency method tracks the bias, a per-model global-saliency statistic on
the artefact (e.g. the mean of m or n over a test set) should rise with the bias level. The score
is Kendall's rank correlation tau-b between the two sequences (scipy): +1 for a perfectly monotone
increase, -1 for a perfectly monotone decrease, ties handled by tau-b.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class BiasTracking(NamedTuple):
    tau: float  # Kendall tau-b between bias levels and the statistic
    pvalue: float  # two-sided p-value of tau = 0 (exact for small samples without ties)


def bias_tracking(levels: Sequence[float], statistic: Sequence[float]) -> BiasTracking:
    """Kendall tau between ``levels[i]`` (model i's bias level) and ``statistic[i]``."""
    x = np.asarray(levels, dtype=np.float64)
    y = np.asarray(statistic, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("levels and statistic must be 1-D sequences (one value per model)")
    if x.size != y.size:
        raise ValueError(f"batch sizes differ: {x.size} bias levels but {y.size} statistics")
    if x.size < 2:
        raise ValueError("Kendall tau needs at least two models")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("levels or statistic contain NaN or Inf")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("Kendall tau is undefined when all levels or all statistics are equal")
    from scipy import stats  # ~0.5 s to import: only when a trend is measured, not with every page

    result = stats.kendalltau(x, y)
    return BiasTracking(float(result.statistic), float(result.pvalue))
