"""The store's interface: every room on one `Database`, whichever backend holds it.

`Store` is what the rest of newsbrief types against; `SqliteStore` (bot/store/sqlite.py) and
`PostgresStore` (bot/store/postgres.py) implement its backend part: connecting, transactions
and their faults, the schema, and full-text search (`bot.store.search`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from bot.store.articles import ArticleRoom
from bot.store.channels import ChannelRoom
from bot.store.db import Database
from bot.store.rows import to_iso, utc_now
from bot.store.search import SearchRoom
from bot.store.sources import SourceRoom
from bot.store.stories import StoryRoom


class Store(ArticleRoom, SearchRoom, StoryRoom, SourceRoom, ChannelRoom):
    """The one database of a bot process.

    Writes happen on the thread that opened it (the event loop's); reads such as /ask may run
    in worker threads at the same time. A write the database refuses raises
    `StoreFaultError`, and `fault` keeps the last such failure until a write succeeds again.

    Attributes:
        name: the database as logs and errors may show it (a path, or a URL without its
            password).
        path: the SQLite file (``:memory:`` for none); the redacted URL on PostgreSQL.
    """

    name: str
    path: str

    @property
    def fault(self) -> str | None:
        """The last write the database refused, until one succeeds again."""
        return self.db.fault

    @fault.setter
    def fault(self, reason: str | None) -> None:
        self.db.fault = reason

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open the database `path` names: an SQLite file, or a URL (see
        `bot.store.open_store`)."""
        from bot.store import open_store

        return open_store(path)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    def batch(self) -> AbstractContextManager[Database]:
        """One transaction around many writes (an ingest batch): each write inside still
        succeeds or fails whole (it is a savepoint), and all are committed at the end of the
        block, in one commit instead of one each.

        Keep it short and synchronous: SQLite's other writers wait for it.
        """
        return self.db.transaction()

    def data_version(self) -> object | None:
        """A value that changes whenever anything this store reads may have changed (a write
        by this process or by another), for caches of reads valid until the next write; None
        when the backend cannot tell cheaply, or a write transaction is open: cache nothing.
        """
        return None

    def reopen_target(self) -> str | None:
        """What `bot.store.open_store` takes to open this database from another process: the
        SQLite file's absolute path, or the URL with its password (never log it); None when
        no other process can see it (``:memory:``)."""
        return None

    def check_file(self) -> None:
        """Raise `StoreFaultError` when the database opened can no longer be written where it
        was (a removed or replaced SQLite file); nothing to check on a server."""

    def release_memory(self) -> None:
        """Drop what the connection caches beyond what it needs (after a big read); nothing
        to drop on a server."""

    def write_problem(self) -> str | None:
        """Why the database cannot be written, or None (for health checks)."""
        raise NotImplementedError

    def check_writable(self, now: datetime | None = None) -> None:
        """Commit a small write, which needs a writable database and room on its disk.

        Raises:
            StoreFaultError: the database cannot be written, and why.
        """

        with self.transaction() as db:
            db.execute(
                "INSERT INTO write_probe (id, at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                (to_iso(now or utc_now()),),
            )
