"""The compiled extension `saliency_core._ext`: found once (with a clear fallback story), and which
of its kernels suit a tensor.

Its bindings follow two conventions (see ``docs/KERNELS.md``): the CPU kernels take numpy arrays
(sizes read from the arrays, windows as (y, x) tuples, None for an absent optional array); the CUDA
kernels take raw device pointers, sizes and the stream to launch on.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

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


def cuda_compiled() -> bool:
    """True when the extension was built with its CUDA kernels."""
    ext = extension()
    return ext is not None and bool(ext.WITH_CUDA)


def cuda_available() -> bool:
    """True when the CUDA kernels are compiled and a CUDA device is visible now."""
    ext = extension()
    return ext is not None and bool(ext.WITH_CUDA) and bool(ext.cuda_available())


def backend() -> str:
    """"extension+cuda" (CUDA kernels usable), "extension" (C++ CPU kernels) or "reference"."""
    if extension() is None:
        return "reference"
    return "extension+cuda" if cuda_available() else "extension"


def for_tensor(t: Tensor) -> tuple[ModuleType | None, bool]:
    """(extension, on_cuda) for data `t`; extension None means: use the reference."""
    ext = extension()
    if ext is None:
        return None, False
    if t.device.type == "cuda":
        return (ext, True) if cuda_available() else (None, False)
    return (ext, False) if t.device.type == "cpu" else (None, False)


def array(t: Tensor | None) -> np.ndarray | None:
    """A CPU tensor as the numpy array a CPU binding takes (shared memory, no copy); None stays None."""
    return None if t is None else t.detach().numpy()


def ptr(t: Tensor | None) -> int:
    """A CUDA tensor's device pointer for a CUDA binding (0 for None or an empty tensor)."""
    return 0 if t is None or t.numel() == 0 else int(t.data_ptr())


def stream(t: Tensor) -> int:
    """The current stream of `t`'s device, which the CUDA bindings launch on."""
    with torch.cuda.device(t.device):
        return int(torch.cuda.current_stream().cuda_stream)
