"""Giving memory back to the system after a big piece of work, such as a digest over many
stored articles.

CPython keeps freed objects' memory in its own pools and glibc's malloc keeps freed heap
pages for reuse, so a process that once held many rows stays that large while it idles.
`release_memory` collects cycles, lets the store drop its caches, and asks glibc to return
free pages (a no-op on other C libraries).

Example:
    digest = build_digest(store, channel)
    ...  # send it
    release_memory(store)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import platform
from collections.abc import Callable
from functools import cache

from bot.store import Store

log = logging.getLogger(__name__)


def release_memory(store: Store | None = None) -> None:
    """Collect garbage, shrink `store`'s caches, and return free heap pages to the system."""
    gc.collect()
    if store is not None:
        store.release_memory()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library is another (musl, macOS)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        log.debug("malloc_trim is not available")
        return None
    return trim
