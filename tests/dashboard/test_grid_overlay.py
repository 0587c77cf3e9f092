"""The dashboard draws with the library's renderer: the automatic-occlusion picture (each displayed
pixel takes the colour of the grid cell it lies in) and the colours the pages share with the CLI.

The renderer's own properties are tested in tests/io/test_render.py; these check the dashboard's
entry points still work and still are the library's.
"""

from __future__ import annotations

import numpy as np
import pytest

import saliency_core.render as library
from dashboard.common import render
from dashboard.common.render import grid_overlay
from saliency_core import cell_grid


@pytest.mark.parametrize("n", [6, 17, 18])
def test_each_cell_is_one_colour_and_neighbours_differ_for_uneven_grids(n: int) -> None:
    grid = cell_grid(n, 128)
    values = np.arange(n * n, dtype=np.float32).reshape(n, n) / (n * n - 1)
    white = np.full((384, 384, 3), 255, np.uint8)  # the 128-px frame shown 3x larger
    picture = grid_overlay(white, values, alpha=1.0, edges=grid.col_edges, frame=128)
    colour = {}
    for cell in range(n * n):
        x0, y0, x1, y1 = grid.rect(cell)
        # the cell's displayed pixels, less its first row and column (grid lines darken those)
        inner = picture[3 * y0 + 1:3 * y1, 3 * x0 + 1:3 * x1].reshape(-1, 3)
        unique = np.unique(inner, axis=0)
        assert len(unique) == 1, f"cell {cell} shows {len(unique)} colours"
        colour[cell] = tuple(unique[0])
    assert all(colour[c] != colour[c + 1] for c in range(n * n - 1) if (c + 1) % n)


@pytest.mark.parametrize("name", ["to_uint8", "scale_map", "colorize", "overlay", "grid_overlay"])
def test_the_dashboards_numerics_are_the_librarys(name: str) -> None:
    assert getattr(render, name) is getattr(library, name)


def test_chip_colours_come_from_the_librarys_ramp() -> None:
    from dashboard.common.palette import puor

    # the ramp's ends and middle (ColorBrewer PuOr), as hex chips
    assert (puor(0.0), puor(0.5), puor(1.0)) == ("#7f3b08", "#f7f7f7", "#2d004b")
