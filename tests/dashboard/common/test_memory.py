"""``dashboard.common.memory``: on glibc (this project's Linux hosts) both calls take effect."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from dashboard.common import memory

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="malloc_trim and mallopt are glibc's")


@glibc
def test_limit_arenas_is_set_once() -> None:
    assert ctypes.util.find_library("c")
    assert memory.limit_arenas() is True
    assert memory.limit_arenas() is True  # cached: mallopt is called once per process


@glibc
def test_trim_returns_free_memory_without_harm() -> None:
    block = bytearray(64 * 2**20)
    del block
    assert isinstance(memory.trim(), bool)
