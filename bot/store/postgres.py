"""The PostgreSQL backend: psycopg 3 with a small connection pool, for replicas sharing one
database.

Reads outside a transaction take any pooled connection (autocommit); a transaction pins one
connection to its thread until it ends, so writes on the event loop's thread and reads in
worker threads (/ask) run side by side. The schema's version is in ``schema_version``, and
migrations run under ``pg_advisory_xact_lock`` so replicas starting together take turns.
Passwords never reach logs, errors or ``repr``: the URL is shown as
``postgresql://user:***@host/db``.

Example:
    store = PostgresStore.open("postgresql://newsbrief:secret@db/newsbrief")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
import psycopg.errors
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.config import redact_url
from bot.errors import StoreError, StoreFaultError
from bot.store.api import Store
from bot.store.db import to_pyformat
from bot.store.schema import POSTGRES_MIGRATIONS
from bot.store.search import TsvectorSearch

log = logging.getLogger(__name__)

SCHEMES = ("postgresql://", "postgres://")
POOL_MIN = 1
POOL_MAX = 8
CONNECT_TIMEOUT = 10  # seconds to reach the server, and to wait for a pooled connection
MIGRATION_LOCK = 0x6E657773_62726965  # "newsbrie": the advisory lock key of migrations

# errors that say the server is gone or refuses writes, rather than a bug in a statement
_FAULTS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.errors.ReadOnlySqlTransaction,
    psycopg.errors.InsufficientPrivilege,
    PoolTimeout,
)


def _secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or ""]
    found += [v for k, v in parse_qsl(parts.query) if k == "password"]
    return [s for s in found if s]


class PgRow(tuple[Any, ...]):
    """A result row by position or by column name, like `sqlite3.Row`."""

    _names: tuple[str, ...]
    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def pg_rows(cursor: Any) -> RowMaker[PgRow]:
    """psycopg row factory for `PgRow` (the first of two columns of one name wins, as in
    SQLite)."""
    names = tuple(c.name for c in cursor.description or ())
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row._names, row._index = names, index
        return row

    return make


class Result:
    """A statement's rows, fetched before its connection went back to the pool."""

    def __init__(self, rows: list[PgRow], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self._next = 0

    def fetchone(self) -> PgRow | None:
        if self._next >= len(self.rows):
            return None
        self._next += 1
        return self.rows[self._next - 1]

    def fetchall(self) -> list[PgRow]:
        rest, self._next = self.rows[self._next :], len(self.rows)
        return rest

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.fetchall())


