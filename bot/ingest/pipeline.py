"""Ingest any mix of local paths, web pages and feeds into the store, one source at a time.

A bad source is reported and skipped; the rest of the batch goes on. Each new article is
summarised once, here, and its briefing stored beside it, so digests and commands reuse it.
An article that comes back changed under the same link (a corrected number, an "UPDATED:"
title) is revised in place, its old version kept, and summarised again.

Example:
    report = await ingest(["seeds/", "https://example.org/feed.xml"], store, policy)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.cluster import BatchCounts, assign_story
from bot.errors import SourceError, StoreFaultError
from bot.ingest import feeds, files, web
from bot.ingest.http import FetchPolicy, fetch
from bot.ingest.outlets import OutletNames
from bot.ingest.prepare import Prepared, Preparer, Run, prepare
from bot.ingest.urls import canonical_url
from bot.models import Article, FeedState
from bot.store import Store, content_hash
from bot.summarize import summarize
from bot.updates import split_update_marker

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Polled = tuple[FeedState, str | None]
"""A feed's state after a poll, and its title: saved with the last of its articles."""

LABEL_CHARS = 200

BATCH = 200
"""Articles stored per transaction. One commit per article (and its story, its index entries
and its search terms) cost more than the rest of storing it; 200 keep a batch to about half a
second of holding SQLite's write lock, and the event loop runs between two batches. (On 10k
articles, batches of 100 wrote 780 MB to disk, of 250 490 MB: each commit rewrites the pages
of the document counts it touched.)"""


