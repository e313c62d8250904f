"""The store: articles, stories, sources and channels, on SQLite or PostgreSQL.

One room per aggregate (`articles`, `search`, `stories`, `sources`, `channels`), written once
over a small connection layer (`db`); each backend (`sqlite`, `postgres`) adds connecting,
transactions and their faults, its schema (`schema`) and its full-text search.

Example:
    store = open_store("sqlite:///data/newsbrief.db")   # or a bare path
    store = open_store("postgresql://newsbrief:secret@db/newsbrief")
    article, added = store.add_article(article, briefing)

The PostgreSQL backend (`bot.store.postgres`, with psycopg and its pool) is imported only when
`open_store` opens a PostgreSQL URL: a SQLite bot, and every short command, never loads it.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from bot.config import redact_url
from bot.errors import StoreError, StoreFaultError
from bot.store.api import Store
from bot.store.articles import LLM_COUNTERS
from bot.store.channels import MAX_VIEW_BULLETS
from bot.store.rows import FeatureStats, SeenArticle, StoryOutline, StoryView, content_hash
from bot.store.schema import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from bot.store.search import Match
from bot.store.sqlite import SqliteStore, leftovers
from bot.store.stories import FEATURE_DAYS_KEPT

MIGRATIONS = SQLITE_MIGRATIONS
"""SQLite's schema versions (its ``PRAGMA user_version`` is their count)."""

__all__ = [
    "FEATURE_DAYS_KEPT",
    "LLM_COUNTERS",
    "MAX_VIEW_BULLETS",
    "MIGRATIONS",
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "FeatureStats",
    "Match",
    "SeenArticle",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreFaultError",
    "StoryOutline",
    "StoryView",
    "content_hash",
    "database_errors",
    "is_postgres",
    "leftovers",
    "open_store",
    "redact_url",
]


def is_postgres(target: str) -> bool:
    """Whether `target` names a PostgreSQL database (a ``postgresql://`` URL)."""
    return target.startswith(("postgresql://", "postgres://"))


def database_errors() -> tuple[type[Exception], ...]:
    """What a read of either backend may raise when the database itself fails (locked, damaged,
    unreachable): for callers that report it and carry on, such as the health checks.

    psycopg's errors are among them once psycopg is loaded; until then no PostgreSQL store was
    opened, so none can be raised.

    Example:
        try:
            states = store.get_feed_states(urls)
        except database_errors() as exc:
            log.warning("cannot read feed states: %s", exc)
    """
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (StoreError, sqlite3.Error)
    return (StoreError, sqlite3.Error, psycopg.Error)


def open_store(target: str | Path) -> Store:
    """Open (and migrate) the database `target` names.

    Args:
        target: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
            ``postgresql://user:password@host:5432/db`` (or ``postgres://``), or a bare path
            (SQLite).

    Raises:
        StoreError: it cannot be opened (see `SqliteStore.open`, `PostgresStore.open`).
    """
    text = str(target)
    if is_postgres(text):
        from bot.store.postgres import PostgresStore

        return PostgresStore.open(text)
    if text.startswith("sqlite://"):
        text = text.removeprefix("sqlite://").removeprefix("/") or ":memory:"
    return SqliteStore.open(text)
