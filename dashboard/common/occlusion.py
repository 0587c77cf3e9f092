"""Occlusion-grid helpers for the Occlusion page: the grid, cached sweeps.

The grid is ``saliency_core.cell_grid`` (an exact n×n partition of the model frame, any n);
the predictions with each cell hidden come from ``saliency_core.cell_occlusion`` (incremental
inference: only what a cell changes is recomputed). Results are kept in a small per-server LRU
(hashable keys: model, image key, grid size, hidden cells), filled with a progress callback so a
page can show a bar the first time and nothing afterwards. For the demo photos, the sweeps with
nothing hidden and the fine maps are kept on disk too (``diskcache``; shipped for the built-in
photos' strip), so a new server reads them instead of computing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
import streamlit as st
import torch

from dashboard.common.diskcache import cached_arrays
from dashboard.common.locks import lock_of
from dashboard.common.models import load_zoo_model, model_fingerprint
from saliency_core import cell_grid, cell_occlusion, occlusion
from saliency_core.data.frame import FRAME

Progress = Callable[[float], None]
CellGrid = Any  # what saliency_core.cell_grid returns (n, col_edges, width, label); no public type name
SIZES = tuple(range(2, 19))  # cells per side offered by the page (the explorable's range)


def grid(n: int, size: int = FRAME) -> CellGrid:
    """The n×n grid over the ``size``-pixel model frame (n clamped to 2…size)."""
    return cell_grid(int(min(max(n, 2), size)), size)


def sweep(name: str, image: torch.Tensor, g: CellGrid, base_cells: Iterable[int] = (),
          progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [K] of the image with ``base_cells`` hidden, probabilities [n², K] with each
    further cell hidden in turn). With no ``base_cells`` the second is the single-cell map."""
    model = load_zoo_model(name)

    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress(done / total)

    with lock_of(model):
        result = cell_occlusion(model, image[None].contiguous(), g.n, base_cells, progress=report)
    return result.base[0].numpy(), result.cells[0].numpy()


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


def cached_sweep(name: str, image_key: Hashable, image: torch.Tensor, g: CellGrid,
                 base_cells: Iterable[int] = (), progress: Progress | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sweep`, remembered per (model, image, grid, occluded cells) for the whole server."""
    key = _sweep_key(name, image_key, g, base_cells)
    hit = _results().get(key)
    if hit is None:
        if _on_disk(image_key) and not key[-1]:
            stored = cached_arrays("occlusion-sweep", (name, model_fingerprint(name), *key[2:]), lambda: dict(
                zip(("base", "cells"), sweep(name, image, g, (), progress), strict=True)))
            hit = (stored["base"], stored["cells"])
        else:
            hit = sweep(name, image, g, key[-1], progress)
        _results().put(key, hit)
    return hit  # type: ignore[return-value]


def _on_disk(image_key: Hashable) -> bool:
    """Whether results on this image are kept on disk: a demo photo's (an upload's never are)."""
    return isinstance(image_key, tuple) and bool(image_key) and image_key[0] == "demo"


def is_cached(name: str, image_key: Hashable, g: CellGrid, base_cells: Iterable[int] = ()) -> bool:
    return _results().get(_sweep_key(name, image_key, g, base_cells)) is not None


def _sweep_key(name: str, image_key: Hashable, g: CellGrid, base_cells: Iterable[int]) -> tuple:
    return ("sweep", name, image_key, g.n, tuple(sorted({int(c) for c in base_cells})))


def is_fine_cached(name: str, image_key: Hashable, window: int = 16, stride: int = 8) -> bool:
    return _results().get(("fine", name, image_key, window, stride)) is not None


def cached_fine_map(name: str, image_key: Hashable, image: torch.Tensor, window: int = 16,
                    stride: int = 8, progress: Progress | None = None) -> np.ndarray:
    """``saliency_core.occlusion`` attribution map [H,W] of the predicted class, remembered."""
    key = ("fine", name, image_key, window, stride)
    hit = _results().get(key)
    if hit is None:
        model = load_zoo_model(name)

        def report(done: int, total: int) -> None:
            if progress is not None and total:
                progress(done / total)

        def compute() -> np.ndarray:
            with lock_of(model):
                return occlusion(model, image[None].contiguous(), window=window, stride=stride,
                                 progress=report)[0].numpy()

        if _on_disk(image_key):
            hit = cached_arrays("occlusion-fine", (name, model_fingerprint(name), *key[2:]),
                                lambda: {"map": compute()})["map"]
        else:
            hit = compute()
        _results().put(key, hit)
    return hit  # type: ignore[return-value]
