"""Global saliency (Pfau et al. 2019, "Global Saliency: Aggregating Saliency Maps to Assess
Dataset Artefact Bias").

For a model f, a saliency method g and an artefact region A of image x (box or mask):

* mean saliency   m_{f,g,A}(x) = (1/|A|) * sum_{p in A} g(x)_p
* peak saliency   n_{f,g,A}(x) = |{p in A : g(x)_p >= P_n}| / |{p : g(x)_p >= P_n}|
  where P_n is the (100 - ``percent``)-th percentile of g(x): the share of the image's top
  ``percent``% pixels that fall inside A (ties at the threshold count, as in ``top_percent_share``).

Maps may first be normalised (``normalise``) so that images and datasets are comparable, and the
per-image values are aggregated per class with percentile-bootstrap confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from saliency_core.checks import (
    check_batch,
    check_finite,
    check_float_pair,
    check_labels,
    check_maps,
    check_positive,
    region_masks,
)
from saliency_core.metrics.region_share import top_percent_share

Normalisation = Literal["none", "image_mean", "image_sum", "dataset"]


class GlobalSaliency(NamedTuple):
    m: Tensor  # [B] mean saliency inside the artefact region
    n: Tensor  # [B] share of the top-percent pixels inside the artefact region


def normalise(
    maps: Tensor, mode: Normalisation = "none", stats: tuple[float, float] | None = None
) -> Tensor:
    """Normalise saliency maps ``[B,H,W]``.

    * ``"none"``: unchanged.
    * ``"image_mean"``: g / mean_p |g_p| per image, so m = 1 means "as salient as the image on
      average" (|.| keeps the sign of signed maps). All-zero maps stay zero.
    * ``"image_sum"``: g / sum_p |g_p| per image (each map sums to 1 if non-negative).
    * ``"dataset"``: z-score with one mean and standard deviation over every pixel of every map,
      (g - mu) / sigma. Pass ``stats=(mu, sigma)`` computed over the whole dataset when maps arrive
      in batches; by default they are taken from ``maps`` (which should then be the whole dataset).
    """
    maps = check_maps(maps)
    if mode == "none":
        return maps
    if mode in ("image_mean", "image_sum"):
        scale = maps.abs().flatten(1)
        scale = scale.mean(1) if mode == "image_mean" else scale.sum(1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # zero maps stay zero
        return maps / scale[:, None, None]
    if mode == "dataset":
        if stats is None:
            mu, sigma = float(maps.mean()), float(maps.std(correction=0))
        else:
            mu, sigma = check_float_pair("stats", stats)
        if not np.isfinite(mu) or not np.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"dataset normalisation needs a positive finite std, got {sigma}")
        return (maps - mu) / sigma
    raise ValueError(f"unknown normalisation {mode!r}: use none, image_mean, image_sum or dataset")


def mean_saliency(maps: Tensor, region: Tensor) -> Tensor:
    """m_{f,g,A}: the mean of each map over its region (boxes ``[B,4]`` or masks ``[B,H,W]``)."""
    maps = check_maps(maps)
    masks = region_masks(region, *maps.shape).to(maps.device)
    return (maps * masks).flatten(1).sum(1) / masks.flatten(1).sum(1)


def peak_saliency(maps: Tensor, region: Tensor, percent: float = 1.0) -> Tensor:
    """n_{f,g,A}: share of the top ``percent``% pixels (above P_n) that lie inside the region."""
    maps = check_maps(maps)
    percent = check_finite("percent", percent, low=0, high=100, closed="right")
    masks = region_masks(region, *maps.shape)  # validates the region before the kernel sees it
    return top_percent_share(maps, masks.to(maps.device), percent=percent).float()


def global_saliency(
    maps: Tensor, region: Tensor, *, percent: float = 1.0, normalisation: Normalisation = "none",
    stats: tuple[float, float] | None = None,
) -> GlobalSaliency:
    """Per-image (m, n) after ``normalise(maps, normalisation, stats)``."""
    maps = normalise(maps, normalisation, stats)
    return GlobalSaliency(mean_saliency(maps, region), peak_saliency(maps, region, percent))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray | Tensor, *, n_boot: int = 2000, confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval.

    All ``n_boot`` resamples are drawn at once (one ``[n_boot, N]`` index array), seeded.
    """
    x = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap needs a non-empty 1-D array of values, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap values contain NaN or Inf")
    check_finite("confidence", confidence, low=0, high=1, closed="neither")
    n_boot = check_positive("n_boot", n_boot)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(x.mean()), float(low), float(high)


def per_class(
    values: Sequence[float] | np.ndarray | Tensor, labels: Sequence[int] | np.ndarray | Tensor, *,
    class_names: Sequence[str] | None = None, n_boot: int = 2000, confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-class mean of a per-image statistic (m or n) with bootstrap CIs.

    Columns: class, n, mean, ci_low, ci_high (one row per class present, sorted by label).
    """
    x = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels)
    check_batch("values", x.shape[0], "labels", y.shape[0])
    if class_names is not None:  # each label must name one of them
        check_labels(y, y.shape[0], len(class_names), "the number of class_names")
    rows = []
    for label in np.unique(y):
        mean, low, high = bootstrap_ci(x[y == label], n_boot=n_boot, confidence=confidence, seed=seed)
        name = class_names[int(label)] if class_names is not None else label
        rows.append({"class": name, "n": int((y == label).sum()), "mean": mean,
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["class", "n", "mean", "ci_low", "ci_high"])
