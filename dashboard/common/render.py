"""Image and map drawing for the pages: the library's renderer plus browser encoding.

Every number (scaling, colour ramps, blending, grid cells) comes from :mod:`saliency_core.render`,
so the pages draw maps exactly as the CLI and users' notebooks do. What stays here is display
only: resizing for the browser, PNG/JPEG bytes and data URIs, and laying pictures side by side.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

import plotly.graph_objects as go

from saliency_core.render import (
    colorize,
    colour_bar,
    greyscale_map,
    grid_overlay,
    overlay,
    resize,
    scale_map,
    to_uint8,
)
from saliency_core.render import draw_box as outline
from saliency_core.render import share_picture as _share_picture

__all__ = ["MAP_STYLES", "arrows_figure", "colorize", "colour_bar", "data_uri", "draw_box", "greyscale_map",
           "grid_overlay", "map_picture", "overlay", "png_bytes", "scale_map", "share_picture", "side_by_side",
           "to_uint8", "upscale"]
BOX_COLOUR = (0, 229, 255)  # cyan: stands out on photos and on the saliency ramp
WHITE_ON_BLACK, OVERLAY = "White on black", "Overlay"
MAP_STYLES: tuple[str, ...] = (WHITE_ON_BLACK, OVERLAY)  # the first is the explorable's, the default


def upscale(a: Any, size: int, *, nearest: bool = False) -> np.ndarray:
    """The image resized so its longer side is ``size`` (bicubic; ``nearest`` keeps hard pixels,
    for grids and masks). The browser then shows it 1:1 instead of blurring a small image."""
    a = to_uint8(a)
    h, w = a.shape[:2]
    if max(h, w) == size:
        return a
    s = size / max(h, w)
    hw = (max(1, round(h * s)), max(1, round(w * s)))
    mode = Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(a).resize((hw[1], hw[0]), mode))


def png_bytes(a: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(a)).save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def jpeg_bytes(a: Any, quality: int = 90) -> bytes:
    """A picture as JPEG (``st.image`` would encode an array at quality 100: twice the bytes, 8× the time)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(a)).save(buf, format="JPEG", quality=quality)
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
            im = resize(im, (h, int(round(im.shape[1] * h / im.shape[0]))))
        if k:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=1)


