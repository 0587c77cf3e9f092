"""Scaling a saliency map to [0, 1] for display: clipped at a high percentile, never for a metric."""

from __future__ import annotations

import numpy as np

from saliency_core.render.image import ArrayLike, as_array


def _clip_value(values: np.ndarray, clip_percentile: float) -> float:
    """The value that maps to full colour: a high percentile, so one outlier doesn't wash the map
    out; the maximum when that percentile is 0 (a sparse map would otherwise draw as blank)."""
    if not values.size:
        return 0.0
    top = float(np.percentile(values, clip_percentile))
    return top if top > 0 else float(values.max())


def scale_map(saliency: ArrayLike, *, signed: bool = False, clip_percentile: float = 99.5) -> np.ndarray:
    """A map scaled to float32 [0, 1] for display.

    Unsigned (default): negative values count as 0 (no evidence for the class), the
    ``clip_percentile`` of the rest maps to 1. ``signed``: [-c, c] → [0, 1] with 0.5 at zero, c
    the percentile of the magnitudes. NaN and ±inf are 0. An all-zero map is 0 (0.5 when signed).
    """
    a = np.nan_to_num(as_array(saliency).astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if signed:
        c = _clip_value(np.abs(a), clip_percentile)
        if c <= 0:
            return np.full_like(a, 0.5)
        return (0.5 + 0.5 * np.clip(a / c, -1.0, 1.0)).astype(np.float32)
    a = np.maximum(a, 0.0)
    c = _clip_value(a, clip_percentile)
    if c <= 0:
        return np.zeros_like(a)
    return np.clip(a / c, 0.0, 1.0).astype(np.float32)


def normalise_map(saliency: ArrayLike, clip_percentile: float = 99.5) -> np.ndarray:
    """[H,W] map → [H,W] float in [0, 1] of its magnitude (|value|; sign ignored), clipped at the
    ``clip_percentile``. Kept for callers of the original API; :func:`scale_map` is the general form."""
    values = np.nan_to_num(as_array(saliency).astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return scale_map(np.abs(values), clip_percentile=clip_percentile)
