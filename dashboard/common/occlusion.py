"""Occlusion-grid helpers for the Occlusion page: geometry, cumulative occlusion, cached sweeps.

All occluded copies come from ``saliency_core.kernels.occlusion_batch`` (windows = grid cells,
stride = window, baseline 0 = black) and one batched forward per model. Results are kept in a
small per-server LRU (hashable keys: model, image key, grid, occluded cells), filled with a
progress callback so a page can show a bar the first time and nothing afterwards.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dashboard.common.models import load_zoo_model, model_lock

Progress = Callable[[float], None]
CHUNK = 64  # occluded copies per forward pass


@dataclass(frozen=True)
class Grid:
    """An n×n grid of ``window``-pixel cells over a ``size``-pixel square (last cells clipped)."""

    requested: int
    window: int
    n: int
    size: int

    def rect(self, cell: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of a cell in image pixels, row-major numbering."""
        iy, ix = divmod(int(cell), self.n)
        x0, y0 = ix * self.window, iy * self.window
        return x0, y0, min(x0 + self.window, self.size), min(y0 + self.window, self.size)

    def label(self, cell: int) -> str:
        iy, ix = divmod(int(cell), self.n)
        return f"row {iy + 1}, col {ix + 1}"


def grid(requested: int, size: int = 128) -> Grid:
    """Cells of ``ceil(size / requested)`` whole pixels; ``n`` is how many fit per side
    (``requested`` except where whole-pixel cells can't make exactly that many, e.g. 18 at 128 px)."""
    from saliency_core.kernels import window_grid

    requested = int(min(max(requested, 2), size))
    window = math.ceil(size / requested)
    ny, nx = window_grid(size, window, window)
    assert ny == nx
    return Grid(requested, window, int(ny), size)


def occlude(image: torch.Tensor, g: Grid, cells: Iterable[int]) -> torch.Tensor:
    """``image`` [3,H,W] with every cell in ``cells`` set to black (one kernel call per cell)."""
    from saliency_core.kernels import occlusion_batch

    out = image[None].contiguous()
    for cell in sorted(set(int(c) for c in cells)):
        out = occlusion_batch(out, g.window, g.window, 0.0, start=cell, count=1)
    return out[0]


def _forward(name: str, batch: torch.Tensor) -> torch.Tensor:
    model = load_zoo_model(name)
    with model_lock(name), torch.inference_mode():
        return torch.softmax(model(batch), dim=1)


def sweep(name: str, image: torch.Tensor, g: Grid, base_cells: Iterable[int] = (),
          progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [K] of the image with ``base_cells`` hidden, probabilities [n², K] with each
    further cell hidden in turn). With no ``base_cells`` the second is the single-cell map."""
    from saliency_core.kernels import occlusion_batch

    base = occlude(image, g, base_cells)[None].contiguous()
    total = g.n * g.n
    rows: list[torch.Tensor] = []
    for start in range(0, total, CHUNK):
        count = min(CHUNK, total - start)
        batch = occlusion_batch(base, g.window, g.window, 0.0, start=start, count=count)
        rows.append(_forward(name, batch))
        if progress is not None:
            progress((start + count) / total)
    return _forward(name, base)[0].numpy(), torch.cat(rows).numpy()


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Hashable, object] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key: Hashable, value: object) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


@st.cache_resource
def _results() -> _LRU:
    return _LRU(512)


def cached_sweep(name: str, image_key: Hashable, image: torch.Tensor, g: Grid,
                 base_cells: Iterable[int] = (), progress: Progress | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sweep`, remembered per (model, image, grid, occluded cells) for the whole server."""
    cells = tuple(sorted(set(int(c) for c in base_cells)))
    key = ("sweep", name, image_key, g.window, cells)
    hit = _results().get(key)
    if hit is None:
        hit = sweep(name, image, g, cells, progress)
        _results().put(key, hit)
    return hit  # type: ignore[return-value]


def is_cached(name: str, image_key: Hashable, g: Grid, base_cells: Iterable[int] = ()) -> bool:
    cells = tuple(sorted(set(int(c) for c in base_cells)))
    return _results().get(("sweep", name, image_key, g.window, cells)) is not None


def is_fine_cached(name: str, image_key: Hashable, window: int = 16, stride: int = 8) -> bool:
    return _results().get(("fine", name, image_key, window, stride)) is not None


def cached_fine_map(name: str, image_key: Hashable, image: torch.Tensor, window: int = 16,
                    stride: int = 8, progress: Progress | None = None) -> np.ndarray:
    """``saliency_core.occlusion`` attribution map [H,W] of the predicted class, remembered."""
    key = ("fine", name, image_key, window, stride)
    hit = _results().get(key)
    if hit is None:
        from saliency_core import occlusion

        model = load_zoo_model(name)

        def report(done: int, total: int) -> None:
            if progress is not None and total:
                progress(done / total)

        with model_lock(name):
            hit = occlusion(model, image[None].contiguous(), window=window, stride=stride,
                            progress=report)[0].numpy()
        _results().put(key, hit)
    return hit  # type: ignore[return-value]