def draw_box(image: np.ndarray, box: tuple[int, int, int, int] | None, scale: int = 3) -> np.ndarray:
    """A preview of the image (enlarged ``scale`` times, hard pixels) with the box outlined."""
    picture = resize(image, (image.shape[0] * scale, image.shape[1] * scale), nearest=True)
    if box is None:
        return picture
    scaled = (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
    return outline(picture, scaled, colour=BOX_COLOUR, thickness=3)


def map_picture(image: Any, saliency: Any, style: str = WHITE_ON_BLACK, *, size: int = 256,
                alpha: float = 0.85, cmap: str = "saliency") -> np.ndarray:
    """A map as the page shows it, ``size`` px: white on black (the explorable's look: the map alone,
    :func:`saliency_core.render.greyscale_map`) or coloured in ``cmap`` over the photo at ``alpha``.
    A signed ``cmap`` ("puor_signed", "signed") is drawn alone in its ramp in the white-on-black style."""
    if style == OVERLAY:
        return overlay(upscale(image, size), saliency, alpha=alpha, cmap=cmap)
    if style != WHITE_ON_BLACK:
        raise ValueError(f"unknown map style {style!r}; expected one of {', '.join(MAP_STYLES)}")
    picture = colorize(saliency, cmap) if cmap in ("puor_signed", "signed") else greyscale_map(saliency)
    return upscale(picture, size)


def share_picture(saliency: Any, box: Any, percent: float = 0.5, *, size: int = 256) -> np.ndarray:
    """The region share's recipe drawn (:func:`saliency_core.render.share_picture`): the map white on
    black, the watermark ``box`` (x0, y0, x1, y1 in map pixels, or a tensor of them) outlined in
    cyan and the top-``percent``% pixels the share counts in orange, each map pixel a hard block, at
    least ``size`` px (a whole multiple of the map's side)."""
    shape = np.shape(saliency)[-2:]
    scale = max(1, -(-int(size) // max(shape)))  # ceil: never smaller than asked
    edges = None if box is None else tuple(int(v) for v in np.asarray(box).reshape(-1)[:4])
    return _share_picture(saliency, edges, percent, scale=scale, box_colour=BOX_COLOUR)


def colour_bar_picture(style: str = WHITE_ON_BLACK, *, length: int = 256, cmap: str = "saliency") -> np.ndarray:
    """The colour bar that goes with :func:`map_picture`'s pictures (low on the left)."""
    return colour_bar(length, "grey" if style == WHITE_ON_BLACK and cmap == "saliency" else cmap, thickness=14)


def arrows_figure(values: np.ndarray, patch: np.ndarray, *, origin: tuple[int, int] = (0, 0),
                  up: tuple[str, str] = ("toward cat", "#e08214"),
                  down: tuple[str, str] = ("toward dog", "#542788"), height: int = 520) -> go.Figure:
    """One arrow per pixel of a signed patch ``values`` [h,w] over the photo ``patch`` [h,w,3].

    A positive value is an arrow pointing up in ``up``'s colour, a negative one down in ``down``'s;
    the arrow's length and head size grow with |value| (relative to the patch's largest); an exact
    zero is a grey dot. Every pixel is one marker (the arrow's head) carrying ``customdata``
    (row, column, value) in image coordinates (``origin`` = (x0, y0) of the patch), so the figure
    states the numbers it draws. Traces: shafts up, heads up, shafts down, heads down, zeros.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"values must be a non-empty patch [h,w], got shape {v.shape}")
    h, w = v.shape
    x0, y0 = origin
    biggest = float(np.abs(v).max())
    rel = np.abs(v) / biggest if biggest > 0 else np.zeros_like(v)
    fig = go.Figure()
    # The photo patch, faded so the arrows read; pixel centres at integer image coordinates.
    faded = (0.45 * to_uint8(patch).astype(np.float32) + 0.55 * 255).astype(np.uint8)
    fig.add_trace(go.Image(z=faded, x0=x0, y0=y0, dx=1, dy=1, hoverinfo="skip", name="photo"))
    rows, cols = np.nonzero(np.ones_like(v, dtype=bool))
    for sign, (label, colour), symbol in ((1, up, "triangle-up"), (-1, down, "triangle-down")):
        pick = (np.sign(v[rows, cols]) == sign)
        r, c = rows[pick], cols[pick]
        length = 0.15 + 0.75 * rel[r, c]  # in pixels; the shortest still visible
        xs, ys = c + x0, r + y0  # image y grows downwards: "up" is y - length / 2
        tail = ys + sign * length / 2
        tip = ys - sign * length / 2
        shaft_x = np.column_stack([xs, xs, np.full(len(xs), np.nan)]).ravel()
        shaft_y = np.column_stack([tail, tip, np.full(len(xs), np.nan)]).ravel()
        fig.add_trace(go.Scatter(x=shaft_x, y=shaft_y, mode="lines", line={"color": colour, "width": 2.5},
                                 hoverinfo="skip", showlegend=False, name=f"{label} shafts"))
        fig.add_trace(go.Scatter(
            x=xs, y=tip, mode="markers", name=label,
            marker={"symbol": symbol, "color": colour, "size": 6 + 10 * rel[r, c], "line": {"width": 0}},
            customdata=np.column_stack([r + y0, c + x0, v[r, c]]),
            hovertemplate="pixel (x %{customdata[1]:.0f}, y %{customdata[0]:.0f})<br>"
                          "gradient %{customdata[2]:.3g}<extra>" + label + "</extra>"))
    zero = v[rows, cols] == 0
    fig.add_trace(go.Scatter(
        x=cols[zero] + x0, y=rows[zero] + y0, mode="markers", name="no effect",
        marker={"color": "#999999", "size": 4}, customdata=np.column_stack([rows[zero] + y0, cols[zero] + x0,
                                                                          v[rows[zero], cols[zero]]]),
        hovertemplate="pixel (x %{customdata[1]:.0f}, y %{customdata[0]:.0f})<br>gradient 0<extra></extra>",
        showlegend=bool(zero.any())))
    fig.update_xaxes(range=[x0 - 0.5, x0 + w - 0.5], showgrid=False, title="x (pixel)", constrain="domain")
    fig.update_yaxes(range=[y0 + h - 0.5, y0 - 0.5], showgrid=False, title="y (pixel)", scaleanchor="x")
    fig.update_layout(height=height, margin={"l": 40, "r": 10, "t": 10, "b": 40}, plot_bgcolor="white",
                      legend={"orientation": "h", "y": -0.12})
    return fig