@dataclass(slots=True)
class IngestResult:
    """What one ingest run did, source by source."""

    added: list[Article] = field(default_factory=list)
    """The articles stored, each with the first `LABEL_CHARS` of its text only (enough to name
    an untitled one); the whole text is in the store."""
    revised: list[Article] = field(default_factory=list)
    duplicates: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    """(source, note): what a user should know about a source that was read: a feed with no
    entries, text that still looks garbled, linked pages that held no article."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        parts = [f"{len(self.added)} new", f"{self.duplicates} already stored"]
        if self.revised:
            parts.append(f"{len(self.revised)} revised")
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} feeds unchanged")
        parts.append(f"{len(self.failures)} failed")
        if self.notes:
            parts.append(f"{len(self.notes)} note{'s' if len(self.notes) != 1 else ''}")
        return "Ingested: " + ", ".join(parts) + "."


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


async def ingest(
    targets: Sequence[str],
    store: Store,
    policy: FetchPolicy,
    *,
    progress: Progress | None = None,
    now: Callable[[], datetime] | None = None,
    feeds_only: bool = False,
    names: OutletNames | None = None,
    workers: int = 0,
) -> IngestResult:
    """Read every target (file, folder, page URL or feed URL) and store what is new.

    Args:
        workers: worker processes that summarise big batches (`bot.ingest.prepare`); 0
            summarises in this process. The bot passes `default_workers()`; a script that
            passes more must keep its top level under ``if __name__ == "__main__":``, since
            each worker imports the script again (Python's multiprocessing rule).
        feeds_only: the URLs are known to be feeds (configured or subscribed): poll them as
            feeds, so a failure is counted in the feed's state and backed off.
        names: the operator's outlet names (``[feeds] names``), which win over what the
            sources call themselves.
    """
    async with Preparer(workers) as preparer:
        return await _ingest(targets, store, policy, preparer, progress, now, feeds_only, names)


async def _ingest(
    targets: Sequence[str],
    store: Store,
    policy: FetchPolicy,
    preparer: Preparer,
    progress: Progress | None,
    now: Callable[[], datetime] | None,
    feeds_only: bool,
    names: OutletNames | None,
) -> IngestResult:
    clock = now or (lambda: datetime.now(UTC))
    result = IngestResult()
    units: list[str | Path] = []
    for target in targets:
        if is_url(target):
            units.append(canonical_url(target))
        else:
            path = Path(target)
            if not path.exists():
                result.failures.append((target, "no such file or directory"))
                continue
            units.extend(files.iter_files(path))
            if path.is_dir() and not any(True for _ in files.iter_files(path)):
                result.failures.append((target, "no .txt, .md, .json or .jsonl files in it"))
    ahead: tuple[Path, _Staged] | None = None
    for done, unit in enumerate(units, start=1):
        if progress:
            progress(done, len(units), str(unit))
        polled: Polled | None = None
        if ahead is not None and ahead[0] == unit:
            staged, ahead = ahead[1], None
        else:
            try:
                if isinstance(unit, Path):
                    items = files.read_file(unit, now=clock())
                else:
                    items, polled = await _read_url(
                        unit, store, policy, clock(), result, feeds_only
                    )
            except SourceError as exc:
                items = [exc]
            staged = _stage(unit, items, names, store, preparer)
        for error in staged.errors:
            result.failures.append((error.url, error.reason))
            log.warning("source failed: %s (%s)", error.url, error.reason)
        following = units[done] if done < len(units) else None

        def read_ahead(path: str | Path | None = following) -> None:
            # the next file is read and sent to the workers while this one's last batch is
            # stored, so they have its first articles ready when it is its turn
            nonlocal ahead
            if isinstance(path, Path):
                items = files.read_file(path, now=clock())
                ahead = (path, _stage(path, items, names, store, preparer))

        await _store_batches(staged, store, result, polled, read_ahead)
    for source, note in result.notes:
        log.info("source %s: %s", source, note)
    return result


def _renamed(article: Article, names: OutletNames | None) -> Article:
    """`article` under the operator's name for its outlet, if there is one."""
    name = names.lookup(article.url, article.origin) if names else None
    return replace(article, source=name) if name else article


@dataclass(slots=True)
class _Staged:
    """One source's articles as they will be stored, the new ones on their way through the
    workers (`run`, None when they are prepared here), and its bad records."""

    articles: list[Article]
    run: Run | None
    waiting: set[str]
    errors: list[SourceError]


def _stage(
    unit: str | Path,
    items: Sequence[Article | SourceError],
    names: OutletNames | None,
    store: Store,
    preparer: Preparer,
) -> _Staged:
    origin = unit.resolve().as_uri() if isinstance(unit, Path) else unit
    articles = [
        _titled(_renamed(replace(item, origin=item.origin or origin), names))
        for item in items
        if not isinstance(item, SourceError)
    ]
    fresh = [article for article in articles if not store.has_article(article.url)]
    run = preparer.start(fresh)
    return _Staged(
        articles,
        run,
        {article.url for article in fresh} if run is not None else set(),
        [item for item in items if isinstance(item, SourceError)],
    )


async def _store_batches(
    staged: _Staged,
    store: Store,
    result: IngestResult,
    polled: Polled | None = None,
    before_last: Callable[[], None] | None = None,
) -> None:
    """Store `staged` articles in transactions of `BATCH`, and then the feed's state (`polled`).

    The new ones are summarised first (`bot.ingest.prepare`: in worker processes for a big
    batch, while the batches before are stored). The feed's state (its ETag, when it was
    polled) is committed with the last of its articles: a process killed before that polls the
    feed again in full, and the articles stored by then are found stored; saved first, it
    would have the server answer "not modified" for entries that were never stored.

    Args:
        before_last: called once the last batch's articles are prepared, before it is stored.
    """
    articles, run, waiting = staged.articles, staged.run, staged.waiting
    ready: dict[str, Prepared] = {}
    count = len(articles)
    for start in range(0, max(count, 1), BATCH):
        batch = articles[start : start + BATCH]
        while run is not None and run.left and any(a.url in waiting for a in batch):
            chunk, done = await run.next()
            if done is not None:
                ready.update(zip((a.url for a in chunk), done, strict=True))
            waiting.difference_update(a.url for a in chunk)
        last = start + BATCH >= count
        if last and before_last is not None:
            before_last()
        with store.batch():
            counts = BatchCounts(store)
            for article in batch:
                prepared = ready.pop(article.url, None)
                article = _hashed(article, prepared.text_hash if prepared else None)
                try:
                    # each article whole or not at all: one the database refuses is
                    # reported, and the rest of the batch is stored
                    with store.transaction():
                        _store(article, store, result, prepared, counts)
                except StoreFaultError:
                    raise  # the database cannot be written at all (full disk, gone)
                except Exception as exc:
                    log.exception("article %s could not be stored", article.url)
                    result.failures.append((article.url, f"could not be stored: {exc}"))
            counts.flush()
            if polled is not None and last:
                store.put_feed_state(*polled)
        # commands and digests wait for the event loop while a batch is stored
        await asyncio.sleep(0)


def _store(
    article: Article,
    store: Store,
    result: IngestResult,
    ready: Prepared | None = None,
    counts: BatchCounts | None = None,
) -> None:
    """Store one article as `_as_stored` made it."""
    stored = store.article_by_url(article.url)
    if stored is not None:
        _revise(stored, article, store, result)
        return
    if ready is None:
        ready = prepare(article)
    stored, added = store.add_article(article, ready.briefing, text_hash=ready.text_hash)
    if added:
        # grouping into stories is per-article work too: done once here, reused by digests
        assign_story(store, stored, ready.terms, counts, fresh=True)
        # the text is in the store: a run of many thousands must not hold every one
        result.added.append(replace(stored, text=stored.text[:LABEL_CHARS]))
    else:
        result.duplicates += 1


def _as_stored(article: Article) -> Article:
    """`article` as it is stored: its title without an update marker ("UPDATED: ..."), which
    becomes a flag, and the hash of its text as the source gave it (see `Article.entry_hash`)."""
    return _hashed(_titled(article))


def _titled(article: Article) -> Article:
    title, marked = split_update_marker(article.title)
    return replace(article, title=title, update_marker=marked)


def _hashed(article: Article, text_hash: str | None = None) -> Article:
    # hashed just before it is stored, which hashes the same text again (a cache hit)
    if article.entry_hash:
        return article
    return replace(article, entry_hash=text_hash or content_hash(article.text))


def _revise(stored: Article, entry: Article, store: Store, result: IngestResult) -> None:
    """Update `stored` in place when its source changed it (a corrected number, a new title);
    count it as already stored when it did not, or when another source carries it."""
    assert stored.id is not None
    if entry.origin != stored.origin:
        # the same link in another feed (a section feed, an aggregator) with its own excerpt:
        # only the source that stored it revises it, or two feeds would flip it on every poll
        result.duplicates += 1
        return
    if entry.source and entry.source != stored.source:
        # the same source names its outlet differently now ("NYT > World News" became "The New
        # York Times", or the operator renamed it): one outlet must not count as two in a story
        store.rename_outlet(stored.id, entry.source)
    if stored.entry_hash is None:
        # stored before entries were kept: this look is the baseline later ones compare with
        store.note_entry(stored.id, entry.entry_hash, entry.update_marker)
        result.duplicates += 1
        return
    if entry.entry_hash == stored.entry_hash and entry.title == stored.title:
        result.duplicates += 1
        return
    text = entry.text
    from_page = content_hash(stored.text) != stored.entry_hash
    if from_page and content_hash(entry.text) == entry.entry_hash:
        # the stored text was completed from the page, and the changed entry's page could not
        # be read again: its teaser must not replace the full text (the title may still change)
        text = stored.text
    if entry.title == stored.title and content_hash(text) == content_hash(stored.text):
        # re-spaced, or a teaser that changed while its page did not: nothing to revise
        store.note_entry(stored.id, entry.entry_hash, entry.update_marker)
        result.duplicates += 1
        return
    new = replace(entry, text=text)
    briefing = summarize(new.text, new.title or None, language=new.language)
    revised = store.revise_article(stored.id, new, briefing, now=entry.fetched_at)
    if revised is None:
        result.duplicates += 1
        return
    log.info("article %d revised (revision %d): %s", revised.id, revised.revision, revised.url)
    result.revised.append(revised)


def _unchanged(store: Store, origin: str) -> Callable[[Article], bool]:
    """Tells whether an entry of the feed `origin` is stored as it is (same link, title and
    text), or was stored from another source (see `_revise`): its teaser page is not fetched."""

    def check(entry: Article) -> bool:
        stored = store.article_by_url(entry.url)
        if stored is None:
            return False
        if stored.origin != origin or stored.entry_hash is None:
            # another feed's, or stored before entries were kept (the next look is the baseline)
            return True
        clean = _as_stored(entry)
        return clean.entry_hash == stored.entry_hash and clean.title == stored.title

    return check


async def _read_url(
    url: str,
    store: Store,
    policy: FetchPolicy,
    now: datetime,
    result: IngestResult,
    feeds_only: bool,
) -> tuple[list[Article | SourceError], Polled | None]:
    """What `url` holds, and the feed's new state to save once its articles are stored (None
    for a page, or when it was saved already: the feed failed or had nothing new)."""
    state = store.get_feed_state(url)
    feed_policy = feeds.FeedPolicy(fetch=policy)
    unchanged = _unchanged(store, url)
    if state is not None or feeds_only:
        poll = await feeds.poll_feed(url, state, feed_policy, now=now, is_known=unchanged)
    else:
        # An unknown URL: one fetch tells a feed from a page, so neither is downloaded twice.
        response = await fetch(url, policy, accept=f"{feeds.FEED_ACCEPT}, {web.PAGE_ACCEPT}")
        if not feeds.looks_like_feed(response.body, response.content_type):
            page = await asyncio.to_thread(
                web.extract_article, response.body, response.url, fetched_at=now
            )
            return [page], None
        poll = await feeds.read_feed(
            response, FeedState(url=url), feed_policy, now=now, is_known=unchanged
        )
    if poll.error or poll.not_modified or not poll.articles:
        store.put_feed_state(poll.state, poll.title)
        if poll.error:
            return [SourceError(url, poll.error)], None
    if poll.not_modified:
        result.unchanged.append(url)
    result.notes.extend((url, note) for note in poll.notes)
    if not poll.articles:
        return [], None
    return [*poll.articles], (poll.state, poll.title)


async def subscribe_feed(
    url: str,
    store: Store,
    policy: FetchPolicy,
    *,
    now: datetime | None = None,
    names: OutletNames | None = None,
    workers: int = 0,
) -> tuple[str, str | None, IngestResult]:
    """Check that `url` is a feed (or a page that names one), store its articles.

    The URL is fetched and parsed once before anything is stored, so a bad address never
    becomes a subscription.

    Returns:
        The feed's canonical URL, its title, and what was ingested from it.

    Raises:
        SourceError: with a reason to show the user (refused address, 404, not a feed...).
    """
    moment = now or datetime.now(UTC)
    target = canonical_url(url)
    response = await fetch(target, policy, accept=f"{feeds.FEED_ACCEPT}, {web.PAGE_ACCEPT}")
    if not feeds.looks_like_feed(response.body, response.content_type):
        found = feeds.discover_feeds(response.body, response.url)
        if not found:
            raise SourceError(url, "not a feed, and the page does not name one (look for RSS)")
        target = found[0]
        response = await fetch(target, policy, accept=feeds.FEED_ACCEPT)
    poll = await feeds.read_feed(
        response,
        FeedState(url=target),
        feeds.FeedPolicy(fetch=policy),
        now=moment,
        is_known=_unchanged(store, target),
    )
    if poll.error:
        raise SourceError(url, poll.error)
    result = IngestResult(notes=[(target, note) for note in poll.notes])
    async with Preparer(workers) as preparer:
        staged = _stage(target, poll.articles, names, store, preparer)
        await _store_batches(staged, store, result, (poll.state, poll.title))
    return target, poll.title, result
