"""Finding the compiled extension `saliency_core._ext`, once, with a clear fallback story."""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

_UNSET = object()
_cached: object = _UNSET


def require_extension() -> bool:
    """True when SALIENCY_REQUIRE_EXT=1: a missing extension is an error, not a fallback."""
    return os.environ.get("SALIENCY_REQUIRE_EXT") == "1"


def extension() -> ModuleType | None:
    """The compiled module, or None (after one warning) when it cannot be imported.

    Raises ImportError instead under SALIENCY_REQUIRE_EXT=1, so a broken build cannot pass quietly.
    """
    global _cached
    if _cached is _UNSET:
        try:
            _cached = importlib.import_module("saliency_core._ext")
        except ImportError as err:
            if require_extension():
                raise ImportError(
                    "saliency_core._ext (the compiled kernels) could not be imported and "
                    f"SALIENCY_REQUIRE_EXT=1 forbids the reference fallback: {err}. "
                    "Rebuild with `pip install -e .` and read the CMake output."
                ) from err
            warnings.warn(
                f"saliency_core._ext could not be imported ({err}); using the slower plain-torch "
                "reference kernels",
                RuntimeWarning,
                stacklevel=3,
            )
            _cached = None
    return _cached if isinstance(_cached, ModuleType) else None


def reset() -> None:
    """Forget the cached import (tests use it to simulate a missing extension)."""
    global _cached
    _cached = _UNSET
