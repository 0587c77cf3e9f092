"""The dashboard draws with the library's renderer (the grid picture, overlays).

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
