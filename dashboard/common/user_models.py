"""Users' own models: TorchScript, ``torch.export`` or safetensors + an architecture name.

``saliency_core.load_model`` never unpickles, so an uploaded file cannot run code. A loaded model
is cached by the file's content and shared, read-only, by every session that uploads the same
file; it is explained under its lock like any shared model.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch

import saliency_core
from dashboard.common.models import CLASSES
from saliency_core.zoo import ARCHITECTURES

MODEL_TYPES = ["pt", "ts", "pt2", "safetensors"]


@dataclass(frozen=True)
class UserModel:
    """A user's model; ``key`` identifies it (file digest, architecture, class names) in caches."""

    key: str
    model: torch.nn.Module
    classes: tuple[str, ...]


def architectures() -> list[str]:
    """The architecture names a safetensors upload can be read with."""
    return sorted(ARCHITECTURES)


@st.cache_resource(show_spinner="Loading your model…", max_entries=4)
def load_user_model(digest: str, _data: bytes, suffix: str, architecture: str | None,
                    classes: tuple[str, ...], _name: str | None = None) -> UserModel:
    """A user's model, keyed by the file's sha256 (``_data`` itself is not hashed again)."""
    if not _data:
        raise ValueError("the file is empty")
    with tempfile.TemporaryDirectory() as folder:
        # the user's file name, so the library's messages name the file the user knows
        path = Path(folder) / safe_file_name(_name or "model", suffix)
        path.write_bytes(_data)
        try:
            model = saliency_core.load_model(path, architecture=architecture,
                                             classes=list(classes) if classes else None)
        except Exception as error:  # noqa: BLE001 - weights that do not fit the typed names?
            if not classes:
                raise
            try:
                saliency_core.load_model(path, architecture=architecture)
            except Exception:  # noqa: BLE001 - no: the file itself is bad; report the first error
                raise error from None
            raise ValueError(f"its weights do not have {len(classes)} output{'s' if len(classes) != 1 else ''}, "
                             "one per class name typed "
                             f"({', '.join(classes)}); type one name per model output, in output "
                             "order, or clear the names to use the file's own") from None
    model.eval()
    names = classes or tuple(getattr(model, "classes", None) or CLASSES)
    return UserModel(f"upload:{digest}:{architecture}:{','.join(names)}", model, tuple(names))


def safe_file_name(name: str, suffix: str) -> str:
    """``name``'s stem as a harmless file name (letters, digits, ``-_.``) with ``suffix``."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).stem)[:80].strip(".")
    return f"{stem or 'model'}{suffix}"
