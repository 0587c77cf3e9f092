"""Occlusion: the model's output with parts of the image hidden.

Public entry points: :func:`occlusion` (sliding windows, Captum's semantics; modes exact, naive,
fast) and :func:`cell_occlusion` (every cell of an n×n grid hidden in turn). Modules, bottom up:

- :mod:`.geometry`: the occluded regions per axis, and how a change reaches through a layer;
- :mod:`.plan`: graph analysis — the traced model, its cached activations, each layer's region;
- :mod:`.execution`: one incremental-inference pass of a plan for a chunk of windows;
- :mod:`.batching`: the memory budget, the chunk rule, and batched full inference (the fallback);
- :mod:`.incremental`: exact occlusion by incremental inference (which windows share a pass);
- :mod:`.adaptive`: the coarse-to-fine approximation (``mode="fast"``);
- :mod:`.sliding`: :func:`occlusion`; :mod:`.cells`: :func:`cell_occlusion`.
"""

from __future__ import annotations

from saliency_core.methods.occlusion.batching import set_memory_budget
from saliency_core.methods.occlusion.cells import CellGrid, CellOcclusion, cell_grid, cell_occlusion, hide_cells
from saliency_core.methods.occlusion.sliding import Mode, occlusion, occlusion_from_logits

__all__ = [
    "CellGrid",
    "CellOcclusion",
    "Mode",
    "cell_grid",
    "cell_occlusion",
    "hide_cells",
    "occlusion",
    "occlusion_from_logits",
    "set_memory_budget",
]
