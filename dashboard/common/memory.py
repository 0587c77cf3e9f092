"""Give freed memory back to the operating system after each page run.

glibc keeps the memory of freed tensors in its arenas, so the server's resident size only grows
with every page's peak (the host counts resident memory). ``malloc_trim(0)`` returns the free
pages; elsewhere than glibc (macOS, musl) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim() -> bool:
    """Return free heap memory to the OS; True when glibc did it."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
