"""What ingest computes from an article alone, before storing it: its briefing, its terms and
the hash of its text.

Summarising is most of the CPU an article costs, and it needs nothing but the article, so a big
batch (a JSON Lines file, a first poll of a long feed) is summarised in worker processes on the
other cores while the event loop's thread stores and groups the batch before it; the terms
story grouping compares (`bot.cluster.terms`) come back with each briefing, so they are computed
once. Small batches (a routine poll of a few new entries) are prepared in the process: starting
a worker costs more than it saves there, and a machine with one core has no other core to use.

Example:
    async with Preparer(default_workers()) as preparer:
        run = preparer.start(articles)       # None: prepare each with `prepare` instead
        while run is not None and run.left:
            chunk, ready = await run.next()  # in order; None: prepare those here
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType

from bot.cluster import terms
from bot.models import Article, Briefing
from bot.store.rows import content_hash
from bot.summarize import summarize
from bot.workers import process_pool, spare_cores

log = logging.getLogger(__name__)

POOL_FROM = 64
"""Fewest articles in one call worth sending to worker processes (starting one costs about half
a second, summarising 64 articles about a tenth)."""

CHUNK = 50
"""Articles per task sent to a worker: enough that pickling and the round trip are a few
percent of the work, few enough that storing starts as soon as the first task is back."""

MAX_WORKERS = 4

AHEAD = 6
"""Tasks sent to each worker ahead of the one awaited: more than a batch (`BATCH` / `CHUNK` = 4),
so the workers go on while a batch is stored (with 3, main waited 7 s of 31 at 10k articles)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """An article's briefing and the weighted terms of its title and lead."""

    briefing: Briefing
    terms: dict[str, float]
    text_hash: str
    """`bot.store.content_hash` of its text: how the store tells copies apart."""


def prepare(article: Article) -> Prepared:
    """The briefing and terms of one article (pure: the same article gives the same result)."""
    return Prepared(
        summarize(article.text, article.title or None, language=article.language),
        terms(article.title, article.text, article.language),
        content_hash(article.text),
    )


def prepare_all(articles: Sequence[Article]) -> list[Prepared]:
    """`prepare` for each of `articles`: one worker task."""
    return [prepare(article) for article in articles]


def default_workers() -> int:
    """The cores this process may use, less the one the event loop's thread stores on."""
    return spare_cores(MAX_WORKERS)


class Preparer:
    """Prepares articles in worker processes when there are enough of them, else in the process.

    The pool is started on first use and kept until `close`; a pool that breaks (a worker killed
    by the kernel for memory) is dropped and the articles prepared in the process instead, so
    ingest never fails for it.
    """

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers
        self._pool: Executor | None = None

    async def __aenter__(self) -> Preparer:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def start(self, articles: Sequence[Article]) -> Run | None:
        """Start preparing `articles` in the workers, when that is worth it; None when they are
        to be prepared here (few articles, no worker)."""
        if self.workers < 1 or len(articles) < POOL_FROM:
            return None
        return Run(self, articles)

    def submit(self, articles: Sequence[Article]) -> asyncio.Future[list[Prepared]] | None:
        """One task for the workers; None when there is no pool (any more)."""
        if self.workers < 1:
            return None
        try:
            if self._pool is None:
                self._pool = process_pool(self.workers)
            return asyncio.get_running_loop().run_in_executor(self._pool, prepare_all, articles)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self._broken(exc)
            return None

    async def result(
        self, task: asyncio.Future[list[Prepared]] | None, articles: Sequence[Article]
    ) -> list[Prepared] | None:
        """One task's result; None when `articles` are to be prepared where they are stored,
        one by one (no pool, or its worker failed)."""
        if task is None:
            return None
        try:
            return await task
        except (BrokenProcessPool, OSError) as exc:
            self._broken(exc)
        except Exception:
            # one article the summariser cannot take: each is prepared again as it is stored,
            # where a failure costs that article only
            log.exception("summarising %d articles in a worker failed", len(articles))
        return None

    def _broken(self, exc: BaseException) -> None:
        log.warning("summarising in worker processes failed (%s); going on in this one", exc)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.workers = 0


class Run:
    """Articles being prepared by the workers in tasks of `CHUNK`, in order, with a few tasks
    sent ahead of the one awaited: enough to keep every worker busy, few enough that neither
    the articles sent nor the results waiting pile up in memory."""

    def __init__(self, preparer: Preparer, articles: Sequence[Article]) -> None:
        self._preparer = preparer
        self._chunks = deque(articles[i : i + CHUNK] for i in range(0, len(articles), CHUNK))
        self._sent: deque[tuple[Sequence[Article], asyncio.Future[list[Prepared]] | None]]
        self._sent = deque()
        self._fill()

    @property
    def left(self) -> int:
        """Tasks not collected yet."""
        return len(self._chunks) + len(self._sent)

    async def next(self) -> tuple[Sequence[Article], list[Prepared] | None]:
        """The next task's articles and what was prepared of them (None: nothing, see
        `Preparer.result`)."""
        chunk, task = self._sent.popleft()
        done = await self._preparer.result(task, chunk)
        self._fill()
        return chunk, done

    def _fill(self) -> None:
        while self._chunks and len(self._sent) < AHEAD * max(1, self._preparer.workers):
            chunk = self._chunks.popleft()
            self._sent.append((chunk, self._preparer.submit(chunk)))
