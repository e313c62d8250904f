"""Read commands' results, kept until the store changes: a burst of `/brief` (or the same
`/ask`) is answered from memory, fast enough to ride in the platform's first response.

An entry is valid while the store's `data_version` is the one read before it was computed
(any write, by this process or another, moves it) and for at most `ttl` seconds (`/brief`
ranks by recency, which moves with the clock; a minute changes no ranking a reader would
notice, and `/ask` already reuses its word statistics for a minute). A result is kept only
when the version was the same before and after computing it, so a read that overlapped a
write is never kept. A backend that cannot tell its version cheaply (None) keeps nothing.

Example:
    cache = ReadCache()
    stories = cache.get(store, ("brief", topic), lambda: latest_stories(store, topic=topic))
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from bot.store import Store

T = TypeVar("T")

# results kept: a /brief keeps its stories' articles (tens of kB), an /ask its citations
SIZE = 256
TTL = 60.0  # seconds a result is kept at most, however quiet the store

_KEPT_ONLY: ContextVar[bool] = ContextVar("kept_only", default=False)
_MISSING = object()  # no result kept


class NotKeptError(Exception):
    """Within `kept_only`: the result asked for is not kept, and would have to be computed."""


@contextmanager
def kept_only() -> Iterator[None]:
    """Within the block a `ReadCache.get` that would compute raises `NotKeptError` instead:
    the event loop answers what is kept at once, and leaves the rest to a worker thread."""
    token = _KEPT_ONLY.set(True)
    try:
        yield
    finally:
        _KEPT_ONLY.reset(token)


class ReadCache:
    """Results of reads of one store, keyed by what was asked, valid until it changes.

    Thread-safe: read commands run on worker threads.

    Args:
        size: most results kept (the least recently used go first).
        ttl: seconds a result is kept at most.
        clock: monotonic seconds (tests).
    """

    def __init__(
        self,
        *,
        size: int = SIZE,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[object, float, object]] = OrderedDict()

    def get(self, store: Store, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s result for `key`: the kept one while `store` has not changed since,
        else a fresh one (kept for the next caller when nothing wrote meanwhile)."""
        version, now, kept = self._lookup(store, key)
        if kept is not _MISSING:
            return kept  # type: ignore[return-value]
        value = compute()
        self._keep(store, key, version, now, value)
        return value

    async def get_async(
        self, store: Store, key: Hashable, compute: Callable[[], Awaitable[T]]
    ) -> T:
        """`get` for a result computed on the event loop (awaited, as /ask awaits its worker)."""
        version, now, kept = self._lookup(store, key)
        if kept is not _MISSING:
            return kept  # type: ignore[return-value]
        value = await compute()
        self._keep(store, key, version, now, value)
        return value

    def _lookup(self, store: Store, key: Hashable) -> tuple[object, float, object]:
        """The store's version, the time, and the result kept for `key` (`_MISSING` if none)."""
        version = store.data_version()
        now = self._clock()
        if version is not None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry[0] == version and now - entry[1] <= self._ttl:
                    self._entries.move_to_end(key)
                    return version, now, entry[2]
        if _KEPT_ONLY.get():
            raise NotKeptError
        return version, now, _MISSING

    def _keep(
        self, store: Store, key: Hashable, version: object, now: float, value: object
    ) -> None:
        """Keep `value` for `key`, unless the store changed while it was computed."""
        if version is None or store.data_version() != version:
            return
        with self._lock:
            self._entries[key] = (version, now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