class PostgresDatabase:
    """A connection pool, and the transaction each thread is in."""

    dialect = "postgres"

    def __init__(self, url: str, *, max_size: int = POOL_MAX) -> None:
        self.name = redact_url(url)
        self.fault: str | None = None
        self.url = url  # with its password: never log it
        self._secrets = _secrets(url)
        self._local = threading.local()
        self.pool = ConnectionPool(
            url,
            min_size=POOL_MIN,
            max_size=max_size,
            kwargs={"autocommit": True, "row_factory": pg_rows},
            timeout=CONNECT_TIMEOUT,
            # a connection the server dropped (a restart, a fail-over) is replaced when taken
            check=ConnectionPool.check_connection,
            open=False,
            name="newsbrief",
        )

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.name!r})"

    def reason(self, exc: BaseException) -> str:
        """What a driver error says, without the password."""
        if isinstance(exc, PoolTimeout):
            text = f"no connection to the server within {CONNECT_TIMEOUT}s (is it up?)"
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            text = f"the server refuses writes (read-only: a standby, or set so): {exc}"
        elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
            text = f"the database user may not write: {exc}"
        else:
            text = str(exc).strip() or type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _run(self, conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> Result:
        cur = conn.execute(to_pyformat(sql), tuple(params))
        rows = cur.fetchall() if cur.description is not None else []
        return Result(rows, cur.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return self._run(conn, sql, params)
        try:
            with self.pool.connection() as conn:
                return self._run(conn, sql, params)
        except _FAULTS as exc:
            raise StoreFaultError(self.name, self.reason(exc)) from exc

    def execute_by_index(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Run a read with sequential scans off, for full-text matches.

        The planner costs ``tsv @@ query`` as a cheap filter, so for a common word it scans
        the table and unpacks every article's tsvector (0.8 s at 100k articles), where the GIN
        index and a bitmap scan that reads no tsvector count the same rows in 25 ms.
        """
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            # in the caller's transaction: back to the default after (a failed statement
            # aborts the transaction, whose rollback undoes the setting anyway)
            conn.execute("SET LOCAL enable_seqscan = off")
            result = self._run(conn, sql, params)
            conn.execute("SET LOCAL enable_seqscan TO DEFAULT")
            return result
        try:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SET LOCAL enable_seqscan = off")
                return self._run(conn, sql, params)
        except _FAULTS as exc:
            raise StoreFaultError(self.name, self.reason(exc)) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Result:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction() as db:
                return db.executemany(sql, rows)
        if not rows:
            return Result([], 0)
        with conn.cursor() as cur:
            cur.executemany(to_pyformat(sql), [tuple(r) for r in rows])
            return Result([], cur.rowcount)

    @contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        """BEGIN ... COMMIT on a connection pinned to this thread, rolled back on any
        exception; inside another transaction of the thread, a savepoint.

        Raises:
            StoreFaultError: the server cannot be reached or refused the write; nothing of it
                was saved.
        """
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            # inside this thread's transaction (a batch): a savepoint, committed with it
            with pinned.transaction():
                yield self
            return
        try:
            with self.pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        yield self
                finally:
                    self._local.conn = None
        except _FAULTS as exc:
            reason = self.reason(exc)
            if self.fault != reason:
                log.error("database %s cannot be written: %s", self.name, reason)
            self.fault = reason
            raise StoreFaultError(self.name, reason) from exc
        self.fault = None

    def probe(self) -> str | None:
        """Connect afresh, ``SELECT 1`` and commit a one-row write; None, or why it failed."""
        try:
            with psycopg.connect(self.url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
                conn.execute(
                    "INSERT INTO write_probe (id, at) VALUES (1, %s)"
                    " ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                    (datetime.now(UTC).isoformat(timespec="seconds"),),
                )
        except psycopg.Error as exc:
            return self.reason(exc)
        return None


class PostgresStore(TsvectorSearch, Store):
    """The store on a PostgreSQL database, shared by any number of bot processes."""

    db: PostgresDatabase

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.name = db.name
        self.path = db.name

    def __repr__(self) -> str:
        return f"PostgresStore({self.name!r})"

    def reopen_target(self) -> str | None:
        return self.db.url

    @classmethod
    def open(cls, path: Path | str, *, pool_size: int = POOL_MAX) -> PostgresStore:
        """Connect, migrate the schema to this version, and open the pool.

        Args:
            path: a ``postgresql://`` (or ``postgres://``) URL.

        Raises:
            StoreError: the server cannot be reached, refuses the user, or holds a schema
                newer than this code.
        """
        url = str(path)
        db = PostgresDatabase(url, max_size=pool_size)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn:
                _migrate(conn, db.name)
            db.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.Error, PoolTimeout) as exc:
            db.pool.close()
            raise StoreError(f"cannot open database {db.name}: {db.reason(exc)}") from exc
        except BaseException:
            db.pool.close()
            raise
        return cls(db)

    def close(self) -> None:
        self.db.pool.close()

    @property
    def schema_version(self) -> int:
        row = self.db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def write_problem(self) -> str | None:
        problem = self.db.probe()
        if problem is None:
            self.fault = None
        return problem


def _migrate(conn: psycopg.Connection[Any], name: str) -> None:
    """Bring the schema to the newest version, one replica at a time."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if current > len(POSTGRES_MIGRATIONS):
            raise StoreError(
                f"database {name} has schema version {current}, newer than this newsbrief "
                f"({len(POSTGRES_MIGRATIONS)}); upgrade newsbrief"
            )
        for script in POSTGRES_MIGRATIONS[current:]:
            conn.execute(script)
        if row is None:
            conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (len(POSTGRES_MIGRATIONS),)
            )
        elif current < len(POSTGRES_MIGRATIONS):
            conn.execute("UPDATE schema_version SET version = %s", (len(POSTGRES_MIGRATIONS),))
    if current < len(POSTGRES_MIGRATIONS):
        log.log(
            logging.INFO if current else logging.DEBUG,
            "database %s migrated to schema version %d",
            name,
            len(POSTGRES_MIGRATIONS),
        )
    if 0 < current < len(POSTGRES_MIGRATIONS):
        # an upgrade may have filled a table (the search postings' backfill): until autovacuum
        # comes, the planner has no statistics and every index scan visits the table
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
