"""The region-share recipe as a picture: the map, the box, and the top-p% pixels that are counted.

``metrics.top_percent_share`` reports one number, the share of a map's top ``percent``% pixels
that fall inside a box. :func:`share_picture` draws what that number counts: the map white on
black, the box outlined and the top pixels coloured, so a reader can check the share by eye. The
top pixels are selected by the same kernel as the metric (``kernels.top_percent``: ties at the
threshold included, NaN never salient), so the picture and the number always agree.
"""

from __future__ import annotations

import numpy as np
import torch

from saliency_core import kernels
from saliency_core.checks import check_positive
from saliency_core.render.colour import greyscale_map
from saliency_core.render.image import ArrayLike, as_array, resize
from saliency_core.render.overlay import draw_box

TOP_COLOUR = (255, 64, 0)  # orange-red: apart from white (salient), black and the cyan box
BOX_COLOUR = (0, 229, 255)


def top_pixels(saliency: ArrayLike, percent: float = 0.5) -> np.ndarray:
    """bool [H,W]: the map's top-``percent``% pixels as ``metrics.top_percent_share`` counts them.

    ``saliency``: [H,W], or [C,H,W] attributions (magnitudes summed over channels, as the
    greyscale rendering does).
    """
    a = _map(saliency)
    result = kernels.top_percent(torch.from_numpy(a)[None], percent, return_mask=True)
    assert result.mask is not None  # asked for
    return result.mask[0].numpy()


def share_picture(
    saliency: ArrayLike,
    box: tuple[int, int, int, int] | None,
    percent: float = 0.5,
    *,
    scale: int = 1,
    top_colour: tuple[int, int, int] = TOP_COLOUR,
    box_colour: tuple[int, int, int] = BOX_COLOUR,
) -> np.ndarray:
    """uint8 [H·scale, W·scale, 3]: the map white on black, its top-``percent``% pixels in
    ``top_colour``, the (x0, y0, x1, y1) ``box`` (map pixels, x1/y1 exclusive) outlined one map
    pixel thick in ``box_colour`` (drawn last: the box's own border pixels show the box).

    ``scale`` enlarges every map pixel to a ``scale``×``scale`` block (no blurring), so each
    highlighted block is exactly one counted pixel.
    """
    scale = check_positive("scale", scale)
    a = _map(saliency)
    picture = greyscale_map(a)
    picture[top_pixels(a, percent)] = top_colour
    h, w = a.shape
    picture = resize(picture, (h * scale, w * scale), nearest=True)
    if box is not None:
        x0, y0, x1, y1 = (int(v) for v in box)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box must overlap the {w}×{h} map, got {tuple(box)}")
        picture = draw_box(picture, (x0 * scale, y0 * scale, x1 * scale, y1 * scale), colour=box_colour,
                           thickness=scale)
    return picture


def _map(saliency: ArrayLike) -> np.ndarray:
    a = as_array(saliency).astype(np.float32)
    if a.ndim == 3:
        a = np.abs(a).sum(0)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"saliency must be a non-empty map [H,W] or attributions [C,H,W], got shape {a.shape}")
    return np.ascontiguousarray(a)
