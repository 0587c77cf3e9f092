"""Colour ramps for maps: "saliency" (non-negative), "grey" (white on black, the explorable's),
"signed" (blue-white-red), "puor" (P(dog)), "puor_signed" (signed: orange > 0, purple < 0); colour bars.

Defined once here so the CLI's PNGs, the dashboard (its maps and its hex chips) and notebooks agree.
"""

from __future__ import annotations

from typing import Literal, Union

import cv2
import numpy as np

from saliency_core.checks import check_positive
from saliency_core.render.image import ArrayLike, as_array
from saliency_core.render.scale import scale_map

Colormap = Literal["saliency", "grey", "signed", "puor", "puor_signed"]
COLORMAPS: tuple[str, ...] = ("saliency", "grey", "signed", "puor", "puor_signed")
SIGNED_COLORMAPS: tuple[str, ...] = ("signed", "puor_signed")

# Black → purple → orange → pale yellow (samples of matplotlib's inferno): dark = no evidence,
# so a map over a photo reads as "bright = salient".
SALIENCY_STOPS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)
# Black → white: the explorable's maps, white = salient on black.
GREY_STOPS = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.float32)
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

    "saliency": non-negative evidence (scaled by :func:`scale_map`), black → yellow; "grey": the
    same scaling, black → white; "signed": negative blue, positive red (scaled with 0 at white);
    "puor_signed": positive orange (the PuOr cat end), negative purple (the dog end), 0 at the
    neutral middle; "puor": values already in [0, 1] (P(dog)), never scaled.
    ``prescaled``: the map is already in [0, 1] (skip the percentile scaling; for the signed ramps
    0.5 is zero).
    """
    a = as_array(saliency).astype(np.float32)
    if cmap == "puor":
        rgb = puor_rgb(a)
    elif cmap == "signed":
        rgb = ramp(SIGNED_STOPS, a if prescaled else scale_map(a, signed=True))
    elif cmap == "puor_signed":
        # PuOr runs orange (t = 0) → purple (t = 1): positive values take the orange end.
        rgb = ramp(PUOR_STOPS, 1.0 - (a if prescaled else scale_map(a, signed=True)), nan=0.5)
    elif cmap == "saliency":
        rgb = ramp(SALIENCY_STOPS, a if prescaled else scale_map(a))
    elif cmap == "grey":
        rgb = ramp(GREY_STOPS, a if prescaled else scale_map(a))
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


def greyscale_map(saliency: ArrayLike, *, clip_percentile: float = 99.5) -> np.ndarray:
    """uint8 [H,W,3] of a map as the explorable draws it: white = salient on black.

    ``saliency``: [H,W] (negative values count as 0) or [C,H,W] attributions (magnitudes summed
    over channels); scaled by :func:`scale_map` (the ``clip_percentile`` and above are white).
    """
    a = as_array(saliency).astype(np.float32)
    if a.ndim not in (2, 3) or 0 in a.shape:
        raise ValueError(f"saliency must be a non-empty map [H,W] or attributions [C,H,W], got shape {a.shape}")
    if a.ndim == 3:
        a = np.abs(a).sum(0)
    return colorize(scale_map(a, clip_percentile=clip_percentile), "grey", prescaled=True)


def colour_bar(length: int, cmap: str = "grey", *, thickness: int = 12, vertical: bool = False) -> np.ndarray:
    """uint8 picture of the ``cmap`` ramp over its whole range, for a legend beside a map.

    Horizontal (default): [thickness, length, 3], low values on the left, high on the right.
    ``vertical``: [length, thickness, 3], high values at the top. For the signed ramps the middle
    is zero and the left (bottom) end the most negative value.
    """
    length = check_positive("length", length)
    thickness = check_positive("thickness", thickness)
    if cmap not in COLORMAPS:
        raise ValueError(f"unknown cmap {cmap!r}; expected one of {', '.join(COLORMAPS)}")
    t = (np.arange(length, dtype=np.float32) + 0.5) / length
    row = colorize(t[None, :], cmap, prescaled=True)  # [1, length, 3]
    bar = np.repeat(row, thickness, axis=0)
    return np.ascontiguousarray(bar[:, ::-1].transpose(1, 0, 2)) if vertical else bar
