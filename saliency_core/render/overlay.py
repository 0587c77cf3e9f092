"""Maps drawn over pictures: a coloured map blended over the image, a value grid as cells, a box."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import cv2
import numpy as np

from saliency_core.checks import check_finite, check_positive
from saliency_core.render.colour import SIGNED_COLORMAPS, colorize
from saliency_core.render.image import ArrayLike, as_array, resize, to_uint8

# Grid lines darken the first pixel row/column of each cell to this fraction: visible on any
# colour without hiding the image under them.
_GRID_LINE_SHADE = 0.7


def blend(image: np.ndarray, colours: np.ndarray, alpha: float) -> np.ndarray:
    """(1 − α)·image + α·colours, both uint8 [H,W,3], rounded to uint8."""
    alpha = check_finite("alpha", alpha, low=0, high=1)
    out = (1 - alpha) * image.astype(np.float32) + alpha * colours.astype(np.float32)
    return (out + 0.5).astype(np.uint8)


def overlay(image: ArrayLike, saliency: ArrayLike, alpha: float = 0.6, cmap: str = "saliency") -> np.ndarray:
    """The coloured map blended over the image, uint8 [H,W,3]; ``alpha`` is the map's weight.

    ``image``: [3,H,W] / [H,W,3], float in [0,1] or uint8. ``saliency``: [H,W] (resized
    bilinearly to the image when smaller/larger) or [C,H,W] attributions, summed over channels
    (magnitudes, unless ``cmap`` is a signed ramp, where the sign matters).
    """
    alpha = check_finite("alpha", alpha, low=0, high=1)
    img = to_uint8(image)
    a = as_array(saliency).astype(np.float32)
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise ValueError(f"saliency must be a non-empty map [H,W] or attributions [C,H,W], got shape {a.shape}")
    if a.ndim == 3:
        a = a.sum(0) if cmap in SIGNED_COLORMAPS else np.abs(a).sum(0)
    colours = colorize(resize(a, img.shape[:2]), cmap)
    return blend(img, colours, alpha)


def grid_overlay(
    image: ArrayLike,
    values: ArrayLike,
    alpha: float = 0.65,
    *,
    edges: Optional[Union[np.ndarray, Sequence[float]]] = None,
    frame: Optional[int] = None,
) -> np.ndarray:
    """An n×m grid of values in [0,1] (e.g. P(dog) with that cell hidden) as PuOr cells over the
    image, with thin darker lines between cells.

    ``edges``: the n + 1 cell edges in pixels of the ``frame``-pixel model input, the same on both
    axes (the image may be shown larger than the frame). Default: an even split of the picture.
    """
    alpha = check_finite("alpha", alpha, low=0, high=1)
    img = to_uint8(image)
    v = as_array(values).astype(np.float32)
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"values must be a non-empty grid [n,m], got shape {v.shape}")
    h, w = img.shape[:2]
    n_r, n_c = v.shape
    if edges is None:
        rows = np.minimum(np.arange(h) * n_r // h, n_r - 1)
        cols = np.minimum(np.arange(w) * n_c // w, n_c - 1)
    else:
        e = np.asarray(edges, dtype=np.float64)
        if n_r != n_c or e.shape != (n_r + 1,):
            raise ValueError(f"edges ({e.size}) must be the n + 1 cell edges of a square n×n grid of values, "
                             f"got values {n_r}×{n_c}")
        size = frame or h
        # The cell holding each displayed pixel's centre, in frame coordinates: uneven grids
        # (cells of 7 and 8 px) stay exact at any display size.
        rows = np.clip(np.searchsorted(e, (np.arange(h) + 0.5) * size / h, side="right") - 1, 0, n_r - 1)
        cols = np.clip(np.searchsorted(e, (np.arange(w) + 0.5) * size / w, side="right") - 1, 0, n_c - 1)
    cells = colorize(v, "puor")[rows[:, None], cols[None, :]].astype(np.float32)
    out = (1 - alpha) * img.astype(np.float32) + alpha * cells
    out[np.diff(rows, prepend=rows[0]) > 0, :, :] *= _GRID_LINE_SHADE
    out[:, np.diff(cols, prepend=cols[0]) > 0, :] *= _GRID_LINE_SHADE
    return (out + 0.5).astype(np.uint8)


def draw_box(
    picture: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int] = (0, 255, 255),
    thickness: int = 1,
) -> np.ndarray:
    """A copy of ``picture`` (uint8 [H,W,3]) with the (x0, y0, x1, y1) box outlined (x1/y1
    exclusive, as the metrics' boxes), ``thickness`` px drawn inside the box so it never covers
    the pixels around it."""
    thickness = check_positive("thickness", thickness)
    out = picture.copy()
    x0, y0, x1, y1 = (int(v) for v in box)
    for inset in range(thickness):
        if x1 - 1 - inset < x0 + inset or y1 - 1 - inset < y0 + inset:
            break
        cv2.rectangle(out, (x0 + inset, y0 + inset), (x1 - 1 - inset, y1 - 1 - inset), colour, 1)
    return out
