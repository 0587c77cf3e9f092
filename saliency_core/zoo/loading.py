"""Load a user's model without ever running code from the file.

Accepted: TorchScript archives (``torch.jit.load``: a restricted format, no Python pickle code),
``torch.export`` programs (``.pt2``), safetensors (tensors only) and state dicts in ``.pt``/``.pth``
files read with ``torch.load(weights_only=True)`` (an allow-listed unpickler) -- the last two need
an architecture name from ``ARCHITECTURES``. Anything else, including pickles that reference
arbitrary callables, is refused with a ValueError.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open
from torch import nn

from saliency_core.errors import one_line_error

from .architecture import ARCHITECTURES, CLASSES


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold compiled code (``*/code/``) and ``constants.pkl``; torch.save zips don't."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            entries = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False  # a damaged zip: torch.load below refuses it with a ValueError
    return any("/code/" in e for e in entries) and any(e.endswith("constants.pkl") for e in entries)


def _build(state: dict[str, torch.Tensor], architecture: str | None, classes: Sequence[str] | None,
           source: Path, **options: Any) -> nn.Module:
    if architecture is None:
        raise ValueError(f"{source.name} holds weights only: name its architecture "
                         f"(one of {', '.join(ARCHITECTURES)})")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{source.name} is not a state dict of tensors")
    head = state.get("fc.weight")
    n_classes = len(classes) if classes is not None else (int(head.shape[0]) if head is not None else len(CLASSES))
    stem_convs = [v for k, v in state.items() if k.startswith("stem.") and v.dim() == 4]
    if "width" not in options and stem_convs:
        options["width"] = int(stem_convs[0].shape[0])  # DemoCNN's width = the stem's channels
    model = ARCHITECTURES[architecture](classes=n_classes, **options)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{source.name} does not fit architecture {architecture!r}: {err}") from None
    return model


def load_model(path: str | os.PathLike[str], architecture: str | None = None,
               classes: Sequence[str] | None = None, **options: Any) -> nn.Module:
    """A model from ``path`` in eval mode on the CPU; see the module docstring for the formats.

    ``classes`` (names) sets the number of outputs for weight-only files and is stored on the
    returned module as ``model.classes``; ``options`` go to the architecture's constructor.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a model file (TorchScript, .pt2, safetensors or a state dict)")
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    suffix = path.suffix.lower()
    model: nn.Module
    if suffix == ".pt2":
        if not zipfile.is_zipfile(path):  # before torch.export.load, which logs a traceback on junk
            raise ValueError(f"{path.name} is not a torch.export program: not a zip archive")
        try:
            model = torch.export.load(str(path)).module()
        except Exception as err:  # noqa: BLE001 - any failure means "not a valid export"
            raise ValueError(f"{path.name} is not a torch.export program: {one_line_error(err, typed=True)}") from None
    elif suffix == ".safetensors":
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
            state = load_file(str(path))
        except Exception as err:  # noqa: BLE001 - SafetensorError, OSError, a bad header: all "not valid"
            raise ValueError(f"{path.name} is not a valid safetensors file: {one_line_error(err, typed=True)}") from None
        model = _build(state, architecture or meta.get("architecture"), classes, path, **options)
    elif _is_torchscript(path):
        try:
            model = torch.jit.load(str(path), map_location="cpu")
        except Exception as err:  # noqa: BLE001 - a damaged archive fails in many ways, all "not readable"
            raise ValueError(f"{path.name} looks like a TorchScript archive but could not be read "
                             f"(damaged or truncated?): {one_line_error(err, typed=True)}") from None
    else:
        try:
            # weights_only: the allow-listed unpickler, never arbitrary code. Junk bytes make it fail
            # with anything from KeyError to IndexError; every failure is the same refusal.
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"refused {path.name}: not TorchScript, not torch.export, and not a "
                             f"weights-only state dict (files that would run code are never loaded): "
                             f"{one_line_error(err, typed=True)}") from None
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict):
            raise ValueError(f"{path.name} holds a {type(obj).__name__}, not a state dict; "
                             "export the model with torch.jit.save or torch.export instead")
        model = _build(obj, architecture, classes, path, **options)
    if suffix != ".pt2":  # exported programs are frozen in the mode they were exported in
        model.eval()
    if classes is not None:
        model.classes = tuple(classes)  # type: ignore[assignment]
    return model
