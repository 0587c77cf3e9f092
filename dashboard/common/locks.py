"""One lock per shared model, and saliency maps computed while holding it.

Models are shared by every session (``st.cache_resource``). Saliency methods register hooks and
run backward on the model, which is not safe from two sessions at once, so every call that does
(and every forward pass, which a hook would disturb) holds ``lock_of(model)``. A private copy,
such as a sanity check's randomised model, gets a lock of its own that nobody else waits on.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from torch import nn

import saliency_core

_GUARD = threading.Lock()
# Weak keys: a model evicted from the cache takes its lock with it.
_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()


def lock_of(model: nn.Module) -> threading.Lock:
    """The process-wide lock of this model instance."""
    with _GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.Lock()
        return lock


def explain_locked(model: nn.Module, images: Any, method: str, **options: Any) -> Any:
    """``saliency_core.explain`` while holding the model's lock (the same signature, so it can be
    passed wherever the library takes an ``explain``)."""
    with lock_of(model):
        return saliency_core.explain(model, images, method, **options)
