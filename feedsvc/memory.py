"""Freed memory back to the system: glibc keeps what large pages freed for reuse, so after a flood
of big variants the process would stay at its peak for good."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        fn: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
        return fn if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to give back this way
        return None


def trim() -> bool:
    """Return free heap pages to the system (glibc's malloc_trim); False where there is no such call."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
