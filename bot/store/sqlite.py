"""The SQLite backend: one file in WAL mode, so readers never wait for the poller's writes.

The schema is versioned with ``PRAGMA user_version`` and migrated forward on open
(`bot.store.schema.SQLITE_MIGRATIONS`); full-text search is FTS5 (`bot.store.search`).

Example:
    store = SqliteStore.open(Path("data/newsbrief.db"))
    article, added = store.add_article(article, briefing)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import StoreError, StoreFaultError
from bot.store.api import Store
from bot.store.db import Cursor
from bot.store.rows import to_iso, utc_now
from bot.store.schema import SQLITE_MIGRATIONS as MIGRATIONS
from bot.store.search import Fts5Search

log = logging.getLogger(__name__)


class SqliteDatabase:
    """One SQLite connection, shared by the owner thread (writes) and readers' threads.

    Every write checks first that the file opened is still the one at `path` (a file removed
    or replaced under a running bot would swallow every write), and a write the disk or the
    file refuses raises `StoreFaultError`; `fault` keeps the last such failure until a write
    succeeds again, for health checks.
    """

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self.fault: str | None = None
        self.identity = _file_identity(path)
        self.owner: int | None = None
        """The thread whose transaction is open, if any: its nested ones are savepoints."""
        self.depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        return self.conn.executemany(sql, rows)

    def check_file(self) -> None:
        """Raise `StoreFaultError` when the file opened is no longer the one at `path`.

        SQLite keeps writing to the file it opened: after an `rm` every write would go to a
        file nobody can reach, and after a replacement to the old one.
        """
        if self.identity is None:
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
        if (now.st_dev, now.st_ino) != self.identity:
            self.fault = (
                "the database file was replaced while the bot ran: restart the bot to use "
                "the new file"
            )
            raise StoreFaultError(self.path, self.fault)

    @contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Inside another transaction of this thread (a batch of ingest, `Store.batch`) it is a
        savepoint: an exception undoes its own writes only, and nothing is committed until the
        outer block ends.

        Raises:
            StoreFaultError: the file is gone or replaced, or the write was refused (read-only
                file or folder, full disk, I/O error); nothing of it was saved.
        """
        if self.owner == threading.get_ident():
            with self._savepoint():
                yield self
            return
        self.check_file()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _write_fault(exc) is None:
                raise
            raise self._fault(exc) from exc
        self.owner = threading.get_ident()
        try:
            yield self
        except BaseException as exc:
            self.owner = None
            # SQLite may have rolled back already (an I/O error does): nothing left to undo
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _write_fault(exc):
                raise self._fault(exc) from exc
            raise
        self.owner = None
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if _write_fault(exc) is None:
                raise
            raise self._fault(exc) from exc
        self.fault = None

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self.depth += 1
        name = f"nested_{self.depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            raise
        finally:
            self.depth -= 1
        self.conn.execute(f"RELEASE {name}")

    def _fault(self, exc: sqlite3.OperationalError) -> StoreFaultError:
        reason = _write_fault(exc) or str(exc)
        if self.fault != reason:
            log.error("database %s cannot be written: %s", self.path, reason)
        self.fault = reason
        return StoreFaultError(self.path, reason)


class SqliteStore(Fts5Search, Store):
    """The store on one SQLite file (or ``:memory:``).

    Writes stay on the thread that opened it; read-only work (such as /ask) may run in a worker
    thread so it never stalls the event loop.
    """

    db: SqliteDatabase

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self.conn = db.conn
        self.path = db.path
        self.name = db.path

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def reopen_target(self) -> str | None:
        return None if self.path == ":memory:" else os.path.abspath(self.path)

    @classmethod
    def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating parent folders and the file if needed) and migrate the database.

        A new file is only created where nothing of an earlier database is left: a `-wal`,
        `-shm` or `-journal` file, or a backup beside the missing file, means a database was
        removed or moved, and an empty one in its place would hide that.

        Raises:
            StoreError: the file cannot be opened, is not a database, or is newer than this
                code; or it is missing while an earlier database's files are there.
        """
        target = str(path)
        if "://" in target:
            # a URL is not a file name: a mistyped scheme must not become an empty database
            raise StoreError(f"not an SQLite file path: {target.split('://', 1)[0]}://...")
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
            # the savepoints of a batch (`Store.batch`) keep their undo pages in memory, not
            # in a temporary file rewritten for every article (1.5 GB of writes per 10k)
            conn.execute("PRAGMA temp_store=MEMORY")
            # a checkpoint every 16 MB of log, not 4: a page that several ingest batches
            # rewrite is copied into the database file once (390 MB written per 10k articles
            # ingested instead of 610)
            conn.execute("PRAGMA wal_autocheckpoint=4000")
            store = cls(SqliteDatabase(conn, target))
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

    def check_file(self) -> None:
        """Raise `StoreFaultError` when the file opened is no longer the one at `path`."""
        self.db.check_file()

    def release_memory(self) -> None:
        """Free the pages SQLite caches for this connection beyond what it is using."""
        self.conn.execute("PRAGMA shrink_memory")

    def write_problem(self) -> str | None:
        """Why the database cannot be written, or None: its file is gone or replaced, or a
        probe write on a connection of its own fails (a full disk, a read-only file)."""
        if self.path == ":memory:":
            return None  # nothing on disk to lose; the connection itself is the database
        try:
            self.check_file()
        except StoreFaultError as exc:
            return exc.reason
        problem = probe_file(self.path)
        if problem is None:
            self.fault = None  # a committed write works again: the last failure is over
        return problem

    def check_writable(self, now: datetime | None = None) -> None:
        """Commit a small write, which needs a writable file and room on the disk.

        Raises:
            StoreFaultError: the database cannot be written, and why.
        """
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?)",
                (to_iso(now or utc_now()),),
            )

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def data_version(self) -> object | None:
        """``PRAGMA data_version`` (moves when another connection, of this process or another,
        commits) with this connection's ``total_changes`` (moves with each row it writes).

        None inside a write transaction: readers share this connection and would see rows not
        yet committed, which a rollback could take back without moving either count.
        """
        conn = self.conn
        if conn.in_transaction:
            return None
        try:
            data = conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None
        return (int(data), conn.total_changes)

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


def probe_file(path: str, timeout: float = 2.0) -> str | None:
    """Commit a one-row write on a connection of its own.

    A committed write needs a writable file and room on the disk; a rolled-back one succeeds
    on a full disk.

    Returns:
        None when the database is writable, else why not.
    """
    try:
        # uri mode=rw: never create a missing file, which would hide a lost volume
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        conn.isolation_level = None
        conn.execute("BEGIN IMMEDIATE")
        # REPLACE (a delete and an insert) rewrites more than an in-place update would, so a
        # disk that refuses to grow a file shows
        conn.execute(
            "INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?)",
            (datetime.now(UTC).isoformat(timespec="seconds"),),
        )
        conn.execute("COMMIT")
        return None
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        return str(exc)
    finally:
        conn.close()


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
