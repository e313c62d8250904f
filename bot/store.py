"""SQLite store: articles (with FTS5 and revisions), briefings, feeds, subscriptions, deliveries
and what each channel was shown of each story.

One file in WAL mode, so readers never wait for the poller's writes. The schema is versioned with
``PRAGMA user_version`` and migrated forward on open.

Example:
    store = Store.open(Path("data/newsbrief.db"))
    article, added = store.add_article(article, briefing)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.errors import StoreError, StoreFaultError
from bot.models import (
    AlertState,
    Article,
    Briefing,
    Bullet,
    ChannelRef,
    ChannelSettings,
    DigestPart,
    DigestRun,
    FeedState,
    StoryCentroid,
    Subscription,
)
from bot.text import TOKEN

log = logging.getLogger(__name__)

# Each entry moves the schema one version forward; never edit a released one, append.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        published TEXT,
        fetched_at TEXT NOT NULL,
        language TEXT,
        origin TEXT,
        story_id INTEGER
    );
    CREATE INDEX articles_recent ON articles (coalesce(published, fetched_at) DESC);
    CREATE INDEX articles_story ON articles (story_id);
    CREATE INDEX articles_origin ON articles (origin);
    CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title, text, content='articles', content_rowid='id', tokenize='porter unicode61'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TABLE briefings (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        headline TEXT NOT NULL,
        bullets TEXT NOT NULL
    );
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        last_polled TEXT,
        last_ok TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_poll TEXT
    );
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (platform, channel, source)
    );
    CREATE TABLE deliveries (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        delivered_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel, article_id)
    ) WITHOUT ROWID;
    -- story grouping (version 1: MinHash bands; replaced in version 2)
    CREATE TABLE article_signatures (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        features TEXT NOT NULL,
        minhash BLOB NOT NULL
    );
    CREATE TABLE story_bands (
        band_key INTEGER NOT NULL,
        day TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        PRIMARY KEY (band_key, day, article_id)
    ) WITHOUT ROWID;
    -- how many grouped articles of each day have a term, and how many were grouped that day:
    -- the document frequencies of story grouping; old days are pruned
    CREATE TABLE feature_counts (
        feature TEXT NOT NULL,
        day TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (feature, day)
    ) WITHOUT ROWID;
    CREATE TABLE signature_days (
        day TEXT PRIMARY KEY,
        articles INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- per-channel settings: digest schedule, keyword filter, and whether the platform still
    -- lets us post there
    CREATE TABLE channels (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        digest_time TEXT,
        timezone TEXT NOT NULL DEFAULT 'UTC',
        filter TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel)
    );
    -- one row per channel and digest slot, claimed before sending: the unique key is what
    -- makes a digest go out once even with two processes or a restart
    CREATE TABLE digest_runs (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        slot TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
        claimed_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        PRIMARY KEY (platform, channel, slot)
    );
    """,
    # 2: story grouping compares TF-IDF vectors with story centroids (bot/cluster.py) instead
    # of MinHash bands. Signatures, bands and counts are derived data: they are dropped, and
    # stories formed before keep their ids but take no new reports.
    """
    DROP TABLE story_bands;
    DROP TABLE article_signatures;
    DELETE FROM feature_counts;
    DELETE FROM signature_days;
    -- each grouped article's terms (for the per-day document counts) and the UTC day it is
    -- filed under (of its published time, else its fetch time)
    CREATE TABLE article_terms (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        terms TEXT NOT NULL
    );
    -- a story's time span, size and centroid (the sum of its members' unit TF-IDF vectors,
    -- heaviest terms only, as JSON); its id is the id of its first article
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        size INTEGER NOT NULL,
        centroid TEXT NOT NULL
    );
    CREATE INDEX stories_last ON stories (last_at);
    -- the candidate index: each member's heaviest terms under its story, by the member's day,
    -- so a lookup reads only the rows of the days within the grouping window
    CREATE TABLE story_postings (
        term TEXT NOT NULL,
        day TEXT NOT NULL,
        story_id INTEGER NOT NULL,
        PRIMARY KEY (term, day, story_id)
    ) WITHOUT ROWID;
    """,
    # 3: article revisions and what each channel was shown (bot/updates.py)
    """
    -- revisions: a source that changes an article under the same link updates it in place
    -- (`revision` counts the changes) and each replaced version is kept in article_revisions.
    -- `entry_hash` is a hash of the text as the source gave it (a feed entry before its teaser
    -- was completed from the page), so a poll tells a changed entry without fetching the page;
    -- NULL for articles stored before this version, whose next poll is taken as the baseline
    ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN entry_hash TEXT;
    ALTER TABLE articles ADD COLUMN update_marker INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_revised ON articles (id) WHERE revision > 0;
    CREATE TABLE article_revisions (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        PRIMARY KEY (article_id, revision)
    ) WITHOUT ROWID;
    -- what each channel was shown, written with its deliveries: per article the revision and
    -- the story it was shown in, per story the outlets and bullet texts; a story it was sent
    -- comes back only with something new to it (bot/updates.py)
    CREATE TABLE article_views (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        story_id INTEGER NOT NULL,
        PRIMARY KEY (platform, channel, article_id)
    ) WITHOUT ROWID;
    CREATE TABLE story_views (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        story_id INTEGER NOT NULL,
        outlets TEXT NOT NULL,
        bullets TEXT NOT NULL,
        shown_at TEXT NOT NULL,
        PRIMARY KEY (platform, channel, story_id)
    ) WITHOUT ROWID;
    """,
    # 4: an article without a named outlet has source "" (shown by its file name or host and
    # counted as a report, not a source); files stored before were all called "Local file"
    """
    UPDATE articles SET source = '' WHERE source = 'Local file';
    """,
    # 5: exactly-once per message (bot/delivery.py): a run's parts are planned, and each one
    # recorded when the platform accepts it; claims are leased by a process and renewed while
    # it sends; failed runs wait for their next attempt; failures people were told about
    """
    -- digest_runs gains an id (parts refer to it), a lease, a retry time and what to record
    -- when it completes; rebuilt because its status CHECK gains 'abandoned'
    CREATE TABLE digest_runs_5 (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        slot TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed', 'abandoned')),
        claimed_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        error TEXT,
        -- when the digest was due: retries stop digest.missed_grace after it
        due_at TEXT NOT NULL,
        -- the process sending it, and until when its claim holds unless renewed
        owner TEXT,
        lease_until TEXT,
        -- a failed run's next retry, and its first failure
        next_attempt TEXT,
        failed_since TEXT,
        -- the articles and story views to record as delivered once every part is sent (JSON)
        shown TEXT,
        parts INTEGER NOT NULL DEFAULT 0,
        parts_sent INTEGER NOT NULL DEFAULT 0,
        UNIQUE (platform, channel, slot)
    );
    -- claims of earlier versions: a 'claimed' one has no lease (taken over at once), a failed
    -- one is due for a retry now
    INSERT INTO digest_runs_5 (platform, channel, slot, article_ids, status, claimed_at, sent_at,
        attempts, error, due_at, next_attempt)
    SELECT platform, channel, slot, article_ids, status, claimed_at, sent_at, attempts, error,
        claimed_at, CASE WHEN status = 'failed' THEN claimed_at END
    FROM digest_runs;
    DROP TABLE digest_runs;
    ALTER TABLE digest_runs_5 RENAME TO digest_runs;
    CREATE INDEX digest_runs_open ON digest_runs (status) WHERE status IN ('claimed', 'failed');
    -- each message of a run: planned (payload as rendered), sending (it may have landed:
    -- look before sending again), or sent (the platform's message id or ts)
    CREATE TABLE digest_parts (
        run_id INTEGER NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
        part INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('planned', 'sending', 'sent')),
        payload TEXT,
        message_id TEXT,
        attempted_at TEXT,
        sent_at TEXT,
        PRIMARY KEY (run_id, part)
    ) WITHOUT ROWID;
    -- consecutive failures of a feed ('feed', its URL) or of a channel's digests ('digest',
    -- 'platform:channel'), and when people were told, so they are told once, and once more
    -- when it recovers
    CREATE TABLE alerts (
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        since TEXT,
        last_error TEXT,
        notified_at TEXT,
        recovered_at TEXT,
        PRIMARY KEY (kind, subject)
    );
    -- one row a write probe rewrites: a committed write needs room on the disk and a writable
    -- file, which a rolled-back one does not show
    CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);
    """,
    # 6: how many articles a feed's last poll found (0: a working feed with nothing to read,
    # which /sources says); and dates no article can have (Hugo's year 1, the epoch, year
    # 9999) are unknown, as ingest now stores them: such articles order by when first seen
    """
    ALTER TABLE feeds ADD COLUMN entries INTEGER;
    UPDATE articles SET published = NULL
    WHERE published < '1990-01-01' OR julianday(published) > julianday(fetched_at) + 1;
    """,
    # 7: an optional language model (bot/summarize/llm.py): its checked results, keyed by the
    # model and a hash of the request, so a digest, its retry and /brief pay once; and what it
    # cost and did each day (`python -m bot stats`)
    """
    CREATE TABLE llm_cache (
        model TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        result TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (model, prompt_hash)
    ) WITHOUT ROWID;
    CREATE TABLE llm_usage (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cache_hits INTEGER NOT NULL DEFAULT 0,
        written INTEGER NOT NULL DEFAULT 0,
        fallbacks INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, model)
    ) WITHOUT ROWID;
    """,
)

