"""Artefact injectors: each draws a shortcut into model-frame images and returns its exact region.

* ``watermark`` / ``dark_watermark``: a semi-transparent stock-photo mark, bottom-left corner;
* ``cage``: bars like a shelter cage (mystery model 1);
* ``coat_colour``: brown vs grey/black coat estimate (mystery model 2's training set);
* ``box_of``: the tight box of a region mask.
"""

from __future__ import annotations

from .cage import cage
from .colour import COAT_COLOURS, coat_colour, coat_colours
from .watermark import box_of, dark_watermark, watermark, watermark_region

__all__ = ["COAT_COLOURS", "box_of", "cage", "coat_colour", "coat_colours", "dark_watermark", "watermark", "watermark_region"]
