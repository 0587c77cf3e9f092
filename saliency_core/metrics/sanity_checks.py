"""Sanity checks for saliency maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

A map that explains the model must change when the model changes:

* **cascading model-parameter randomisation**: re-initialise the layers one by one from the top
  (output) down, keeping earlier randomisations, and compare each step's maps with the original;
* **independent-layer randomisation**: re-initialise one layer at a time on a fresh copy;
* **data randomisation**: compare the maps of a model with those of the same architecture trained
  on permuted labels (the caller trains it and passes both models).

Similarities per image between an original map a and a randomised map b (after scaling each map
to [0, 1] with its own min and max; a constant map becomes all zeros):

* ``spearman``: Spearman rank correlation of the raw maps (Pearson correlation of pixel ranks,
  ties averaged); ``spearman_abs``: the same on |a|, |b|;
* ``ssim``: structural similarity (skimage, data range 1, window min(7, side) made odd);
* ``hog``: Pearson correlation of the skimage HOG feature vectors (9 orientations, 8x8 cells per
  image side, 2x2 blocks).

A correlation is undefined when one side is constant; we report 1.0 if both sides are identical
and 0.0 otherwise (no shared structure), so tables never contain NaN.

The user's model is never modified: every randomisation happens on a ``copy.deepcopy``. Layers
are the modules with their own parameters among convolutions, linear layers and normalisation
layers (BatchNorm/GroupNorm/LayerNorm affine), ordered top-down as the reverse of their
registration order (which is the forward order for ordinary models). Re-initialisation is seeded:
weights ~ Kaiming-uniform (a = sqrt 5, torch's default), biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
normalisation weights ~ N(1, 0.5) and biases ~ N(0, 0.5); running statistics are left alone.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from saliency_core.checks import check_batch, check_images, check_maps

# (model, images) -> maps [B,H,W], or any object with a ``maps`` attribute (an Explanation).
ExplainFn = Callable[[nn.Module, Tensor], Any]

_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
COLUMNS = ["test", "step", "layer", "image", "spearman", "spearman_abs", "ssim", "hog"]


def randomisable_layers(model: nn.Module) -> list[str]:
    """Names of the layers that randomisation re-initialises, top (output) layer first."""
    names = [
        name for name, module in model.named_modules()
        if isinstance(module, _WEIGHTED + _NORMS) and any(True for _ in module.parameters(recurse=False))
    ]
    return names[::-1]


def spaced_layers(model: nn.Module, steps: int) -> list[str]:
    """``steps`` randomisable layers evenly spaced from the top (first) to the bottom (last): the
    ``measure_at`` of a cascade on a deep network (all layers when there are no more than ``steps``)."""
    layers = randomisable_layers(model)
    if len(layers) <= steps:
        return layers
    picks = sorted({round(i * (len(layers) - 1) / (steps - 1)) for i in range(max(steps, 2))})
    return [layers[i] for i in picks]


@torch.no_grad()
def randomise_layer(module: nn.Module, seed: int) -> None:
    """Re-initialise one layer's own parameters in place, reproducibly from ``seed``."""
    g = torch.Generator(device="cpu").manual_seed(seed)

    def draw(param: Tensor, fill: Callable[[Tensor], Any]) -> None:
        fresh = torch.empty(param.shape, dtype=param.dtype)  # draw on CPU: same numbers on any device
        fill(fresh)
        param.copy_(fresh)

    if isinstance(module, _WEIGHTED):
        weight = module.weight
        fan_in = weight[0].numel()
        draw(weight, lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g))
        bias = getattr(module, "bias", None)
        if bias is not None:
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            draw(bias, lambda t: t.uniform_(-bound, bound, generator=g))
    elif isinstance(module, _NORMS):
        if getattr(module, "weight", None) is not None:
            draw(module.weight, lambda t: t.normal_(1.0, 0.5, generator=g))
        if getattr(module, "bias", None) is not None:
            draw(module.bias, lambda t: t.normal_(0.0, 0.5, generator=g))
    else:
        raise ValueError(f"cannot randomise a {type(module).__name__} layer")


def _scale01(maps: np.ndarray) -> np.ndarray:
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(1)[:, None, None]
    span = (flat.max(1) - flat.min(1))[:, None, None]
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    defined = (na > 0) & (nb > 0)
    r = (a * b).sum(1) / np.where(defined, na * nb, 1.0)
    identical = np.all(a == b, axis=1)
    return np.where(defined, np.clip(r, -1.0, 1.0), np.where(identical, 1.0, 0.0))


