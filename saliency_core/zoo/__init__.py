"""The demo model zoo and a safe loader for users' models.

* ``names()``: zoo models whose weights are installed; ``load(name)``: the model in eval mode;
  ``card(name)``: its model card (training data, seed, epochs, wall time, test accuracies);
* ``load_model(path, architecture=None, classes=None)``: TorchScript, ``torch.export`` ``.pt2``,
  or safetensors / a weights-only state dict plus an architecture name. Never unpickles code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from .architecture import ARCHITECTURES, CLASSES, DemoCNN
from .finetune import load_top
from .loading import load_model
from .recipes import RECIPES

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def names() -> list[str]:
    """Zoo models whose weights are installed, in training order."""
    return [n for n in RECIPES if (WEIGHTS_DIR / f"{n}.safetensors").is_file()]


def _check(name: str) -> None:
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"unknown zoo model {name!r}; choose one of {', '.join(RECIPES)}")
    if not (WEIGHTS_DIR / f"{name}.safetensors").is_file():
        raise FileNotFoundError(f"zoo model {name!r} has no weights in {WEIGHTS_DIR}: "
                                f"run `saliency-lab train {name}`")


def card(name: str) -> dict[str, Any]:
    """The model card of zoo model ``name`` (a dict read from NAME.json)."""
    _check(name)
    path = WEIGHTS_DIR / f"{name}.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {"name": name}


def load(name: str) -> nn.Module:
    """Zoo model ``name`` in eval mode (CPU): the installed ImageNet EfficientNet-Lite0 backbone with
    the model's trained layers (its card says which architecture), or a from-scratch DemoCNN."""
    _check(name)
    info = card(name)
    path = WEIGHTS_DIR / f"{name}.safetensors"
    if str(info.get("architecture", "")).startswith("efficientnet_lite0"):
        return load_top(path)
    options = info.get("architecture_options", {})
    return load_model(path, architecture="demo_cnn", **({"width": options["width"]} if "width" in options else {}))


__all__ = ["ARCHITECTURES", "CLASSES", "DemoCNN", "RECIPES", "WEIGHTS_DIR", "card", "load", "load_model", "names"]
