"""The Gradients page's default view: its models, methods and photos, and the maps it shows.

Shared by the page and the server's warm-up (``dashboard.common.warmup``), which computes those
maps before a reader opens the page (10 maps: 0.18 s here with the models loaded, longer on a
server busy with a reader's pages).
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboard.common.demo_sets import DemoSet
from dashboard.common.explanations import saliency_map
from dashboard.common.models import CLASSES

MODELS: tuple[str, ...] = ("normal", "watermark-100")  # the grid's rows
METHODS: tuple[str, ...] = ("vanilla_gradient", "gradient_squared", "grad_cam")  # its columns
PHOTO = 1  # the strip's photo on show: the first watermarked cat of ``occlusion_pairs(6)``
SIGNED_MODEL = "watermark-100"  # "Which way does each pixel push?"
FOOTNOTE_MODEL = "watermark-100"
FOOTNOTE_METHODS: tuple[str, ...] = ("vanilla_gradient", "gradient_squared")
CAT = CLASSES.index("cat")  # the signed gradient's target: toward cat is positive


def footnote_photo(ids: Sequence[str]) -> int:
    """The footnote's photo: the strip's first watermarked one."""
    return list(ids).index(next(i for i in ids if i.endswith("_wm")))


def warm(pairs: DemoSet) -> None:
    """Compute (cache) every map of the default view of ``pairs`` (the page's strip)."""
    key = (*pairs.key, pairs.ids[PHOTO])
    image = pairs.image(PHOTO)
    for name in MODELS:
        for method in METHODS:
            saliency_map(name, key, image, method)
    saliency_map(SIGNED_MODEL, key, image, "signed_gradient", target=CAT)
    foot = footnote_photo(pairs.ids)
    foot_key, foot_image = (*pairs.key, pairs.ids[foot]), pairs.image(foot)
    for method in FOOTNOTE_METHODS:
        saliency_map(FOOTNOTE_MODEL, foot_key, foot_image, method)
    saliency_map(FOOTNOTE_MODEL, foot_key, foot_image, "signed_gradient", target=CAT)
