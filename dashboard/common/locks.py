"""One lock per shared model, one pass at a time in the server, and maps computed while holding them.

Models are shared by every session (``st.cache_resource``). Saliency methods register hooks and
run backward on the model, which is not safe from two sessions at once, so every call that does
(and every forward pass, which a hook would disturb) holds ``lock_of(model)``. A private copy,
such as a sanity check's randomised model, gets a lock of its own that nobody else waits on.

Taking a model's lock first takes the server-wide compute lock (reentrant), so that passes never
run side by side: each holds up to ~150 MB of activations, and two sessions, or a page and the
warm-up thread, would hold twice that, with no gain on a 2-core CPU that one pass already fills.
Long work releases it between chunks (:func:`explain_locked`), so no one waits long.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import torch
from torch import nn

import saliency_core
from saliency_core.methods import Explanation
from saliency_core.methods.occlusion import set_memory_budget

_GUARD = threading.Lock()
_COMPUTE = threading.RLock()  # one pass at a time in the whole server (see above)


class ModelLock:
    """A model's own lock, taken after the server-wide compute lock (a context manager)."""

    def __init__(self) -> None:
        self._own = threading.Lock()

    def __enter__(self) -> ModelLock:
        _COMPUTE.acquire()
        try:
            self._own.acquire()
        except BaseException:
            _COMPUTE.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._own.release()
        _COMPUTE.release()

    def locked(self) -> bool:
        """Whether someone holds this model now."""
        return self._own.locked()


# Weak keys: a model evicted from the cache takes its lock with it.
_LOCKS: weakref.WeakKeyDictionary[nn.Module, ModelLock] = weakref.WeakKeyDictionary()


def lock_of(model: nn.Module) -> ModelLock:
    """The process-wide lock of this model instance."""
    with _GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = ModelLock()
        return lock


# Images explained per call: a backward pass through EfficientNet-Lite0 at 128 px keeps ~28 MB of
# activations per image (50 at once peaked at 1.8 GB; the host guarantees ~690 MB). 4 at a time:
# +143 MB for the normal model (8: +271 MB), 18% slower over 200 photos; +69–82 MB since the
# served models have their batch norms folded.
CHUNK = 4
# What one occlusion pass may hold here (the library's default is 256 MB): +144 MB instead of
# +239 MB for the normal model's 18×18 sweep, 1.48 s instead of 1.22 s (since a pass frees each
# layer's patch after its last reader: +87–95 MB instead of +107–114, bench/sweep_memory.py).
OCCLUSION_BUDGET = 128 * 2**20
set_memory_budget(OCCLUSION_BUDGET)
BATCHED = ("smoothgrad", "smoothgrad_squared", "integrated_gradients")  # methods with a batch_size option
# Their noisy copies / path steps per backward pass: 2. Through the served (folded) normal model a
# pass of 2 rows peaked at +31–35 MB, of 4 at +69–82 MB; SmoothGrad n = 50 of one photo took
# 0.64–0.72 s instead of 0.51–0.63 s. At 4 the Gradients page's 4 models × 7 methods click set the
# server's peak (808 and 823 MB in two bench runs; 708 MB at 2).
NOISY_ROWS = 2


def explain_locked(model: nn.Module, images: Any, method: str, **options: Any) -> Any:
    """``saliency_core.explain`` while holding the model's lock (the same signature, so it can be
    passed wherever the library takes an ``explain``), :data:`CHUNK` images at a time."""
    count = len(images) if isinstance(images, torch.Tensor) and images.dim() == 4 else 0
    if method in BATCHED:  # noisy copies / path steps: the same bound on images per backward pass
        options = {"batch_size": NOISY_ROWS, **options}
    if count <= CHUNK:
        with lock_of(model):
            return saliency_core.explain(model, images, method, **options)
    parts = []
    for start in range(0, count, CHUNK):
        part = {k: _slice(v, count, start) for k, v in options.items()}
        with lock_of(model):  # released between chunks: other sessions are not kept waiting
            parts.append(saliency_core.explain(model, images[start:start + CHUNK], method, **part))
    return _joined(parts)


def _slice(value: Any, count: int, start: int) -> Any:
    """A per-image option (a tensor with one entry per image) cut to the chunk; others as they are."""
    if isinstance(value, torch.Tensor) and value.dim() >= 1 and len(value) == count:
        return value[start:start + CHUNK]
    return value


def _joined(parts: list[Explanation]) -> Explanation:
    extras = {key: torch.cat([p.extras[key] for p in parts])
              if isinstance(value, torch.Tensor) and value.dim() >= 1 and len(value) == len(parts[0].maps) else value
              for key, value in parts[0].extras.items()}
    return Explanation(maps=torch.cat([p.maps for p in parts]), attributions=torch.cat([p.attributions for p in parts]),
                       target=torch.cat([p.target for p in parts]),
                       probabilities=torch.cat([p.probabilities for p in parts]), method=parts[0].method, extras=extras)
