"""Colour ramps for maps: "saliency" (non-negative), "signed" (blue-white-red), "puor" (P(dog)).

Defined once here so the CLI's PNGs, the dashboard (its maps and its hex chips) and notebooks agree.
"""

from __future__ import annotations

from typing import Literal, Union

import cv2
import numpy as np

from saliency_core.render.image import ArrayLike, as_array
from saliency_core.render.scale import scale_map

Colormap = Literal["saliency", "signed", "puor"]
COLORMAPS: tuple[str, ...] = ("saliency", "signed", "puor")

# Black → purple → orange → pale yellow (samples of matplotlib's inferno): dark = no evidence,
# so a map over a photo reads as "bright = salient".
SALIENCY_STOPS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)
# Blue → white → red (ColorBrewer RdBu ends): white at zero so the sign is the hue.
SIGNED_STOPS = np.array([[33, 102, 172], [247, 247, 247], [178, 24, 43]], dtype=np.float32)
# ColorBrewer PuOr, 11 classes, from the orange end (t = 0, cat) to the purple end (t = 1, dog),
# as d3's interpolatePuOr in the original explorable.
PUOR_HEX: tuple[str, ...] = (
    "#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7",
    "#d8daeb", "#b2abd2", "#8073ac", "#542788", "#2d004b",
)
PUOR_STOPS = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in PUOR_HEX], dtype=np.float32)


def ramp(stops: np.ndarray, t: ArrayLike, *, nan: float = 0.0) -> np.ndarray:
    """RGB (float 0..255, shape [..., 3]) of ``t`` in [0, 1] interpolated linearly between ``stops``
    [K,3], evenly spaced; ``t`` outside [0, 1] is clipped, NaN takes the colour at ``nan``."""
    x = np.clip(np.nan_to_num(as_array(t).astype(np.float32), nan=nan), 0.0, 1.0) * (len(stops) - 1)
    i = np.minimum(np.floor(x).astype(np.int64), len(stops) - 2)
    f = (x - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def puor_rgb(p_dog: ArrayLike | float) -> np.ndarray:
    """RGB (float 0..255) of P(dog) on the cat→dog PuOr ramp; NaN is the neutral middle."""
    return ramp(PUOR_STOPS, np.asarray(p_dog, dtype=np.float32), nan=0.5)


def colorize(saliency: ArrayLike, cmap: str = "saliency", *, prescaled: bool = False) -> np.ndarray:
    """uint8 [H,W,3] colours of a map.

    "saliency": non-negative evidence (scaled by :func:`scale_map`); "signed": negative blue,
    positive red (scaled with 0 at white); "puor": values already in [0, 1] (P(dog)), never scaled.
    ``prescaled``: the map is already in [0, 1] (skip the percentile scaling).
    """
    a = as_array(saliency).astype(np.float32)
    if cmap == "puor":
        rgb = puor_rgb(a)
    elif cmap == "signed":
        rgb = ramp(SIGNED_STOPS, a if prescaled else scale_map(a, signed=True))
    elif cmap == "saliency":
        rgb = ramp(SALIENCY_STOPS, a if prescaled else scale_map(a))
    else:
        raise ValueError(f"unknown cmap {cmap!r}; expected one of {', '.join(COLORMAPS)}")
    return (rgb + 0.5).astype(np.uint8)


def heatmap(saliency: ArrayLike, colormap: Union[str, int] = "saliency") -> np.ndarray:
    """[H,W] map → [H,W,3] uint8 RGB heatmap in the named ramp (see :func:`colorize`).

    An ``int`` is an OpenCV colormap (e.g. ``cv2.COLORMAP_INFERNO``), applied to the same
    scaling, for callers of the original API that chose one.
    """
    if isinstance(colormap, str):
        return colorize(saliency, colormap)
    gray = (scale_map(saliency) * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(gray, colormap), cv2.COLOR_BGR2RGB)
