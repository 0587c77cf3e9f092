"""Grid occlusion: the model's prediction with each cell of an n×n grid hidden (the explorable's grid).

The grid partitions the image exactly: cell edges on an axis of ``size`` pixels are
``floor(i · size / n)`` for i = 0…n, so any n from 1 to ``size`` works (cells differ by at most one
pixel; at 128 px and n = 18 they are 7 or 8 pixels wide). ``hidden`` cells are set to the baseline
first (cumulative occlusion); then every cell is hidden in turn on top of them.

The n² occluded predictions come from the incremental-inference engine (only the region a cell
changes is recomputed per layer, exactly), or from batched full inference for graphs the engine
cannot handle.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from saliency_core.checks import check_images, check_logits
from saliency_core.methods.base import Model, Progress, forward
from saliency_core.methods.occlusion.batching import full_inference
from saliency_core.methods.occlusion.incremental import outputs_from_plan
from saliency_core.methods.occlusion.plan import build_region_plan


@dataclass(frozen=True)
class CellGrid:
    """An ``n``×``n`` partition of a ``height``×``width`` image; cells numbered row-major."""

    n: int
    height: int
    width: int

    @property
    def row_edges(self) -> np.ndarray:
        return np.arange(self.n + 1, dtype=np.int64) * self.height // self.n

    @property
    def col_edges(self) -> np.ndarray:
        return np.arange(self.n + 1, dtype=np.int64) * self.width // self.n

    @property
    def cells(self) -> int:
        return self.n * self.n

    def rect(self, cell: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of ``cell`` in pixels (x1, y1 exclusive)."""
        iy, ix = divmod(self._check(cell), self.n)
        rows, cols = self.row_edges, self.col_edges
        return int(cols[ix]), int(rows[iy]), int(cols[ix + 1]), int(rows[iy + 1])

    def label(self, cell: int) -> str:
        iy, ix = divmod(self._check(cell), self.n)
        return f"row {iy + 1}, col {ix + 1}"

    def mask(self, cells: Iterable[int]) -> Tensor:
        """bool [H,W]: True on the pixels of ``cells``."""
        out = torch.zeros((self.height, self.width), dtype=torch.bool)
        for cell in cells:
            x0, y0, x1, y1 = self.rect(cell)
            out[y0:y1, x0:x1] = True
        return out

    def _check(self, cell: int) -> int:
        if isinstance(cell, bool) or not isinstance(cell, numbers.Integral):
            raise ValueError(f"cells are integers (row-major index), got {cell!r}")
        if not 0 <= int(cell) < self.cells:
            raise ValueError(f"cell {cell} is outside the {self.n}x{self.n} grid (0…{self.cells - 1})")
        return int(cell)


def cell_grid(n: int, height: int, width: int | None = None) -> CellGrid:
    """The ``n``×``n`` grid over a ``height``×``width`` (default square) image."""
    width = height if width is None else width
    if isinstance(n, bool) or not isinstance(n, numbers.Real) or not math.isfinite(n) or int(n) != n \
            or not 1 <= int(n) <= min(height, width):
        raise ValueError(f"grid size must be an integer from 1 to {min(height, width)}, got {n!r}")
    return CellGrid(int(n), int(height), int(width))


def hide_cells(images: Tensor, grid: CellGrid, cells: Iterable[int], baseline: float = 0.0) -> Tensor:
    """A copy of ``images`` [B,C,H,W] with ``cells`` set to ``baseline``."""
    check_images(images)
    _check_grid(images, grid)
    mask = grid.mask(cells).to(images.device)
    return images.masked_fill(mask, float(baseline))


@dataclass(frozen=True)
class CellOcclusion:
    """``base`` [B,K]: the output with the ``hidden`` cells hidden; ``cells`` [B,n²,K]: the output
    with each cell hidden as well (row-major). Probabilities when ``softmax`` was asked for, else logits."""

    grid: CellGrid
    hidden: tuple[int, ...]
    base: Tensor
    cells: Tensor

    def cell_map(self, cls: int) -> Tensor:
        """[B,n,n] of class ``cls``'s output with each cell hidden."""
        return self.cells[:, :, cls].reshape(-1, self.grid.n, self.grid.n)


def cell_occlusion(model: Model, images: Tensor, n: int, hidden: Iterable[int] = (), baseline: float = 0.0,
                   *, softmax: bool = True, exact_engine: bool = True,
                   progress: Progress | None = None) -> CellOcclusion:
    """The model's output on ``images`` [B,C,H,W] with each of the n×n cells hidden in turn.

    ``hidden``: cells hidden in every copy (cumulative occlusion); ``baseline``: the value hidden
    pixels take (0 = black); ``exact_engine=False`` forces batched full inference;
    ``progress(done, total)`` is called as cells finish.
    """
    check_images(images)
    if isinstance(baseline, bool) or not isinstance(baseline, numbers.Real):
        raise ValueError(f"baseline must be a number (the value hidden pixels take), got {type(baseline).__name__}")
    if not math.isfinite(baseline):
        raise ValueError(f"baseline must be finite (the value hidden pixels take), got {baseline!r}")
    if not isinstance(hidden, Iterable) or isinstance(hidden, (str, bytes)):
        raise ValueError(f"hidden must be a collection of cell indices, got {hidden!r}")
    grid = cell_grid(n, images.shape[2], images.shape[3])
    kept = tuple(sorted({grid._check(c) for c in hidden}))
    start = hide_cells(images, grid, kept, baseline) if kept else images.contiguous()
    with torch.no_grad():
        try:
            plan = build_region_plan(model, start, _regions(grid)) if exact_engine else None
        except Exception:
            forward(model, start)  # when the model itself rejects the images, say so as forward() does
            raise
        if plan is not None:
            # The plan's forward pass of the unoccluded images, checked as forward() checks logits.
            base = check_logits(plan.cache[plan.output], start.shape[0])
            outputs = outputs_from_plan(plan, start, baseline, progress=progress)
        else:
            base = forward(model, start)
            outputs = _full_inference(model, start, grid, baseline, progress)
    if softmax:
        base, outputs = torch.softmax(base, dim=-1), torch.softmax(outputs, dim=-1)
    return CellOcclusion(grid, kept, base, outputs)


def _regions(grid: CellGrid) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rows, cols = grid.row_edges, grid.col_edges
    return (rows[:-1], rows[1:]), (cols[:-1], cols[1:])


def _full_inference(model: Model, images: Tensor, grid: CellGrid, baseline: float,
                    progress: Progress | None) -> Tensor:
    """[B, n², K]: batched full inference, each cell set to ``baseline`` in turn."""

    def occlude(first: int, count: int, out: Tensor) -> Tensor:
        masks = torch.stack([grid.mask([c]) for c in range(first, first + count)]).to(images.device)  # [k,H,W]
        copies = out.view(count, *images.shape)  # [k,B,C,H,W]
        copies.copy_(images.expand_as(copies))
        copies.masked_fill_(masks[:, None, None], float(baseline))
        return out

    return full_inference(model, images, grid.cells, occlude, None, progress)


def _check_grid(images: Tensor, grid: CellGrid) -> None:
    if (images.shape[2], images.shape[3]) != (grid.height, grid.width):
        raise ValueError(f"the grid is for {grid.height}x{grid.width} images, got "
                         f"{images.shape[2]}x{images.shape[3]}")