LLM_COUNTERS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cache_hits",
    "written",
    "fallbacks",
    "rejected",
)
"""What `Store.save_llm` adds up per day and model."""

MAX_VIEW_BULLETS = 60
"""Bullet texts remembered per channel and story (the newest); a long-running story's oldest
facts may then count as new again, which is better than an unbounded row."""

FEATURE_DAYS_KEPT = 30
"""Days of feature counts kept behind the newest day signed; grouping reads only a few."""

# Newest first; among reports stamped with the same time (date-only sources), the fuller one.
_NEWEST_FIRST = "coalesce(a.published, a.fetched_at) DESC, length(a.text) DESC, a.id"
_WORDS = TOKEN  # the tokens FTS5's unicode61 splits text into (bot.text)


@dataclass(frozen=True, slots=True)
class StoryView:
    """What one channel was shown of one story in one digest.

    Attributes:
        story_id: the story the articles belonged to when shown.
        articles: (article id, revision) of every article recorded as delivered with it, shown
            or settled (a report that added nothing new).
        outlets: outlet names shown; empty for settled reports.
        bullets: bullet texts shown.
    """

    story_id: int
    articles: tuple[tuple[int, int], ...] = ()
    outlets: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()


def content_hash(text: str) -> str:
    """A hash of the words of `text`, so re-wrapped or re-spaced copies count as one."""
    words = " ".join(_WORDS.findall(text.lower()))
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _day(moment: datetime) -> str:
    """The UTC calendar day of `moment` (naive times are taken as UTC), as YYYY-MM-DD."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date().isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The one database of a bot process.

    Writes stay on the thread that opened it; read-only work (such as /ask) may run in a worker
    thread so it never stalls the event loop.

    Every write checks first that the file opened is still the one at `path` (a file removed
    or replaced under a running bot would swallow every write), and a write the disk or the
    file refuses raises `StoreFaultError`; `fault` keeps the last such failure until a write
    succeeds again, for health checks.
    """

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self.fault: str | None = None
        self._identity = _file_identity(path)

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating parent folders and the file if needed) and migrate the database.

        A new file is only created where nothing of an earlier database is left: a `-wal`,
        `-shm` or `-journal` file, or a backup beside the missing file, means a database was
        removed or moved, and an empty one in its place would hide that.

        Raises:
            StoreError: the file cannot be opened, is not a database, or is newer than this
                code; or it is missing while an earlier database's files are there.
        """
        target = str(path)
        created = False
        try:
            if target != ":memory:":
                file = Path(target)
                file.parent.mkdir(parents=True, exist_ok=True)
                if not file.exists():
                    left = leftovers(file)
                    if left:
                        raise StoreError(
                            f"refusing to create a new, empty database at {target}: "
                            f"{', '.join(left)} {'is' if len(left) == 1 else 'are'} there, left "
                            "by a database that was removed or moved. Restore the database "
                            "file, or move those files away to start with an empty one."
                        )
                    created = True
            # read-only work (/ask) runs in a worker thread so it never stalls the event loop;
            # the library is built serialized (threadsafety 3), and only the owner thread writes
            conn = sqlite3.connect(
                target, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            store = cls(conn, target)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {target}: {_write_fault(exc) or exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create database {target}: {exc}") from exc
        if created:
            log.info("created a new, empty database at %s (no file was there)", target)
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_file(self) -> None:
        """Raise `StoreFaultError` when the file opened is no longer the one at `path`.

        SQLite keeps writing to the file it opened: after an `rm` every write would go to a
        file nobody can reach, and after a replacement to the old one.
        """
        if self._identity is None:
            return
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            self.fault = (
                "the database file was removed while the bot ran: nothing can be saved; "
                "restore it (or start the bot on a new one)"
            )
            raise StoreFaultError(self.path, self.fault) from None
        except OSError as exc:
            self.fault = f"cannot check the database file: {exc.strerror or exc}"
            raise StoreFaultError(self.path, self.fault) from None
        if (now.st_dev, now.st_ino) != self._identity:
            self.fault = (
                "the database file was replaced while the bot ran: restart the bot to use "
                "the new file"
            )
            raise StoreFaultError(self.path, self.fault)

    def check_writable(self, now: datetime | None = None) -> None:
        """Commit a small write, which needs a writable file and room on the disk.

        Raises:
            StoreFaultError: the database cannot be written, and why.
        """
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?)", (_iso(now or _now()),)
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Raises:
            StoreFaultError: the file is gone or replaced, or the write was refused (read-only
                file or folder, full disk, I/O error); nothing of it was saved.
        """
        self.check_file()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _write_fault(exc) is None:
                raise
            raise self._fault(exc) from exc
        try:
            yield self.conn
        except BaseException as exc:
            # SQLite may have rolled back already (an I/O error does): nothing left to undo
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _write_fault(exc):
                raise self._fault(exc) from exc
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if _write_fault(exc) is None:
                raise
            raise self._fault(exc) from exc
        self.fault = None

    def _fault(self, exc: sqlite3.OperationalError) -> StoreFaultError:
        reason = _write_fault(exc) or str(exc)
        if self.fault != reason:
            log.error("database %s cannot be written: %s", self.path, reason)
        self.fault = reason
        return StoreFaultError(self.path, reason)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"database {self.path} has schema version {current}, newer than this "
                f"newsbrief ({len(MIGRATIONS)}); upgrade newsbrief"
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            # executescript commits on its own, so the version bump rides in the same script
            self.conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
            # a new file is not news; an upgrade of an operator's database is
            log.log(
                logging.INFO if current else logging.DEBUG,
                "database %s migrated to schema version %d",
                self.path,
                version,
            )

    # Articles ---------------------------------------------------------------------------

    def add_article(
        self, article: Article, briefing: Briefing | None = None
    ) -> tuple[Article, bool]:
        """Store `article` (and its briefing) unless its URL or its text is already stored.

        Returns:
            The stored article (with its id) and whether it was new.
        """
        digest = content_hash(article.text)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO articles"
                " (url, content_hash, title, source, text, published, fetched_at, language, origin,"
                " entry_hash, update_marker)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.url,
                    digest,
                    article.title,
                    article.source,
                    article.text,
                    _iso(article.published),
                    _iso(article.fetched_at),
                    article.language,
                    article.origin,
                    article.entry_hash,
                    int(article.update_marker),
                ),
            )
            if cur.rowcount == 0:
                row = conn.execute(
                    "SELECT * FROM articles WHERE url = ? OR content_hash = ? LIMIT 1",
                    (article.url, digest),
                ).fetchone()
                return _article(row), False
            article_id = int(cur.lastrowid or 0)
            if briefing is not None:
                self._put_briefing(conn, article_id, briefing)
        return replace(article, id=article_id, revision=0), True

    def revise_article(
        self, article_id: int, article: Article, briefing: Briefing, *, now: datetime
    ) -> Article | None:
        """Replace a stored article's title and text by a newer version, keeping the old one.

        Its id, URL, source, origin and story stay; the replaced title and text go to
        `article_revisions` under the revision number they had, the revision counter goes up,
        and `briefing` (of the new text) replaces the stored one.

        Args:
            article: the new version: its title, text, entry hash and update marker are taken,
                and its published time and language where it has them.

        Returns:
            The revised article, or None when the new text is another stored article's (the
            article is left as it was, but remembers the new entry hash so that entry is not
            looked at again).
        """
        digest = content_hash(article.text)
        with self.transaction() as conn:
            old = conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
            if old is None:
                return None
            taken = conn.execute(
                "SELECT id FROM articles WHERE content_hash = ? AND id != ?", (digest, article_id)
            ).fetchone()
            if taken is not None:
                log.info(
                    "revision of article %d has the text of article %d; kept as it was",
                    article_id,
                    taken[0],
                )
                conn.execute(
                    "UPDATE articles SET entry_hash = ? WHERE id = ?",
                    (article.entry_hash, article_id),
                )
                return None
            conn.execute(
                "INSERT INTO article_revisions (article_id, revision, title, text, replaced_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (article_id, old["revision"], old["title"], old["text"], _iso(now)),
            )
            row = conn.execute(
                "UPDATE articles SET title = ?, text = ?, content_hash = ?, entry_hash = ?,"
                " update_marker = ?, published = coalesce(?, published),"
                " language = coalesce(?, language), revision = revision + 1"
                " WHERE id = ? RETURNING *",
                (
                    article.title,
                    article.text,
                    digest,
                    article.entry_hash,
                    int(article.update_marker),
                    _iso(article.published),
                    article.language,
                    article_id,
                ),
            ).fetchone()
            self._put_briefing(conn, article_id, briefing)
        return _article(row)

    def note_entry(self, article_id: int, entry_hash: str | None, update_marker: bool) -> None:
        """Remember a source's entry for an article without revising it (nothing in it changed
        that counts, or it is the first look at an article stored before entries were kept)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE articles SET entry_hash = ?, update_marker = ? WHERE id = ?",
                (entry_hash, int(update_marker), article_id),
            )

    def rename_outlet(self, article_id: int, source: str) -> None:
        """Give a stored article its outlet's current name (the source now names itself
        better, or the operator renamed it); not a revision of its text."""
        with self.transaction() as conn:
            conn.execute("UPDATE articles SET source = ? WHERE id = ?", (source, article_id))

    def article_revisions(self, article_id: int) -> list[Article]:
        """The earlier versions of an article, oldest first, each with the revision it had."""
        current = self.get_article(article_id)
        if current is None:
            return []
        rows = self.conn.execute(
            "SELECT revision, title, text FROM article_revisions WHERE article_id = ?"
            " ORDER BY revision",
            (article_id,),
        ).fetchall()
        return [
            replace(current, title=r["title"], text=r["text"], revision=int(r["revision"]))
            for r in rows
        ]

    def article_by_url(self, url: str) -> Article | None:
        row = self.conn.execute("SELECT * FROM articles WHERE url = ?", (url,)).fetchone()
        return _article(row) if row else None

    def has_article(self, url: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchone()
        return row is not None

    def get_article(self, article_id: int) -> Article | None:
        row = self.conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def recent_articles(self, limit: int = 50, *, offset: int = 0) -> list[Article]:
        """Newest first, by published time (fetch time when a source gives none)."""
        rows = self.conn.execute(
            f"SELECT * FROM articles a ORDER BY {_NEWEST_FIRST} LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [_article(r) for r in rows]

    def search_articles(self, query: str, limit: int = 20) -> list[Article]:
        """Full-text search over titles and texts (BM25, title weighted), best first.

        `query` is plain words from a user; it is quoted term by term, so FTS5 syntax in it is
        taken literally and never raises.
        """
        terms = [t for t in _WORDS.findall(query) if t]
        if not terms:
            return []
        match = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self.conn.execute(
            "SELECT a.* FROM articles_fts f JOIN articles a ON a.id = f.rowid"
            " WHERE articles_fts MATCH ? ORDER BY bm25(articles_fts, 5.0, 1.0) LIMIT ?",
            (match, limit),
        ).fetchall()
        return [_article(r) for r in rows]

    def count_matching(self, expression: str) -> int:
        """How many articles an FTS5 match expression finds (a term's document frequency).

        Args:
            expression: An FTS5 expression whose terms the caller has quoted.

        Raises:
            sqlite3.OperationalError: the expression is not valid FTS5, or the database is
                locked or damaged.
        """
        row = self.conn.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (expression,)
        ).fetchone()
        return int(row[0])

    def match_articles(self, expression: str, limit: int) -> list[Article]:
        """The best `limit` articles for an FTS5 match expression: BM25, the title weighted 5.

        Ranked in a subquery on the index alone, so only the winners' texts are read.

        Raises:
            sqlite3.OperationalError: as `count_matching`.
        """
        rows = self.conn.execute(
            "SELECT a.* FROM ("
            " SELECT rowid AS id, bm25(articles_fts, 5.0, 1.0) AS score FROM articles_fts"
            " WHERE articles_fts MATCH ? ORDER BY score LIMIT ?"
            ") AS hit JOIN articles a ON a.id = hit.id ORDER BY hit.score",
            (expression, limit),
        ).fetchall()
        return [_article(r) for r in rows]

    def undelivered_articles(
        self,
        channel: ChannelRef,
        limit: int = 500,
        *,
        hidden: Sequence[str] = (),
        since: datetime | None = None,
    ) -> list[Article]:
        """Articles not yet delivered to `channel`, newest first.

        Args:
            hidden: sources whose articles are not for this channel (see `hidden_sources`).
            since: only articles published (or fetched) at or after this time.
        """
        where = [
            "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = a.id"
            " AND d.platform = ? AND d.channel = ?)"
        ]
        params: list[Any] = [channel.platform, channel.channel]
        if hidden:
            where.append(f"(a.origin IS NULL OR a.origin NOT IN ({_marks(hidden)}))")
            params.extend(hidden)
        if since is not None:
            where.append("coalesce(a.published, a.fetched_at) >= ?")
            params.append(_iso(since))
        rows = self.conn.execute(
            f"SELECT a.* FROM articles a WHERE {' AND '.join(where)}"
            f" ORDER BY {_NEWEST_FIRST} LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_article(r) for r in rows]

    def revised_articles(
        self, channel: ChannelRef, limit: int = 500, *, hidden: Sequence[str] = ()
    ) -> list[Article]:
        """Articles delivered to `channel` that were revised after it was shown them, newest
        first (an article delivered before revisions were tracked was shown revision 0)."""
        params: list[Any] = [channel.platform, channel.channel]
        where = ""
        if hidden:
            where = f" AND (a.origin IS NULL OR a.origin NOT IN ({_marks(hidden)}))"
            params.extend(hidden)
        # few articles are ever revised: CROSS JOIN keeps them (the partial index
        # articles_revised) the outer loop, rather than every article the channel was sent
        rows = self.conn.execute(
            "SELECT a.* FROM articles a"
            " CROSS JOIN deliveries d ON d.article_id = a.id AND d.platform = ? AND d.channel = ?"
            " LEFT JOIN article_views v ON v.platform = d.platform AND v.channel = d.channel"
            " AND v.article_id = a.id"
            f" WHERE a.revision > 0 AND a.revision > coalesce(v.revision, 0){where}"
            f" ORDER BY {_NEWEST_FIRST} LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_article(r) for r in rows]

    def seen_articles(
        self, channel: ChannelRef, article_ids: Sequence[int]
    ) -> dict[int, tuple[int, int | None]]:
        """Of `article_ids`, those delivered to `channel`, each with the revision it was shown
        and the story it was shown in (0 and None when delivered before views were kept)."""
        found: dict[int, tuple[int, int | None]] = {}
        for chunk in _chunks(article_ids):
            rows = self.conn.execute(
                "SELECT d.article_id, coalesce(v.revision, 0), v.story_id FROM deliveries d"
                " LEFT JOIN article_views v ON v.platform = d.platform AND v.channel = d.channel"
                " AND v.article_id = d.article_id"
                f" WHERE d.platform = ? AND d.channel = ? AND d.article_id IN ({_marks(chunk)})",
                (channel.platform, channel.channel, *chunk),
            ).fetchall()
            found.update(
                (int(r[0]), (int(r[1]), None if r[2] is None else int(r[2]))) for r in rows
            )
        return found

    def story_views(self, channel: ChannelRef, story_ids: Sequence[int]) -> dict[int, StoryView]:
        """The outlets and bullets `channel` was shown of each story, where it was shown any."""
        found: dict[int, StoryView] = {}
        for chunk in _chunks(story_ids):
            rows = self.conn.execute(
                "SELECT story_id, outlets, bullets FROM story_views"
                f" WHERE platform = ? AND channel = ? AND story_id IN ({_marks(chunk)})",
                (channel.platform, channel.channel, *chunk),
            ).fetchall()
            for row in rows:
                sid = int(row["story_id"])
                found[sid] = StoryView(
                    sid,
                    outlets=tuple(json.loads(row["outlets"])),
                    bullets=tuple(json.loads(row["bullets"])),
                )
        return found

    def story_ids(self, article_ids: Sequence[int]) -> dict[int, int]:
        """Each article's story id (its own id when it has not been grouped)."""
        found: dict[int, int] = {}
        for chunk in _chunks(article_ids):
            rows = self.conn.execute(
                f"SELECT id, coalesce(story_id, id) FROM articles WHERE id IN ({_marks(chunk)})",
                tuple(chunk),
            ).fetchall()
            found.update((int(r[0]), int(r[1])) for r in rows)
        return found

    def story_articles(self, story_ids: Sequence[int]) -> dict[int, list[Article]]:
        """All stored articles of each story, oldest first."""
        found: dict[int, list[Article]] = {sid: [] for sid in story_ids}
        for chunk in _chunks(story_ids):
            # two indexed lookups (story members, and ungrouped articles by id) rather than
            # one coalesce() that no index can serve and so scans every article
            marks = _marks(chunk)
            rows = self.conn.execute(
                "SELECT a.*, coalesce(a.story_id, a.id) AS sid FROM articles a"
                f" WHERE a.story_id IN ({marks})"
                " UNION SELECT a.*, a.id AS sid FROM articles a"
                f" WHERE a.id IN ({marks}) AND a.story_id IS NULL",
                (*chunk, *chunk),
            ).fetchall()
            rows.sort(key=lambda r: (r["published"] or r["fetched_at"], r["id"]))
            for row in rows:
                found[int(row["sid"])].append(_article(row))
        return found

    # Story grouping ---------------------------------------------------------------------

    def join_story(
        self,
        article_id: int,
        story_id: int,
        *,
        moment: datetime,
        terms: Sequence[str],
        vector: Mapping[str, float],
        index_terms: Sequence[str],
        centroid_terms: int,
    ) -> None:
        """Record that an article joined (or started) a story, in one transaction.

        The article's story id, its terms (counted for the document frequencies of its UTC
        day), the story's centroid (read and updated inside the transaction, so two writers
        never lose each other's reports), its time span and size, and the article's
        `index_terms` under the story in the candidate index.

        Args:
            moment: the article's time for grouping; its UTC day files the terms and postings.
            vector: the article's unit TF-IDF vector, added to the story's centroid.
            centroid_terms: how many of the heaviest terms the centroid keeps.
        """
        day = _day(moment)
        stamp = _iso(moment)
        unique = list(dict.fromkeys(terms))
        with self.transaction() as conn:
            old = conn.execute(
                "SELECT day, terms FROM article_terms WHERE article_id = ?", (article_id,)
            ).fetchone()
            if old is not None:
                self._count_features(conn, old["day"], json.loads(old["terms"]), -1)
            conn.execute(
                "INSERT OR REPLACE INTO article_terms (article_id, day, terms) VALUES (?, ?, ?)",
                (article_id, day, json.dumps(unique, ensure_ascii=False)),
            )
            self._count_features(conn, day, unique, 1)
            row = conn.execute(
                "SELECT first_at, last_at, size, centroid FROM stories WHERE id = ?", (story_id,)
            ).fetchone()
            centroid: dict[str, float] = dict(vector)
            first, last, size = stamp, stamp, 1
            if row is not None:
                for term, weight in json.loads(row["centroid"]).items():
                    centroid[term] = centroid.get(term, 0.0) + weight
                first, last = min(row["first_at"], stamp), max(row["last_at"], stamp)
                size = int(row["size"]) + 1
            kept = sorted(centroid.items(), key=lambda kv: (-kv[1], kv[0]))[:centroid_terms]
            conn.execute(
                "INSERT OR REPLACE INTO stories (id, first_at, last_at, size, centroid)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    story_id,
                    first,
                    last,
                    size,
                    json.dumps({t: round(w, 5) for t, w in kept}, ensure_ascii=False),
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO story_postings (term, day, story_id) VALUES (?, ?, ?)",
                [(term, day, story_id) for term in index_terms],
            )
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    @staticmethod
    def _count_features(
        conn: sqlite3.Connection, day: str, features: Sequence[str], step: int
    ) -> None:
        cur = conn.execute(
            "INSERT INTO signature_days (day, articles) VALUES (?, ?)"
            " ON CONFLICT (day) DO UPDATE SET articles = articles + excluded.articles"
            " RETURNING articles",
            (day, step),
        )
        if step > 0 and int(cur.fetchone()[0]) == step:
            # the first article of a day: forget counts far older than it (a backfill of old
            # days prunes nothing newer than itself)
            cutoff = (date.fromisoformat(day) - timedelta(days=FEATURE_DAYS_KEPT)).isoformat()
            conn.execute("DELETE FROM feature_counts WHERE day < ?", (cutoff,))
        else:
            cur.fetchall()
        conn.executemany(
            "INSERT INTO feature_counts (feature, day, count) VALUES (?, ?, ?)"
            " ON CONFLICT (feature, day) DO UPDATE SET count = count + excluded.count",
            [(f, day, step) for f in features],
        )

    def feature_stats(
        self, features: Sequence[str], *, since: datetime, until: datetime
    ) -> tuple[int, dict[str, int]]:
        """Grouped articles on the UTC days from `since` to `until`, and how many of them have
        each of `features` (features in none are left out); one query for up to 500 features.
        """
        first, last = _day(since), _day(until)
        unique = list(dict.fromkeys(features))
        sql = (
            "SELECT NULL, coalesce(sum(articles), 0) FROM signature_days WHERE day BETWEEN ? AND ?"
        )
        total, counts = 0, {}
        chunks = [unique[i : i + 500] for i in range(0, len(unique), 500)] or [[]]
        for index, chunk in enumerate(chunks):
            parts = [sql] if index == 0 else []
            args: list[Any] = [first, last] if index == 0 else []
            if chunk:
                parts.append(
                    "SELECT feature, sum(count) FROM feature_counts"
                    f" WHERE feature IN ({_marks(chunk)}) AND day BETWEEN ? AND ?"
                    " GROUP BY feature"
                )
                args += [*chunk, first, last]
            for row in self.conn.execute(" UNION ALL ".join(parts), args):
                if row[0] is None:
                    total = int(row[1])
                elif row[1] > 0:
                    counts[str(row[0])] = int(row[1])
        return total, counts

    def story_candidates(
        self, terms: Sequence[str], *, since: datetime, until: datetime, limit: int = 50
    ) -> list[StoryCentroid]:
        """Stories with a report between `since` and `until` whose index shares any of
        `terms`, most shared terms first (then newest), at most `limit`."""
        if not terms:
            return []
        # the index narrows to the stories sharing the most terms; only their rows (and their
        # centroids, the costly part to decode) are read, and the exact time span checked
        ranked = self.conn.execute(
            "SELECT story_id FROM story_postings"
            f" WHERE term IN ({_marks(terms)}) AND day BETWEEN ? AND ?"
            " GROUP BY story_id ORDER BY count(*) DESC, story_id DESC LIMIT ?",
            (*terms, _day(since), _day(until), limit),
        ).fetchall()
        ids = [int(r[0]) for r in ranked]
        if not ids:
            return []
        rows = {
            int(r[0]): r
            for r in self.conn.execute(
                "SELECT id, first_at, last_at, size, centroid FROM stories"
                f" WHERE id IN ({_marks(ids)}) AND last_at >= ? AND first_at <= ?",
                (*ids, _iso(since), _iso(until)),
            )
        }
        return [
            StoryCentroid(
                story_id=i,
                first_at=datetime.fromisoformat(rows[i][1]),
                last_at=datetime.fromisoformat(rows[i][2]),
                size=int(rows[i][3]),
                centroid=json.loads(rows[i][4]),
            )
            for i in ids
            if i in rows
        ]

    def has_signature(self, article_id: int) -> bool:
        """Whether the article has been grouped into a story."""
        row = self.conn.execute(
            "SELECT 1 FROM article_terms WHERE article_id = ?", (article_id,)
        ).fetchone()
        return row is not None

    # Briefings --------------------------------------------------------------------------

    def put_briefing(self, article_id: int, briefing: Briefing) -> None:
        with self.transaction() as conn:
            self._put_briefing(conn, article_id, briefing)

    @staticmethod
    def _put_briefing(conn: sqlite3.Connection, article_id: int, briefing: Briefing) -> None:
        bullets = [_bullet_row(b) for b in briefing.bullets]
        conn.execute(
            "INSERT OR REPLACE INTO briefings (article_id, headline, bullets) VALUES (?, ?, ?)",
            (article_id, briefing.headline, json.dumps(bullets, ensure_ascii=False)),
        )

    def get_briefings(self, article_ids: Sequence[int]) -> dict[int, Briefing]:
        rows: list[sqlite3.Row] = []
        for chunk in _chunks(article_ids):
            rows += self.conn.execute(
                f"SELECT * FROM briefings WHERE article_id IN ({_marks(chunk)})", tuple(chunk)
            ).fetchall()
        found: dict[int, Briefing] = {}
        for row in rows:
            bullets = tuple(
                Bullet(
                    b["text"],
                    tuple(b.get("sentences", ())),
                    b.get("source"),
                    b.get("origin", "extract"),
                    b.get("url"),
                )
                for b in json.loads(row["bullets"])
            )
            found[int(row["article_id"])] = Briefing(row["headline"], bullets)
        return found

    # Language model: cache and daily usage ---------------------------------------------

    def llm_cached(self, model: str, prompt_hash: str) -> str | None:
        """The stored (checked) result of a model request, or None."""
        row = self.conn.execute(
            "SELECT result FROM llm_cache WHERE model = ? AND prompt_hash = ?",
            (model, prompt_hash),
        ).fetchone()
        return None if row is None else str(row["result"])

    def save_llm(
        self,
        model: str,
        results: Sequence[tuple[str, str, int]],
        usage: Mapping[str, Mapping[str, int]],
        now: datetime,
    ) -> None:
        """In one transaction: cache `results` (prompt hash, checked result, tokens) and add
        `usage` (day -> counters named in `LLM_COUNTERS`) to `model`'s daily counters."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO llm_cache (model, prompt_hash, result, tokens, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                [(model, key, result, tokens, _iso(now)) for key, result, tokens in results],
            )
            for day, counts in usage.items():
                names = [name for name in LLM_COUNTERS if counts.get(name)]
                if not names:
                    continue
                sets = ", ".join(f"{name} = {name} + excluded.{name}" for name in names)
                conn.execute(
                    f"INSERT INTO llm_usage (day, model, {', '.join(names)}) "
                    f"VALUES (?, ?, {_marks(names)}) "
                    f"ON CONFLICT (day, model) DO UPDATE SET {sets}",
                    (day, model, *(counts[name] for name in names)),
                )

    def llm_tokens(self, day: str) -> int:
        """Tokens (prompt and reply) every model spent on `day`."""
        row = self.conn.execute(
            "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) AS n FROM llm_usage "
            "WHERE day = ?",
            (day,),
        ).fetchone()
        return int(row["n"])

    def llm_usage(self, days: int = 14) -> list[dict[str, Any]]:
        """Each day's and model's counters, newest day first."""
        rows = self.conn.execute(
            "SELECT * FROM llm_usage ORDER BY day DESC, model LIMIT ?", (max(1, days) * 8,)
        ).fetchall()
        return [dict(row) for row in rows]

    # Deliveries -------------------------------------------------------------------------

    def record_deliveries(
        self,
        channel: ChannelRef,
        article_ids: Iterable[int],
        when: datetime | None = None,
        *,
        views: Sequence[StoryView] = (),
    ) -> int:
        """Mark articles as sent to `channel`, and what it was shown of their stories; returns
        how many articles were not marked before."""
        moment = when or _now()
        with self.transaction() as conn:
            added = _insert_deliveries(conn, channel, article_ids, moment)
            _insert_views(conn, channel, views, moment)
            return added

    def last_delivery(self, channel: ChannelRef) -> datetime | None:
        row = self.conn.execute(
            "SELECT max(delivered_at) FROM deliveries WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return _dt(row[0])

    # Feeds ------------------------------------------------------------------------------

    def get_feed_state(self, url: str) -> FeedState | None:
        row = self.conn.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return FeedState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            last_polled=_dt(row["last_polled"]),
            last_ok=_dt(row["last_ok"]),
            error_count=int(row["error_count"]),
            last_error=row["last_error"],
            next_poll=_dt(row["next_poll"]),
            entries=row["entries"],
        )

    def put_feed_state(self, state: FeedState, title: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO feeds (url, title, etag, last_modified, last_polled, last_ok,"
                " error_count, last_error, next_poll, entries)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET title = coalesce(excluded.title, feeds.title),"
                " etag = excluded.etag, last_modified = excluded.last_modified,"
                " last_polled = excluded.last_polled, last_ok = excluded.last_ok,"
                " error_count = excluded.error_count, last_error = excluded.last_error,"
                " next_poll = excluded.next_poll,"
                " entries = coalesce(excluded.entries, feeds.entries)",
                (
                    state.url,
                    title,
                    state.etag,
                    state.last_modified,
                    _iso(state.last_polled),
                    _iso(state.last_ok),
                    state.error_count,
                    state.last_error,
                    _iso(state.next_poll),
                    state.entries,
                ),
            )

    def feed_title(self, url: str) -> str | None:
        row = self.conn.execute("SELECT title FROM feeds WHERE url = ?", (url,)).fetchone()
        return row["title"] if row else None

    # Subscriptions ----------------------------------------------------------------------

    def add_subscription(self, sub: Subscription) -> tuple[Subscription, bool]:
        """Subscribe a channel to a source; returns the stored row and whether it was new."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO subscriptions (platform, channel, source, created_at)"
                " VALUES (?, ?, ?, ?)",
                (sub.platform, sub.channel, sub.source, _iso(sub.created_at or _now())),
            )
            row = conn.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND channel = ? AND source = ?",
                (sub.platform, sub.channel, sub.source),
            ).fetchone()
        return _subscription(row), cur.rowcount == 1

    def remove_subscription(self, channel: ChannelRef, source_or_id: str) -> bool:
        key: Any = int(source_or_id) if source_or_id.isdigit() else source_or_id
        column = "id" if isinstance(key, int) else "source"
        with self.transaction() as conn:
            cur = conn.execute(
                f"DELETE FROM subscriptions WHERE platform = ? AND channel = ? AND {column} = ?",
                (channel.platform, channel.channel, key),
            )
        return cur.rowcount > 0

    def subscriptions(self, channel: ChannelRef | None = None) -> list[Subscription]:
        if channel is None:
            rows = self.conn.execute("SELECT * FROM subscriptions ORDER BY id").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND channel = ? ORDER BY id",
                (channel.platform, channel.channel),
            ).fetchall()
        return [_subscription(r) for r in rows]

    def subscribed_channels(self, source: str) -> list[ChannelRef]:
        rows = self.conn.execute(
            "SELECT platform, channel FROM subscriptions WHERE source = ? ORDER BY id", (source,)
        ).fetchall()
        return [ChannelRef(r[0], r[1]) for r in rows]

    def hidden_sources(self, channel: ChannelRef, shared: Sequence[str] = ()) -> list[str]:
        """Sources only other channels follow: their articles are not for `channel`.

        A channel gets its own subscriptions, the operator's `shared` feeds, and whatever was
        ingested by hand (files, URLs on the command line).
        """
        mine = {s.source for s in self.subscriptions(channel)} | set(shared)
        return [source for source in self.subscribed_sources() if source not in mine]

    def subscribed_sources(self) -> list[str]:
        """Every distinct source some channel follows."""
        rows = self.conn.execute("SELECT DISTINCT source FROM subscriptions ORDER BY source")
        return [r[0] for r in rows.fetchall()]

    # Channels ---------------------------------------------------------------------------

    def get_channel(self, channel: ChannelRef) -> ChannelSettings:
        """The channel's settings; defaults when it has none stored."""
        row = self.conn.execute(
            "SELECT * FROM channels WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return _channel(row) if row else ChannelSettings(channel=channel)

    def put_channel(self, settings: ChannelSettings) -> None:
        ref = settings.channel
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO channels (platform, channel, digest_time, timezone, filter, enabled,"
                " disabled_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, channel) DO UPDATE SET"
                " digest_time = excluded.digest_time, timezone = excluded.timezone,"
                " filter = excluded.filter, enabled = excluded.enabled,"
                " disabled_reason = excluded.disabled_reason, updated_at = excluded.updated_at",
                (
                    ref.platform,
                    ref.channel,
                    settings.digest_time,
                    settings.timezone,
                    json.dumps(list(settings.filter), ensure_ascii=False)
                    if settings.filter
                    else None,
                    int(settings.enabled),
                    settings.disabled_reason,
                    _iso(_now()),
                ),
            )

    def scheduled_channels(self, platform: str | None = None) -> list[ChannelSettings]:
        """Enabled channels with a digest time, optionally of one platform."""
        sql = "SELECT * FROM channels WHERE enabled = 1 AND digest_time IS NOT NULL"
        params: tuple[str, ...] = ()
        if platform is not None:
            sql += " AND platform = ?"
            params = (platform,)
        rows = self.conn.execute(sql + " ORDER BY platform, channel", params).fetchall()
        return [_channel(r) for r in rows]

    # Digest runs ------------------------------------------------------------------------

    def claim_digest(
        self,
        channel: ChannelRef,
        slot: str,
        article_ids: Sequence[int],
        now: datetime,
        *,
        owner: str | None = None,
        lease_until: datetime | None = None,
        due: datetime | None = None,
    ) -> DigestRun | None:
        """Claim a channel's digest slot before sending; None when it is claimed already.

        The unique (platform, channel, slot) key makes exactly one claimer win, across
        processes sharing the database file.

        Args:
            owner: the claiming process (see `bot.delivery.owner_id`), holding the claim until
                `lease_until` unless it renews it.
            due: when the digest was due (default `now`): retries stop a grace period after it.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO digest_runs (platform, channel, slot, article_ids, status,"
                " claimed_at, due_at, owner, lease_until)"
                " VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?, ?)",
                (
                    channel.platform,
                    channel.channel,
                    slot,
                    json.dumps(list(article_ids)),
                    _iso(now),
                    _iso(due or now),
                    owner,
                    _iso(lease_until),
                ),
            )
        return self.digest_run(channel, slot) if cur.rowcount == 1 else None

    def take_run(self, run: DigestRun, owner: str, *, lease_until: datetime) -> DigestRun | None:
        """Take an open run over for `owner`: a failed one, or a claim whose process is gone.

        Compare-and-set on the status, owner and lease read in `run`, so of two processes
        taking the same run over only one wins.

        Returns:
            The run as now claimed by `owner`, or None when someone else changed it first.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = 'claimed', owner = ?, lease_until = ?,"
                " attempts = attempts + 1 WHERE id = ? AND status = ? AND owner IS ?"
                " AND lease_until IS ?",
                (owner, _iso(lease_until), run.id, run.status, run.owner, _iso(run.lease_until)),
            )
        if cur.rowcount != 1:
            return None
        return self.get_run(run.id)

    def renew_leases(self, owner: str, until: datetime) -> int:
        """Extend every claim `owner` holds; returns how many it holds."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ? WHERE owner = ? AND status = 'claimed'",
                (_iso(until), owner),
            )
        return cur.rowcount

    def plan_parts(
        self,
        run_id: int,
        owner: str | None,
        payloads: Sequence[str],
        shown: Mapping[str, Any],
        *,
        article_ids: Sequence[int],
        keep_unsure: bool = True,
    ) -> bool:
        """Store the messages a run will post, the articles it carries, and what to record
        once they are all sent.

        An earlier plan is replaced only while none of its messages can have reached the
        platform (all ``planned``), or when `keep_unsure` is False (a platform that cannot tell
        whether a message landed: it is sent again anyway).

        Returns:
            False when the run is not `owner`'s claim, or an earlier plan must be kept.
        """
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT 1 FROM digest_runs WHERE id = ? AND status = 'claimed' AND owner IS ?",
                (run_id, owner),
            ).fetchone()
            if held is None:
                return False
            if keep_unsure:
                begun = conn.execute(
                    "SELECT 1 FROM digest_parts WHERE run_id = ? AND status != 'planned' LIMIT 1",
                    (run_id,),
                ).fetchone()
                if begun is not None:
                    return False
            conn.execute("DELETE FROM digest_parts WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO digest_parts (run_id, part, status, payload)"
                " VALUES (?, ?, 'planned', ?)",
                [(run_id, n, payload) for n, payload in enumerate(payloads)],
            )
            conn.execute(
                "UPDATE digest_runs SET shown = ?, parts = ?, parts_sent = 0, article_ids = ?"
                " WHERE id = ?",
                (
                    json.dumps(shown, ensure_ascii=False),
                    len(payloads),
                    json.dumps(list(article_ids)),
                    run_id,
                ),
            )
        return True

    def run_parts(self, run_id: int) -> list[DigestPart]:
        """A run's planned messages, in order."""
        rows = self.conn.execute(
            "SELECT * FROM digest_parts WHERE run_id = ? ORDER BY part", (run_id,)
        ).fetchall()
        return [
            DigestPart(
                run_id=int(r["run_id"]),
                index=int(r["part"]),
                status=r["status"],
                payload=r["payload"],
                message_id=r["message_id"],
            )
            for r in rows
        ]

    def start_part(
        self, run_id: int, index: int, owner: str | None, now: datetime, *, lease_until: datetime
    ) -> bool:
        """Note, before sending it, that a part may land from now on; renews the claim.

        Returns:
            False when the run is no longer `owner`'s claim (it must not be sent then).
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ? WHERE id = ? AND status = 'claimed'"
                " AND owner IS ?",
                (_iso(lease_until), run_id, owner),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE digest_parts SET status = 'sending', attempted_at = ?"
                " WHERE run_id = ? AND part = ? AND status != 'sent'",
                (_iso(now), run_id, index),
            )
        return True

    def record_part(
        self,
        run_id: int,
        index: int,
        message_id: str,
        owner: str | None,
        now: datetime,
        *,
        lease_until: datetime,
    ) -> bool:
        """Record a part the platform accepted, with its message id, and the run's progress
        and renewed claim, in one transaction.

        Returns:
            False when the run is no longer `owner`'s claim.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ?, parts_sent = parts_sent + 1"
                " WHERE id = ? AND status = 'claimed' AND owner IS ?",
                (_iso(lease_until), run_id, owner),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE digest_parts SET status = 'sent', message_id = ?, sent_at = ?"
                " WHERE run_id = ? AND part = ?",
                (message_id, _iso(now), run_id, index),
            )
        return True

    def unsend_part(self, run_id: int, index: int) -> None:
        """A part the platform refused (so it did not land): planned again."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digest_parts SET status = 'planned' WHERE run_id = ? AND part = ?"
                " AND status = 'sending'",
                (run_id, index),
            )

    def finish_run(self, run_id: int, owner: str | None, now: datetime) -> bool:
        """Mark a claimed run sent, and record its articles as delivered and what the channel
        was shown of their stories (as planned), in one transaction; the plan's payloads go.

        Returns:
            False when the run was not `owner`'s claim (nothing is recorded then, so the views
            are written once, by the process that completed the run).
        """
        stamp = _iso(now)
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE digest_runs SET status = 'sent', sent_at = ?, error = NULL, owner = NULL,"
                " lease_until = NULL, next_attempt = NULL WHERE id = ? AND status = 'claimed'"
                " AND owner IS ? RETURNING platform, channel, shown",
                (stamp, run_id, owner),
            ).fetchone()
            if row is None:
                return False
            channel = ChannelRef(row["platform"], row["channel"])
            shown = json.loads(row["shown"] or "{}")
            _insert_deliveries(conn, channel, shown.get("articles", ()), now)
            views = [
                StoryView(
                    int(v["story"]),
                    tuple((int(a), int(r)) for a, r in v.get("articles", ())),
                    tuple(v.get("outlets", ())),
                    tuple(v.get("bullets", ())),
                )
                for v in shown.get("views", ())
            ]
            _insert_views(conn, channel, views, now)
            conn.execute("UPDATE digest_parts SET payload = NULL WHERE run_id = ?", (run_id,))
        return True

    def fail_run(
        self,
        run_id: int,
        owner: str | None,
        error: str,
        now: datetime,
        *,
        next_attempt: datetime | None,
    ) -> bool:
        """Record a failed attempt: the claim is released and the run retried at
        `next_attempt` (None: abandoned, never retried)."""
        status = "failed" if next_attempt is not None else "abandoned"
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = ?, error = ?, next_attempt = ?, owner = NULL,"
                " lease_until = NULL, failed_since = coalesce(failed_since, ?)"
                " WHERE id = ? AND status = 'claimed' AND owner IS ?",
                (status, error[:500], _iso(next_attempt), _iso(now), run_id, owner),
            )
        return cur.rowcount == 1

    def abandon_run(self, run: DigestRun, error: str, now: datetime) -> bool:
        """Give up an open run that was not retried in time (compare-and-set, as `take_run`)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = 'abandoned', error = ?, owner = NULL,"
                " lease_until = NULL, next_attempt = NULL, failed_since = coalesce(failed_since, ?)"
                " WHERE id = ? AND status = ? AND owner IS ? AND lease_until IS ?",
                (error[:500], _iso(now), run.id, run.status, run.owner, _iso(run.lease_until)),
            )
        return cur.rowcount == 1

    def hasten_runs(self, platform: str, now: datetime) -> int:
        """Bring every failed run of `platform` forward to `now` (the platform works again)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET next_attempt = ? WHERE platform = ? AND status = 'failed'"
                " AND next_attempt > ?",
                (_iso(now), platform, _iso(now)),
            )
        return cur.rowcount

    def get_run(self, run_id: int) -> DigestRun | None:
        row = self.conn.execute("SELECT * FROM digest_runs WHERE id = ?", (run_id,)).fetchone()
        return _digest_run(row) if row else None

    def digest_run(self, channel: ChannelRef, slot: str) -> DigestRun | None:
        row = self.conn.execute(
            "SELECT * FROM digest_runs WHERE platform = ? AND channel = ? AND slot = ?",
            (channel.platform, channel.channel, slot),
        ).fetchone()
        return _digest_run(row) if row else None

    def open_runs(self, owner: str | None = None) -> list[DigestRun]:
        """Claimed or failed digest runs (of `owner` only, if given), oldest first."""
        sql = "SELECT * FROM digest_runs WHERE status IN ('claimed', 'failed')"
        params: tuple[str, ...] = ()
        if owner is not None:
            sql += " AND owner = ?"
            params = (owner,)
        rows = self.conn.execute(sql + " ORDER BY claimed_at, id", params).fetchall()
        return [_digest_run(r) for r in rows]

    def channel_runs(self, channel: ChannelRef, limit: int = 5) -> list[DigestRun]:
        """A channel's latest digest runs, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM digest_runs WHERE platform = ? AND channel = ?"
            " ORDER BY claimed_at DESC, id DESC LIMIT ?",
            (channel.platform, channel.channel, limit),
        ).fetchall()
        return [_digest_run(r) for r in rows]

    def last_digest_slot(self, channel: ChannelRef) -> str | None:
        row = self.conn.execute(
            "SELECT max(slot) FROM digest_runs WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return row[0] if row else None

    # Alerts -----------------------------------------------------------------------------

    def note_failure(
        self, kind: str, subject: str, error: str, now: datetime, *, failures: int | None = None
    ) -> AlertState:
        """Count one more consecutive failure (or set the count to `failures`)."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO alerts (kind, subject, failures, since, last_error)"
                " VALUES (?, ?, coalesce(?, 1), ?, ?) ON CONFLICT (kind, subject) DO UPDATE SET"
                " failures = coalesce(?, alerts.failures + 1),"
                " since = CASE WHEN alerts.failures = 0 THEN excluded.since ELSE alerts.since END,"
                " recovered_at = NULL, last_error = excluded.last_error RETURNING *",
                (kind, subject, failures, _iso(now), error[:500], failures),
            ).fetchone()
        return _alert(row)

    def note_success(self, kind: str, subject: str, now: datetime) -> AlertState | None:
        """End a run of failures. A row nobody was told about goes; one people were told
        about stays, recovered, until they are told that too (`clear_alert`).

        Returns:
            The state before, or None when nothing was failing.
        """
        row = self.conn.execute(
            "SELECT * FROM alerts WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        if row is None or (row["failures"] == 0 and row["recovered_at"]):
            return None
        with self.transaction() as conn:
            if row["notified_at"] is None:
                conn.execute("DELETE FROM alerts WHERE kind = ? AND subject = ?", (kind, subject))
            else:
                conn.execute(
                    "UPDATE alerts SET failures = 0, recovered_at = ?"
                    " WHERE kind = ? AND subject = ?",
                    (_iso(now), kind, subject),
                )
        return _alert(row)

    def mark_notified(self, kind: str, subject: str, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE alerts SET notified_at = ? WHERE kind = ? AND subject = ?",
                (_iso(now), kind, subject),
            )

    def clear_alert(self, kind: str, subject: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM alerts WHERE kind = ? AND subject = ?", (kind, subject))

    def alerts(self, kind: str | None = None) -> list[AlertState]:
        """Every failing (or recovered but not yet announced) feed and channel."""
        sql, params = "SELECT * FROM alerts", ()
        if kind is not None:
            sql, params = sql + " WHERE kind = ?", (kind,)  # type: ignore[assignment]
        rows = self.conn.execute(sql + " ORDER BY kind, subject", params).fetchall()
        return [_alert(r) for r in rows]

    def alert(self, kind: str, subject: str) -> AlertState | None:
        row = self.conn.execute(
            "SELECT * FROM alerts WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        return _alert(row) if row else None

    def feed_states(self) -> list[FeedState]:
        """Every feed polled so far."""
        rows = self.conn.execute("SELECT url FROM feeds ORDER BY url").fetchall()
        return [s for s in (self.get_feed_state(r[0]) for r in rows) if s is not None]


# SQLite's result codes for a write the file or the disk refused, and what to tell the operator
_WRITE_FAULTS = (
    (
        "SQLITE_READONLY",
        "the database is read-only (check the permissions of the file and its "
        "folder, and whether the volume is mounted read-only)",
    ),
    ("SQLITE_FULL", "the disk is full"),
    (
        "SQLITE_IOERR",
        "the disk refused the write (I/O error: a full disk, a file size limit or "
        "a failing volume)",
    ),
    ("SQLITE_CANTOPEN", "the database file cannot be opened for writing"),
)


def _write_fault(exc: sqlite3.Error) -> str | None:
    """What an SQLite error says about the file or the disk; None for other errors (a busy
    database, a constraint, a bug)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, reason in _WRITE_FAULTS:
        if name.startswith(prefix):
            return f"{reason}: {exc}"
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return f"{_WRITE_FAULTS[0][1]}: {exc}"
    if "disk is full" in text:
        return f"{_WRITE_FAULTS[1][1]}: {exc}"
    if "disk i/o error" in text:
        return f"{_WRITE_FAULTS[2][1]}: {exc}"
    return None


def _file_identity(path: str) -> tuple[int, int] | None:
    """The device and inode of a database file (None in memory)."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def leftovers(file: Path) -> list[str]:
    """Files beside a missing database that an earlier database left: its WAL, shared-memory
    or rollback journal, or a backup named after it (``newsbrief.db.bak``, ``newsbrief.bak``)."""
    try:
        names = sorted(p.name for p in file.parent.iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        rest = name[len(file.name) :] if name.startswith(file.name) else None
        if (rest and rest[0] in "-.~_") or name in (f"{file.stem}.bak", f"{file.stem}.backup"):
            found.append(name)
    return found


def _insert_deliveries(
    conn: sqlite3.Connection, channel: ChannelRef, article_ids: Iterable[int], when: datetime
) -> int:
    """Mark articles as sent to `channel` (inside the caller's transaction); returns how many
    were not marked before."""
    stamp = _iso(when)
    cur = conn.executemany(
        "INSERT OR IGNORE INTO deliveries (platform, channel, article_id, delivered_at)"
        " VALUES (?, ?, ?, ?)",
        [(channel.platform, channel.channel, i, stamp) for i in article_ids],
    )
    return cur.rowcount


def _insert_views(
    conn: sqlite3.Connection, channel: ChannelRef, views: Sequence[StoryView], when: datetime
) -> None:
    """Record what `channel` was shown (inside the caller's transaction): each article's
    revision, and each story's outlets and bullets added to those it was shown before."""
    where = (channel.platform, channel.channel)
    conn.executemany(
        "INSERT INTO article_views (platform, channel, article_id, revision, story_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, channel, article_id) DO UPDATE SET"
        " revision = max(revision, excluded.revision), story_id = excluded.story_id",
        [(*where, aid, rev, v.story_id) for v in views for aid, rev in v.articles],
    )
    for view in views:
        if not view.outlets and not view.bullets:
            continue
        row = conn.execute(
            "SELECT outlets, bullets FROM story_views"
            " WHERE platform = ? AND channel = ? AND story_id = ?",
            (*where, view.story_id),
        ).fetchone()
        outlets: list[str] = json.loads(row["outlets"]) if row else []
        bullets: list[str] = json.loads(row["bullets"]) if row else []
        outlets = list(dict.fromkeys([*outlets, *view.outlets]))
        bullets = list(dict.fromkeys([*bullets, *view.bullets]))[-MAX_VIEW_BULLETS:]
        conn.execute(
            "INSERT OR REPLACE INTO story_views"
            " (platform, channel, story_id, outlets, bullets, shown_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                *where,
                view.story_id,
                json.dumps(outlets, ensure_ascii=False),
                json.dumps(bullets, ensure_ascii=False),
                _iso(when),
            ),
        )


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    # SQLite caps bound parameters (32766 by default); stay far below it
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _article(row: sqlite3.Row) -> Article:
    return Article(
        url=row["url"],
        title=row["title"],
        source=row["source"],
        text=row["text"],
        published=_dt(row["published"]),
        fetched_at=_dt(row["fetched_at"]) or _now(),
        language=row["language"],
        id=int(row["id"]),
        origin=row["origin"],
        revision=int(row["revision"]),
        entry_hash=row["entry_hash"],
        update_marker=bool(row["update_marker"]),
    )


def _bullet_row(bullet: Bullet) -> dict[str, object]:
    row: dict[str, object] = {"text": bullet.text, "sentences": list(bullet.sentences)}
    if bullet.source is not None:
        # only story briefings name an outlet per bullet; rows without the key read as None
        row["source"] = bullet.source
    if bullet.written:
        row["origin"], row["url"] = bullet.origin, bullet.url
    return row


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        platform=row["platform"],
        channel=row["channel"],
        source=row["source"],
        id=int(row["id"]),
        created_at=_dt(row["created_at"]),
    )


def _channel(row: sqlite3.Row) -> ChannelSettings:
    return ChannelSettings(
        channel=ChannelRef(row["platform"], row["channel"]),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        filter=tuple(json.loads(row["filter"])) if row["filter"] else (),
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
    )


def _digest_run(row: sqlite3.Row) -> DigestRun:
    return DigestRun(
        channel=ChannelRef(row["platform"], row["channel"]),
        slot=row["slot"],
        article_ids=tuple(json.loads(row["article_ids"])),
        status=row["status"],
        claimed_at=_dt(row["claimed_at"]) or _now(),
        sent_at=_dt(row["sent_at"]),
        attempts=int(row["attempts"]),
        error=row["error"],
        id=int(row["id"]),
        due_at=_dt(row["due_at"]),
        owner=row["owner"],
        lease_until=_dt(row["lease_until"]),
        next_attempt=_dt(row["next_attempt"]),
        failed_since=_dt(row["failed_since"]),
        parts=int(row["parts"]),
        parts_sent=int(row["parts_sent"]),
    )


def _alert(row: sqlite3.Row) -> AlertState:
    return AlertState(
        kind=row["kind"],
        subject=row["subject"],
        failures=int(row["failures"]),
        since=_dt(row["since"]),
        last_error=row["last_error"],
        notified_at=_dt(row["notified_at"]),
        recovered_at=_dt(row["recovered_at"]),
    )
