"""SQLite store: articles (with FTS5), briefings, feeds, subscriptions and deliveries.

One file in WAL mode, so readers never wait for the poller's writes. The schema is versioned with
``PRAGMA user_version`` and migrated forward on open.

Example:
    store = Store.open(Path("data/newsbrief.db"))
    article, added = store.add_article(article, briefing)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.models import Article, Briefing, Bullet, ChannelRef, FeedState, Subscription

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
        language TEXT
    );
    CREATE INDEX articles_recent ON articles (coalesce(published, fetched_at) DESC);
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
    CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
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
    """,
)

# Newest first; among reports stamped with the same time (date-only sources), the fuller one.
_NEWEST_FIRST = "coalesce(a.published, a.fetched_at) DESC, length(a.text) DESC, a.id"
_WORDS = re.compile(r"\w+", re.UNICODE)


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


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The one database of a bot process. Not shared across threads."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating parent folders and the file if needed) and migrate the database.

        Raises:
            StoreError: the file cannot be opened, is not a database, or is newer than this code.
        """
        target = str(path)
        try:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            store = cls(conn, target)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {target}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create database {target}: {exc}") from exc
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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
                " (url, content_hash, title, source, text, published, fetched_at, language)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.url,
                    digest,
                    article.title,
                    article.source,
                    article.text,
                    _iso(article.published),
                    _iso(article.fetched_at),
                    article.language,
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
        return replace(article, id=article_id), True

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
            f"SELECT * FROM articles a ORDER BY {_NEWEST_FIRST}"
            " LIMIT ? OFFSET ?",
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

    def undelivered_articles(self, channel: ChannelRef, limit: int = 500) -> list[Article]:
        """Articles not yet delivered to `channel`, newest first."""
        rows = self.conn.execute(
            "SELECT a.* FROM articles a WHERE NOT EXISTS ("
            " SELECT 1 FROM deliveries d WHERE d.article_id = a.id"
            " AND d.platform = ? AND d.channel = ?)"
            f" ORDER BY {_NEWEST_FIRST} LIMIT ?",
            (channel.platform, channel.channel, limit),
        ).fetchall()
        return [_article(r) for r in rows]

    # Briefings --------------------------------------------------------------------------

    def put_briefing(self, article_id: int, briefing: Briefing) -> None:
        with self.transaction() as conn:
            self._put_briefing(conn, article_id, briefing)

    @staticmethod
    def _put_briefing(conn: sqlite3.Connection, article_id: int, briefing: Briefing) -> None:
        bullets = [{"text": b.text, "sentences": list(b.sentences)} for b in briefing.bullets]
        conn.execute(
            "INSERT OR REPLACE INTO briefings (article_id, headline, bullets) VALUES (?, ?, ?)",
            (article_id, briefing.headline, json.dumps(bullets, ensure_ascii=False)),
        )

    def get_briefings(self, article_ids: Sequence[int]) -> dict[int, Briefing]:
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        rows = self.conn.execute(
            f"SELECT * FROM briefings WHERE article_id IN ({marks})", tuple(article_ids)
        ).fetchall()
        found: dict[int, Briefing] = {}
        for row in rows:
            bullets = tuple(
                Bullet(b["text"], tuple(b.get("sentences", ()))) for b in json.loads(row["bullets"])
            )
            found[int(row["article_id"])] = Briefing(row["headline"], bullets)
        return found

    # Deliveries -------------------------------------------------------------------------

    def record_deliveries(
        self, channel: ChannelRef, article_ids: Iterable[int], when: datetime | None = None
    ) -> int:
        """Mark articles as sent to `channel`; returns how many were not marked before."""
        stamp = _iso(when or _now())
        with self.transaction() as conn:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO deliveries (platform, channel, article_id, delivered_at)"
                " VALUES (?, ?, ?, ?)",
                [(channel.platform, channel.channel, i, stamp) for i in article_ids],
            )
            return cur.rowcount

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
        )

    def put_feed_state(self, state: FeedState, title: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO feeds (url, title, etag, last_modified, last_polled, last_ok,"
                " error_count, last_error, next_poll) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET title = coalesce(excluded.title, feeds.title),"
                " etag = excluded.etag, last_modified = excluded.last_modified,"
                " last_polled = excluded.last_polled, last_ok = excluded.last_ok,"
                " error_count = excluded.error_count, last_error = excluded.last_error,"
                " next_poll = excluded.next_poll",
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
    )


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        platform=row["platform"],
        channel=row["channel"],
        source=row["source"],
        id=int(row["id"]),
        created_at=_dt(row["created_at"]),
    )
