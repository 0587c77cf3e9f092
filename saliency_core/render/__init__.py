"""Turning maps into pictures (uint8 RGB arrays): scaling, colour ramps, overlays, value grids.

The single renderer of the project: the CLI's PNGs, the dashboard (``dashboard.common.render``
only adds browser encoding on top) and users' notebooks draw maps the same way, with the same
colours.

- :mod:`~saliency_core.render.image`: ``to_uint8`` (any layout → [H,W,3] uint8), ``resize``
- :mod:`~saliency_core.render.scale`: ``scale_map`` (percentile clipping, signed or not), ``normalise_map``
- :mod:`~saliency_core.render.colour`: ``colorize`` with the "saliency", "grey", "signed", "puor" and
  "puor_signed" ramps, ``heatmap``, ``greyscale_map`` (white on black), ``colour_bar``
- :mod:`~saliency_core.render.overlay`: ``overlay``, ``grid_overlay``, ``draw_box``
- :mod:`~saliency_core.render.share`: ``share_picture`` (the map, the box and the top-p% pixels the
  region share counts), ``top_pixels``
"""

from __future__ import annotations

from saliency_core.render.colour import (
    COLORMAPS,
    GREY_STOPS,
    PUOR_HEX,
    PUOR_STOPS,
    SALIENCY_STOPS,
    SIGNED_COLORMAPS,
    SIGNED_STOPS,
    Colormap,
    colorize,
    colour_bar,
    greyscale_map,
    heatmap,
    puor_rgb,
    ramp,
)
from saliency_core.render.image import ArrayLike, as_array, resize, to_uint8, to_uint8_image
from saliency_core.render.overlay import blend, draw_box, grid_overlay, overlay
from saliency_core.render.scale import normalise_map, scale_map
from saliency_core.render.share import share_picture, top_pixels

__all__ = [
    "COLORMAPS", "GREY_STOPS", "PUOR_HEX", "PUOR_STOPS", "SALIENCY_STOPS", "SIGNED_COLORMAPS", "SIGNED_STOPS",
    "ArrayLike", "Colormap", "as_array", "blend", "colorize", "colour_bar", "draw_box", "greyscale_map",
    "grid_overlay", "heatmap", "normalise_map", "overlay",
    "puor_rgb", "ramp", "resize", "scale_map", "share_picture", "to_uint8", "to_uint8_image", "top_pixels",
]
