"""The cat→dog diverging palette (PuOr, as the explorable's d3 ``interpolatePuOr``).

0 = cat (orange end), 1 = dog (purple end). ``puor`` maps P(dog) to a hex colour; the same stops
drive the occlusion-map colouring in :mod:`dashboard.common.render`.
"""

from __future__ import annotations

import numpy as np

# ColorBrewer PuOr, 11 classes, from the orange end (t = 0) to the purple end (t = 1).
PUOR_STOPS: tuple[str, ...] = (
    "#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7",
    "#d8daeb", "#b2abd2", "#8073ac", "#542788", "#2d004b",
)
CAT_COLOUR = "#e08214"   # orange: the cat end
DOG_COLOUR = "#542788"   # purple: the dog end
CLASS_COLOURS = {"cat": CAT_COLOUR, "dog": DOG_COLOUR}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


PUOR_RGB = np.array([_rgb(c) for c in PUOR_STOPS], dtype=np.float32)  # [11,3] 0..255


def puor_rgb(t: np.ndarray | float) -> np.ndarray:
    """RGB (0..255 float) for values in [0,1] on the PuOr ramp (linear between the stops)."""
    t = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float32), nan=0.5), 0.0, 1.0)
    x = t * (len(PUOR_STOPS) - 1)
    i = np.minimum(np.floor(x).astype(np.int64), len(PUOR_STOPS) - 2)
    f = (x - i)[..., None]
    return PUOR_RGB[i] * (1 - f) + PUOR_RGB[i + 1] * f


def puor(p_dog: float) -> str:
    """Hex colour of P(dog) on the cat→dog scale."""
    r, g, b = (int(round(v)) for v in puor_rgb(float(p_dog)))
    return f"#{r:02x}{g:02x}{b:02x}"


def text_colour_on(p_dog: float) -> str:
    """Black or white, whichever reads better on ``puor(p_dog)``."""
    r, g, b = puor_rgb(float(p_dog))
    return "#111111" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def class_colour(label: str) -> str:
    return CLASS_COLOURS.get(label, "#777777")
