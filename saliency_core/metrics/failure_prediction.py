"""Model-failure prediction from saliency (Pfau et al. 2019): the response-rate/accuracy curve.

Idea: if a model fails when it looks at the artefact, refusing to answer on images with high
saliency on the artefact should raise accuracy on the rest.

Given per-image saliency on the artefact s_i (e.g. m or n) and correctness c_i in {0, 1}:

* thresholds t_1 < ... < t_K are the distinct values of s;
* response rate  R(t_k) = |{i : s_i <= t_k}| / N   (share of images the model may answer);
* accuracy       A(t_k) = mean(c_i : s_i <= t_k)   (accuracy among them);
* the curve is the points (R(t_k), A(t_k)), with (0, A(t_1)) prepended so it spans R in [0, 1];
* AURRAC = trapezoid-rule area under A over R in [0, 1].

A constant-accuracy curve (saliency unrelated to failures) has AURRAC = overall accuracy; a
saliency that ranks every correct image below every wrong one gives the maximum,
q + q ln(1/q) for overall accuracy q. Ties in s enter together (one threshold), so the result does
not depend on the input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from torch import Tensor

ArrayLike = Sequence[float] | np.ndarray | Tensor


class ResponseCurve(NamedTuple):
    thresholds: np.ndarray  # [K] distinct saliency values, ascending
    response_rate: np.ndarray  # [K] R(t_k)
    accuracy: np.ndarray  # [K] A(t_k)


def _array(values: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or Inf")
    return x


def response_rate_curve(saliency: ArrayLike, correct: ArrayLike) -> ResponseCurve:
    """The response-rate/accuracy curve (see the module docstring)."""
    s = _array(saliency, "saliency")
    c = _array(correct, "correct")
    if s.size != c.size:
        raise ValueError(f"batch sizes differ: saliency has {s.size}, correct has {c.size}")
    if not np.isin(c, (0.0, 1.0)).all():
        raise ValueError("correct must contain only 0/1 (or booleans)")
    order = np.argsort(s, kind="stable")
    s, c = s[order], c[order]
    # The last index of each run of equal values: all images tied at t enter together.
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    answered = last + 1
    return ResponseCurve(s[last], answered / s.size, np.cumsum(c)[last] / answered)


def aurrac(saliency: ArrayLike, correct: ArrayLike) -> float:
    """Area under the response-rate/accuracy curve over R in [0, 1] (trapezoid rule)."""
    curve = response_rate_curve(saliency, correct)
    r = np.r_[0.0, curve.response_rate]
    a = np.r_[curve.accuracy[0], curve.accuracy]
    return float(np.trapezoid(a, r))
