"""Saliency Lab: find unintended biases in image classifiers with saliency maps.

Public API (stable names)::

    import saliency_core as sc
    maps = sc.occlusion(model, images, window=16, stride=8)        # [B,H,W]
    grid = sc.cell_occlusion(model, images, n=18)                   # P(class) with each cell hidden
    exp = sc.explain(model, images, "gradient_squared")             # Explanation
    share = sc.metrics.top_percent_share(exp.maps, boxes)           # [B]
    model = sc.load_model("my_model.pt2")
    sc.backend()                                                    # "extension", ...

Submodules: ``kernels`` (compiled kernels and their references), ``methods``,
``metrics``, ``data``, ``artefacts``, ``zoo``, ``audit``, ``render`` (maps as pictures).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; imported on first use so `import saliency_core` stays fast.
_LAZY = {
    "backend": "saliency_core.kernels",
    "occlusion": "saliency_core.methods.occlusion",
    "cell_occlusion": "saliency_core.methods.occlusion",
    "cell_grid": "saliency_core.methods.occlusion",
    "explain": "saliency_core.methods",
    "Explanation": "saliency_core.methods",
    "load_model": "saliency_core.zoo",
}
_SUBMODULES = {"kernels", "methods", "metrics", "data", "artefacts", "zoo", "audit", "render"}

__all__ = sorted([*_LAZY, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"saliency_core.{name}")
    raise AttributeError(f"module 'saliency_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