def _pair(a: Tensor, b: Tensor) -> tuple[np.ndarray, np.ndarray]:
    a, b = check_maps(a, "original maps"), check_maps(b, "compared maps")
    check_batch("original maps", a.shape[0], "compared maps", b.shape[0])
    if a.shape != b.shape:
        raise ValueError(f"map sizes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return a.cpu().double().numpy(), b.cpu().double().numpy()


def spearman(a: Tensor, b: Tensor, *, absolute: bool = False) -> np.ndarray:
    """Per-image Spearman rank correlation between maps ``a`` and ``b`` ``[B,H,W]``."""
    x, y = _pair(a, b)
    if absolute:
        x, y = np.abs(x), np.abs(y)
    from scipy import stats  # scipy/skimage take ~1 s to import: only when a check runs

    rx = stats.rankdata(x.reshape(x.shape[0], -1), axis=1)
    ry = stats.rankdata(y.reshape(y.shape[0], -1), axis=1)
    return _rowwise_pearson(rx, ry)


def _window(height: int, width: int) -> int:
    side = min(height, width)
    if side < 7:
        raise ValueError(f"SSIM and HOG need maps of at least 7x7 pixels, got {height}x{width}")
    return 7


def ssim(a: Tensor, b: Tensor) -> np.ndarray:
    """Per-image SSIM between maps scaled to [0, 1]."""
    x, y = _pair(a, b)
    win = _window(*x.shape[1:])
    x, y = _scale01(x), _scale01(y)
    from skimage.metrics import structural_similarity

    return np.array([structural_similarity(p, q, data_range=1.0, win_size=win) for p, q in zip(x, y)])


def hog_similarity(a: Tensor, b: Tensor) -> np.ndarray:
    """Per-image Pearson correlation of HOG features of maps scaled to [0, 1]."""
    x, y = _pair(a, b)
    _window(*x.shape[1:])
    cell = max(1, min(x.shape[1:]) // 8)
    from skimage.feature import hog

    def features(m: np.ndarray) -> np.ndarray:
        return np.stack([
            hog(img, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2),
                feature_vector=True)
            for img in m
        ])

    return _rowwise_pearson(features(_scale01(x)), features(_scale01(y)))


def similarities(a: Tensor, b: Tensor) -> pd.DataFrame:
    """All four similarities per image: columns image, spearman, spearman_abs, ssim, hog."""
    return pd.DataFrame({
        "image": np.arange(a.shape[0]),
        "spearman": spearman(a, b),
        "spearman_abs": spearman(a, b, absolute=True),
        "ssim": ssim(a, b),
        "hog": hog_similarity(a, b),
    })


def _maps(explain: ExplainFn, model: nn.Module, images: Tensor) -> Tensor:
    check_images(images, dtypes=None)  # whatever ``explain`` checks: its input must be pixels in [0, 1]
    out = explain(model, images)
    maps = getattr(out, "maps", out)
    if not isinstance(maps, Tensor):
        raise ValueError("explain must return maps [B,H,W] or an object with a .maps tensor")
    maps = check_maps(maps)
    check_batch("images", images.shape[0], "maps", maps.shape[0])
    return maps


def _layers(model: nn.Module, layers: Sequence[str] | None) -> list[str]:
    available = randomisable_layers(model)
    if layers is None:
        return available
    unknown = [name for name in layers if name not in available]
    if unknown:
        raise ValueError(f"unknown or non-randomisable layers {unknown}; available: {available}")
    return list(layers)


def _table(test: str, step: int, layer: str, original: Tensor, maps: Tensor) -> pd.DataFrame:
    table = similarities(original, maps)
    table.insert(0, "layer", layer)
    table.insert(0, "step", step)
    table.insert(0, "test", test)
    return table[COLUMNS]


def cascading_randomisation(
    model: nn.Module, images: Tensor, explain: ExplainFn, *, layers: Sequence[str] | None = None,
    seed: int = 0, measure_at: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Cascading randomisation; one row per (step, image). Step k has layers[:k+1] randomised.

    ``measure_at``: compute and compare maps only after these layers' steps (every layer above
    them is still randomised): a deep network's ~100 layers need not each cost a set of maps.
    """
    original = _maps(explain, model, images)
    copy_ = copy.deepcopy(model)
    order = _layers(model, layers)
    wanted = set(order if measure_at is None else _layers(model, measure_at))
    missing = wanted - set(order)
    if missing:
        raise ValueError(f"measure_at names layers outside the cascade: {sorted(missing)}")
    tables = []
    for step, name in enumerate(order):
        randomise_layer(copy_.get_submodule(name), seed + step)
        if name in wanted:
            tables.append(_table("cascading", step, name, original, _maps(explain, copy_, images)))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def independent_randomisation(
    model: nn.Module, images: Tensor, explain: ExplainFn, *, layers: Sequence[str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Independent-layer randomisation; one row per (layer, image), each on a fresh copy."""
    original = _maps(explain, model, images)
    tables = []
    for step, name in enumerate(_layers(model, layers)):
        copy_ = copy.deepcopy(model)
        randomise_layer(copy_.get_submodule(name), seed + step)
        tables.append(_table("independent", step, name, original, _maps(explain, copy_, images)))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def data_randomisation(
    model: nn.Module, permuted_model: nn.Module, images: Tensor, explain: ExplainFn
) -> pd.DataFrame:
    """Data-randomisation test: similarity of the maps of ``model`` and of ``permuted_model``
    (same architecture trained on permuted labels); one row per image, layer ``"all"``."""
    return _table("data", 0, "all", _maps(explain, model, images),
                  _maps(explain, permuted_model, images))
