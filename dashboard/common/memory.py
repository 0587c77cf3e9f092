"""Give freed memory back to the operating system after each page run, and keep fewer arenas.

glibc keeps the memory of freed tensors in its arenas, so the server's resident size only grows
with every page's peak (the host counts resident memory). ``malloc_trim(0)`` returns the free
pages. glibc also gives each new thread (Streamlit runs every session's script on its own) an
arena of its own, up to 8 per core, each holding freed memory apart: :func:`limit_arenas` caps
them at 2 (``mallopt(M_ARENA_MAX)``, what ``MALLOC_ARENA_MAX=2`` does, set from inside because
a host such as Streamlit Community Cloud starts the process itself). Elsewhere than glibc
(macOS, musl) both are no-ops.
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
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


M_ARENA_MAX = -8  # glibc's malloc.h


@lru_cache(maxsize=1)
def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads started from now on (once per process); True when set."""
    libc = _libc()
    return bool(libc.mallopt(M_ARENA_MAX, arenas)) if libc is not None else False


def trim() -> bool:
    """Return free heap memory to the OS; True when glibc did it."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
