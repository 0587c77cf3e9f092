"""The dashboard draws with the library's renderer (the grid picture, overlays, chip colours).

The renderer's own properties (uneven grids included) are tested in tests/io/test_render.py; these
check the dashboard's entry points are the library's.
"""

from __future__ import annotations

import pytest

import saliency_core.render as library
from dashboard.common import render


@pytest.mark.parametrize("name", ["to_uint8", "scale_map", "colorize", "overlay", "grid_overlay"])
def test_the_dashboards_numerics_are_the_librarys(name: str) -> None:
    assert getattr(render, name) is getattr(library, name)


def test_chip_colours_come_from_the_librarys_ramp() -> None:
    from dashboard.common.palette import puor

    # the ramp's ends and middle (ColorBrewer PuOr), as hex chips
    assert (puor(0.0), puor(0.5), puor(1.0)) == ("#7f3b08", "#f7f7f7", "#2d004b")
