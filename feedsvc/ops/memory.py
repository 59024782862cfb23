"""Heap memory and the system: glibc keeps what large pages freed for reuse, so after a flood of
big variants the process would stay at its peak for good; and it gives threads that allocate at
the same time arenas of their own, whose fragments cannot be given back."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_ARENA_MAX = -8  # glibc's mallopt parameter


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc (musl, macOS): nothing to tune or give back this way
        return None


def one_arena() -> bool:
    """All of this process's threads allocate from one heap arena (glibc's mallopt); False where
    there is no such call. For a process whose threads only load data, before they start."""
    libc = _libc()
    return bool(libc.mallopt(_M_ARENA_MAX, 1)) if libc is not None else False


def trim() -> bool:
    """Return free heap pages to the system (glibc's malloc_trim); False where there is no such call."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
