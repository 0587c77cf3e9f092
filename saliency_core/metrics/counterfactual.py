"""Counterfactual artefact tests: does the prediction flip when the artefact changes?

For a transform T (image batch -> image batch: add/remove a watermark, add cage bars, greyscale,
hue shift, ...) the flip indicator of image x is [argmax f(T(x)) != argmax f(x)]. Per class c
(the true label), the flip rate is k_c / n_c with a Wilson score interval

    (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),   p = k/n, z = Phi^-1(1 - alpha/2),

which stays inside [0, 1] and is sensible for k = 0 or k = n. Saliency can look innocent while
the model cheats; a high flip rate under greyscale proves a colour shortcut.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import pandas as pd
import torch
from torch import Tensor, nn

from saliency_core.checks import check_finite, check_labels
from saliency_core.metrics.predict import check_model_images, predict, predict_with_classes
from saliency_core.metrics.transforms import greyscale, hue_shift

Transform = Callable[[Tensor], Tensor]

__all__ = ["flips", "flip_rates", "wilson_interval", "greyscale", "hue_shift"]


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k / n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    confidence = check_finite("confidence", confidence, low=0, high=1, closed="neither")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def flips(model: nn.Module, images: Tensor, transform: Transform, *, batch_size: int = 64) -> Tensor:
    """Boolean ``[B]``: whether the predicted class changes under ``transform``."""
    return _flips(model, images, transform, batch_size)[0]


def _flips(model: nn.Module, images: Tensor, transform: Transform, batch_size: int) -> tuple[Tensor, int]:
    """(flips, the model's number of outputs)."""
    check_model_images(images)
    transformed = transform(images)
    if not isinstance(transformed, Tensor) or transformed.shape != images.shape:
        shape = tuple(transformed.shape) if isinstance(transformed, Tensor) else type(transformed).__name__
        raise ValueError(f"transform must return images of shape {tuple(images.shape)}, got {shape}")
    check_model_images(transformed, name="transformed images")  # the transform's mistake, named as such
    with torch.no_grad():
        before, classes = predict_with_classes(model, images, batch_size)
        return before != predict(model, transformed, batch_size), classes


def flip_rates(
    model: nn.Module, images: Tensor, labels: Tensor, transform: Transform, *,
    class_names: Sequence[str] | None = None, confidence: float = 0.95, batch_size: int = 64,
) -> pd.DataFrame:
    """Per true class: columns class, n, flips, rate, ci_low, ci_high (Wilson)."""
    check_model_images(images)
    labels = check_labels(labels, images.shape[0])
    if class_names is not None:
        check_labels(labels, images.shape[0], len(class_names), "the number of class_names")
    flipped, classes = _flips(model, images, transform, batch_size)
    check_labels(labels, images.shape[0], classes)  # known once the model has run (no extra pass)
    rows = []
    for label in labels.unique().tolist():
        sel = labels == label
        n, k = int(sel.sum()), int(flipped[sel].sum())
        low, high = wilson_interval(k, n, confidence)
        rows.append({"class": class_names[label] if class_names is not None else label,
                     "n": n, "flips": k, "rate": k / n, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["class", "n", "flips", "rate", "ci_low", "ci_high"])
