"""The compiled kernels of Saliency Lab, with plain-torch fallbacks: one module per source in
``csrc/`` (occlusion, threshold, noise, gather), the extension's loader (native), the argument
checks (validate) and the plain-torch oracle (reference).

Each public kernel validates its arguments (bad input → ValueError naming the argument), then runs
on the best backend for the data: CUDA tensors on the CUDA kernels when they are compiled and a GPU
is visible, CPU tensors on the C++ kernels, anything else on :mod:`.reference`. The ``*_unchecked``
twins skip the checks, for callers inside the package that validated once. The rules (window
positions, ties, NaN, RNG) are in ``docs/KERNELS.md``.
"""

from __future__ import annotations

from saliency_core.kernels import reference, validate  # used as kernels.reference / kernels.validate
# The unchecked twins and baseline4 are for the package's own callers, not in __all__.
from saliency_core.kernels.gather import gather_patches, gather_patches_unchecked
from saliency_core.kernels.native import backend, cuda_available, cuda_compiled
from saliency_core.kernels.noise import masked_noise
from saliency_core.kernels.occlusion import (
    baseline4,
    max_windows_per_chunk,
    occlusion_accumulate,
    occlusion_accumulate_unchecked,
    occlusion_batch,
    occlusion_batch_unchecked,
    window_grid,
)
from saliency_core.kernels.reference import TopPercent, top_k
from saliency_core.kernels.threshold import top_percent

__all__ = [
    "TopPercent",
    "backend",
    "cuda_available",
    "cuda_compiled",
    "gather_patches",
    "masked_noise",
    "max_windows_per_chunk",
    "occlusion_accumulate",
    "occlusion_batch",
    "top_k",
    "top_percent",
    "window_grid",
]

