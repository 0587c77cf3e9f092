"""Image and map drawing for the pages: uint8 conversion, colour maps, overlays, PNG/data URIs.

Display only: maps are scaled for the eye (clipped at a high percentile), never for a metric.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from dashboard.common.palette import puor_rgb

# Black → purple → orange → pale yellow (an inferno-like ramp) for non-negative saliency.
_SALIENCY_STOPS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)
# Blue → white → red for signed maps.
_SIGNED_STOPS = np.array([[33, 102, 172], [247, 247, 247], [178, 24, 43]], dtype=np.float32)


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


def to_uint8(image: Any) -> np.ndarray:
    """[3,H,W] or [H,W,3] (or [H,W]) float in [0,1], or uint8 → uint8 [H,W,3]."""
    a = _as_numpy(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a)


def _ramp(stops: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = np.clip(np.nan_to_num(t.astype(np.float32)), 0.0, 1.0)
    x = t * (len(stops) - 1)
    i = np.minimum(np.floor(x).astype(np.int64), len(stops) - 2)
    f = (x - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def scale_map(m: Any, *, signed: bool = False, clip_percentile: float = 99.5) -> np.ndarray:
    """A map scaled to [0,1] for display ([-1,1] → [0,1] with 0.5 at zero when ``signed``)."""
    a = _as_numpy(m).astype(np.float32)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    if signed:
        hi = float(np.percentile(np.abs(a), clip_percentile)) if a.size else 0.0
        return 0.5 + 0.5 * np.clip(a / hi, -1, 1) if hi > 0 else np.full_like(a, 0.5)
    a = np.maximum(a, 0.0)
    hi = float(np.percentile(a, clip_percentile)) if a.size else 0.0
    return np.clip(a / hi, 0, 1) if hi > 0 else np.zeros_like(a)


def colorize(m: Any, cmap: str = "saliency", *, prescaled: bool = False) -> np.ndarray:
    """uint8 [H,W,3] colours of a map: "saliency" (non-negative), "signed", or "puor" (P(dog))."""
    a = _as_numpy(m).astype(np.float32)
    if cmap == "puor":
        rgb = puor_rgb(a)
    elif cmap == "signed":
        rgb = _ramp(_SIGNED_STOPS, a if prescaled else scale_map(a, signed=True))
    elif cmap == "saliency":
        rgb = _ramp(_SALIENCY_STOPS, a if prescaled else scale_map(a))
    else:
        raise ValueError(f"unknown cmap {cmap!r}")
    return (rgb + 0.5).astype(np.uint8)


def _resize_to(a: np.ndarray, hw: tuple[int, int], nearest: bool = False) -> np.ndarray:
    if a.shape[:2] == hw:
        return a
    mode = Image.NEAREST if nearest else Image.BILINEAR
    if a.dtype == np.uint8:
        return np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), mode))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((hw[1], hw[0]), mode))


def overlay(image: Any, m: Any, alpha: float = 0.6, cmap: str = "saliency") -> np.ndarray:
    """The coloured map blended over the image: (1 − α)·image + α·colour(map), uint8 [H,W,3]."""
    img = to_uint8(image).astype(np.float32)
    a = _as_numpy(m).astype(np.float32)
    if a.ndim == 3:  # [C,H,W] attributions → one channel for display
        a = np.abs(a).sum(0) if cmap != "signed" else a.sum(0)
    a = _resize_to(a, img.shape[:2])
    col = colorize(a, cmap).astype(np.float32)
    alpha = float(np.clip(alpha, 0.0, 1.0))
    return ((1 - alpha) * img + alpha * col + 0.5).astype(np.uint8)


def grid_overlay(image: Any, values: Any, alpha: float = 0.65, *, edges: Any = None,
                 frame: int | None = None) -> np.ndarray:
    """An n×n grid of values in [0,1] (P(dog) with that cell hidden) as PuOr cells over the image.

    ``edges``: the n + 1 cell edges in pixels of the ``frame``-pixel model input, the same on both
    axes (the image may be shown larger). Default: an even split.
    """
    img = to_uint8(image)
    v = _as_numpy(values).astype(np.float32)
    h, w = img.shape[:2]
    n_r, n_c = v.shape
    if edges is None:
        rows = np.minimum(np.arange(h) * n_r // h, n_r - 1)
        cols = np.minimum(np.arange(w) * n_c // w, n_c - 1)
    else:
        e = np.asarray(edges, dtype=np.float64)
        frame = frame or h
        # The cell holding each displayed pixel's centre, in frame coordinates.
        rows = np.clip(np.searchsorted(e, (np.arange(h) + 0.5) * frame / h, side="right") - 1, 0, n_r - 1)
        cols = np.clip(np.searchsorted(e, (np.arange(w) + 0.5) * frame / w, side="right") - 1, 0, n_c - 1)
    cells = colorize(v, "puor")[rows[:, None], cols[None, :]].astype(np.float32)
    out = (1 - alpha) * img.astype(np.float32) + alpha * cells
    # thin grid lines where the cell index changes
    out[np.diff(rows, prepend=rows[0]) > 0, :, :] *= 0.7
    out[:, np.diff(cols, prepend=cols[0]) > 0, :] *= 0.7
    return (out + 0.5).astype(np.uint8)


def upscale(a: Any, size: int, *, nearest: bool = False) -> np.ndarray:
    """The image resized so its longer side is ``size`` (bicubic; ``nearest`` keeps hard pixels,
    for grids and masks). The browser then shows it 1:1 instead of blurring a small image."""
    a = to_uint8(a)
    h, w = a.shape[:2]
    if max(h, w) == size:
        return a
    s = size / max(h, w)
    hw = (max(1, round(h * s)), max(1, round(w * s)))
    mode = Image.NEAREST if nearest else Image.BICUBIC
    return np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), mode))


def png_bytes(a: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(a)).save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def data_uri(a: Any, *, fmt: str = "PNG", quality: int = 85) -> str:
    """A small image as a data URI (for Vega-Lite image tooltips and inline HTML)."""
    buf = io.BytesIO()
    im = Image.fromarray(to_uint8(a))
    if fmt.upper() == "JPEG":
        im.save(buf, format="JPEG", quality=quality)
        mime = "jpeg"
    else:
        im.save(buf, format="PNG", compress_level=3)
        mime = "png"
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def side_by_side(*arrays: Any, gap: int = 2) -> np.ndarray:
    """Images of the same height next to each other, separated by white gaps."""
    ims = [to_uint8(a) for a in arrays]
    h = max(i.shape[0] for i in ims)
    parts: list[np.ndarray] = []
    for k, im in enumerate(ims):
        if im.shape[0] != h:
            im = _resize_to(im, (h, int(round(im.shape[1] * h / im.shape[0]))))
        if k:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)
