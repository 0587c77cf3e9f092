"""The cat→dog diverging palette (PuOr, as the explorable's d3 ``interpolatePuOr``) for chips and text.

0 = cat (orange end), 1 = dog (purple end). ``puor`` maps P(dog) to a hex colour. The ramp itself
is :mod:`saliency_core.render.colour`'s, the one the occlusion maps are coloured with.
"""

from __future__ import annotations

from saliency_core.render.colour import PUOR_HEX, puor_rgb

PUOR_STOPS: tuple[str, ...] = PUOR_HEX  # ColorBrewer PuOr, 11 classes, orange end (t = 0) first
CAT_COLOUR = "#e08214"   # orange: the cat end
DOG_COLOUR = "#542788"   # purple: the dog end
CLASS_COLOURS = {"cat": CAT_COLOUR, "dog": DOG_COLOUR}


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
