"""Demo data: where the photos are, the model frame, loaders for three layouts, the demo split.

* ``data_dir``: the photo folder (argument, else ``SALIENCY_DATA``, else the built-in photos);
* ``builtin``: the built-in photos (880 Oxford-IIIT Pet photos with pet masks, CC BY-SA 4.0);
* ``frame``: ``to_model_frame`` (128x128, shorter side resized, centre crop);
* ``loaders``: a folder per class, a manifest CSV, the Oxford-IIIT Pet layout;
* ``demo``: the deterministic train/val/test split and the four-quadrant watermark test set.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

# name -> the submodule that defines it, imported on first use: they need PyTorch, and the
# dashboard reads this package's folders (BUILTIN_DIR, data_dir) before PyTorch has loaded.
_LAZY = {"FRAME": "frame", "frame_array": "frame", "to_model_frame": "frame", "CLASSES": "loaders",
         "ImageSet": "loaders", "load_folder": "loaders", "load_manifest": "loaders",
         "load_oxford_pet": "loaders", "load_any": "loaders"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

DEFAULT_DIR = Path("~/.cache/saliency-lab/data").expanduser()  # where `saliency-lab data fetch` puts Oxford-IIIT Pet
# The built-in demo photos, shipped as package data (see saliency_core.data.builtin).
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_photos"


def cache_dir() -> Path:
    """Where decoded frames are cached (``SALIENCY_CACHE`` or ``~/.cache/saliency-lab``)."""
    return Path(os.environ.get("SALIENCY_CACHE", "~/.cache/saliency-lab")).expanduser()


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The demo photo folder: ``path``, else ``$SALIENCY_DATA``, else the built-in photos
    (:data:`BUILTIN_DIR`).

    Raises FileNotFoundError saying how to get the data when the folder does not exist.
    """
    source = "argument"
    if path is None:
        env = os.environ.get("SALIENCY_DATA")
        path, source = (env, "SALIENCY_DATA") if env else (BUILTIN_DIR, "the built-in photos")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no demo data at {folder} ({source}): set SALIENCY_DATA to a folder of photos "
            "(a MANIFEST.csv, one subfolder per class, or the Oxford-IIIT Pet layout), "
            "pass --data DIR, or run `saliency-lab data fetch`"
        )
    return folder


__all__ = [
    "BUILTIN_DIR", "CLASSES", "DEFAULT_DIR", "FRAME", "ImageSet", "cache_dir", "data_dir", "frame_array",
    "load_any", "load_folder", "load_manifest", "load_oxford_pet", "to_model_frame",
]
