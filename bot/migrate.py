"""Copy a SQLite database into PostgreSQL: ``python -m bot migrate``.

Both databases are opened through the store, so each is at the current schema first. Every table
is copied in dependency order (articles before what refers to them), in batches of rows keyed by
primary key, one transaction per batch: ``INSERT ... ON CONFLICT DO NOTHING``, the new articles
indexed for search by the store's own code, and how far the table got (its last key) written to
``migrate_progress`` in the target in the same transaction. A run that is killed loses at most
its open batch, and the next run goes on after the last key committed, so every row ends up
there exactly once; a run after a finished one copies nothing. Last, each identity sequence is
set past the largest id, so the bot's new rows take fresh ids.

The source is read in one snapshot (a read transaction), so rows the bot writes meanwhile are
not half-copied; stop the bot first all the same: rows it changes in SQLite after their table
was copied are not copied again.

The CLI imports this module for `add_parser` on every start, so the store and psycopg are
imported inside the functions that use them.

Example:
    python -m bot migrate --from sqlite:///data/newsbrief.db \\
        --to postgresql://newsbrief:secret@db/newsbrief
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import Settings, redact_url
from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.store import Store
    from bot.store.db import Database

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

BATCH_SIZE = 1000

TABLES = (
    "articles",
    "article_revisions",
    "briefings",
    "article_terms",
    "stories",
    "story_postings",
    "feature_counts",
    "signature_days",
    "feeds",
    "subscriptions",
    "channels",
    "deliveries",
    "article_views",
    "story_views",
    "digest_runs",
    "digest_parts",
    "alerts",
    "llm_cache",
    "llm_usage",
)
"""Every table copied, parents before the tables that refer to them."""

SKIPPED = ("write_probe", "feed_claims")
"""Tables of the schema not copied: the health checks' probe row is rewritten on the target,
and the feed claims of the processes that ran on the source mean nothing to the target's."""

PROGRESS = "migrate_progress"
"""The target's record of how far each table of each source got (kept after the copy)."""

# tables the target has and the source never will: its own bookkeeping, and the search
# postings a trigger derives from each article's `tsv` as `_index_article` writes it
_TARGET_ONLY = ("schema_version", PROGRESS, "article_postings")
# the target's columns the store fills itself when an article is written (search index)
_DERIVED = {"articles": ("tsv", "ntokens")}
# bound parameters per statement: far below PostgreSQL's 65535
_MAX_PARAMS = 20_000


class MigrateError(StoreError):
    """The migration cannot start or go on: a bad source or target, or a target holding other
    data; the message says what to do."""


@dataclass(slots=True)
class TableCopy:
    """How one table's copy went.

    Attributes:
        rows: the source's rows.
        done: how many of them are behind the last key committed (this run or before).
        copied: rows this run inserted.
        refused: rows the target refused (a constraint or a value it cannot hold); logged.
    """

    name: str
    rows: int
    done: int = 0
    copied: int = 0
    refused: int = 0
    finished: bool = False

    def line(self) -> str:
        """``articles: 12,000 / 48,213`` (and what this run did, once finished)."""
        text = f"{self.name}: {self.done:,} / {self.rows:,}"
        if self.finished:
            text += f" ({self.copied:,} copied"
            if self.refused:
                text += f", {self.refused:,} refused"
            text += ")"
        return text


@dataclass(slots=True)
class Migration:
    """What a run did, table by table."""

    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)

    @property
    def refused(self) -> int:
        return sum(t.refused for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def summary(self) -> str:
        text = (
            f"migrated {self.source} to {self.target}: {self.copied:,} rows copied, "
            f"{self.rows - self.copied - self.refused:,} already there"
        )
        if self.refused:
            text += f", {self.refused:,} refused (see the log)"
        return text + f"; {len(self.tables)} tables in {self.seconds:.1f}s"


Progress = Callable[[TableCopy], None]


def sqlite_path(target: str) -> str:
    """The file a SQLite target names (``sqlite:///rel.db``, ``sqlite:////abs.db`` or a path),
    as `bot.store.open_store` reads it."""
    if target.startswith("sqlite://"):
        return target.removeprefix("sqlite://").removeprefix("/")
    return target


def check_targets(source: str, target: str) -> None:
    """Refuse what cannot be migrated, before anything is opened.

    Raises:
        MigrateError: the two are the same, the source is not a SQLite file that exists, or the
            target is not a PostgreSQL URL.
    """
    from bot.store import is_postgres

    if source == target or (
        not is_postgres(source)
        and not is_postgres(target)
        and Path(sqlite_path(source)).resolve() == Path(sqlite_path(target)).resolve()
    ):
        raise MigrateError(
            f"the source and the target are the same database ({redact_url(target)})"
        )
    if is_postgres(source):
        raise MigrateError(
            f"the source must be a SQLite database (a path or sqlite:///path.db), not "
            f"{redact_url(source)}"
        )
    if not is_postgres(target):
        raise MigrateError(
            f"the target must be a PostgreSQL URL (postgresql://user:password@host/db), not "
            f"{target}"
        )
    path = sqlite_path(source)
    if path == ":memory:" or not Path(path).is_file():
        raise MigrateError(f"no SQLite database at {path}")


def migrate(
    source: Store,
    target: Store,
    *,
    batch_size: int = BATCH_SIZE,
    force: bool = False,
    progress: Progress | None = None,
) -> Migration:
    """Copy every table of `source` (SQLite) into `target` (PostgreSQL), resuming where an
    earlier run stopped.

    Args:
        batch_size: rows per transaction.
        force: copy into a target that holds rows this source's migration did not put there
            (rows whose keys are taken are left as they are).
        progress: called after each batch, and once more when a table is finished.

    Returns:
        What was copied, table by table.

    Raises:
        MigrateError: `source` is not SQLite or `target` not PostgreSQL, the target holds
            other data (without `force`), or the schema has a table this code does not know.
        StoreFaultError: the target stopped taking writes; what was committed stays, and the
            next run goes on from there.
    """
    if source.db.dialect != "sqlite" or target.db.dialect != "postgres":
        raise MigrateError(
            f"migrate copies a SQLite database into PostgreSQL, not {source.db.dialect} into "
            f"{target.db.dialect}"
        )
    started = time.monotonic()
    origin = str(Path(source.path).resolve())
    run = Migration(source.path, target.name)
    with target.db.transaction() as db:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {PROGRESS} ("
            " source TEXT NOT NULL, table_name TEXT NOT NULL, last_key TEXT NOT NULL,"
            " copied BIGINT NOT NULL, updated_at TEXT NOT NULL,"
            " PRIMARY KEY (source, table_name))"
        )
    tables = _plan(source.db, target.db)
    if not force:
        _refuse_other_data(target.db, origin, tables)
    # one snapshot of the source for the whole copy: a delivery the bot adds meanwhile cannot
    # arrive without its article
    source.db.execute("BEGIN")
    try:
        for name in tables:
            copy = _copy_table(source, target, origin, name, batch_size, progress)
            run.tables.append(copy)
    finally:
        source.db.execute("COMMIT")
    _advance_sequences(target.db, tables)
    run.seconds = time.monotonic() - started
    return run


def _tables(db: Database) -> set[str]:
    if db.dialect == "sqlite":
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'articles_fts%'"
        ).fetchall()
    else:
        rows = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _plan(source: Database, target: Database) -> list[str]:
    """The tables to copy, in order; refuses a schema this code does not know all of."""
    have, want = _tables(source), _tables(target)
    unknown = sorted((have | want) - set(TABLES) - set(SKIPPED) - set(_TARGET_ONLY))
    if unknown:
        raise MigrateError(
            f"bot/migrate.py does not know the table(s) {', '.join(unknown)}: add them to "
            "TABLES, parents first"
        )
    missing = [t for t in TABLES if t not in have or t not in want]
    if missing:
        raise MigrateError(f"table(s) {', '.join(missing)} missing from the source or the target")
    return list(TABLES)


def _refuse_other_data(target: Database, origin: str, tables: Sequence[str]) -> None:
    copied = {
        str(r[0]): int(r[1])
        for r in target.execute(
            f"SELECT table_name, copied FROM {PROGRESS} WHERE source = ?", (origin,)
        ).fetchall()
    }
    other = []
    for name in tables:
        held = int(target.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        if held > copied.get(name, 0):
            other.append(f"{name}: {held - copied.get(name, 0):,}")
    if other:
        raise MigrateError(
            "the target database already holds rows this migration did not copy ("
            + ", ".join(other)
            + "): migrate into a new, empty database, or pass --force to copy into this one "
            "anyway (rows whose keys are taken there are left as they are)"
        )


def _columns(source: Database, target: Database, name: str) -> tuple[list[str], list[str]]:
    """The columns to copy and the primary key's, as the source has them."""
    info = source.execute(f'PRAGMA table_info("{name}")').fetchall()
    columns = [str(r["name"]) for r in info]
    key = [str(r["name"]) for r in sorted(info, key=lambda r: int(r["pk"])) if int(r["pk"])]
    theirs = {
        str(r[0])
        for r in target.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (name,),
        ).fetchall()
    }
    lost = [c for c in columns if c not in theirs]
    if lost or not key:
        raise MigrateError(
            f"cannot copy {name}: "
            + (f"the target has no column {', '.join(lost)}" if lost else "it has no primary key")
        )
    extra = theirs - set(columns) - set(_DERIVED.get(name, ()))
    if extra:
        # a column the source lacks would be left at its default: the schemas went apart
        raise MigrateError(f"cannot copy {name}: the source has no column {', '.join(extra)}")
    return columns, key


def _types(target: Database, name: str) -> dict[str, str]:
    rows = target.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (name,),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _copy_table(
    source: Store,
    target: Store,
    origin: str,
    name: str,
    batch_size: int,
    progress: Progress | None,
) -> TableCopy:
    columns, key = _columns(source.db, target.db, name)
    types = _types(target.db, name)
    quoted = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{c}"' for c in key)
    keys = f"({order})"
    after = "(" + ", ".join("?" for _ in key) + ")"
    rows = int(source.db.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
    copy = TableCopy(name, rows)
    found = target.db.execute(
        f"SELECT last_key FROM {PROGRESS} WHERE source = ? AND table_name = ?", (origin, name)
    ).fetchone()
    last: list[Any] | None = json.loads(found[0]) if found else None
    if last is not None:
        copy.done = int(
            source.db.execute(
                f"SELECT count(*) FROM {name} WHERE {keys} <= {after}", last
            ).fetchone()[0]
        )
    positions = [columns.index(c) for c in key]
    insert = _Insert(name, columns, types, key[0])
    while True:
        where = f" WHERE {keys} > {after}" if last is not None else ""
        batch = source.db.execute(
            f"SELECT {quoted} FROM {name}{where} ORDER BY {order} LIMIT ?",
            (*(last or ()), batch_size),
        ).fetchall()
        if not batch:
            break
        values = [tuple(row) for row in batch]
        last = [values[-1][i] for i in positions]
        inserted, refused = _commit_batch(target, origin, name, insert, key, values, last)
        copy.done += len(values)
        copy.copied += inserted
        copy.refused += refused
        if progress is not None:
            progress(copy)
    copy.finished = True
    if progress is not None:
        progress(copy)
    return copy


class _Insert:
    """``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING key`` for a table.

    Each value is cast to its column's type: a column that is NULL in every row of a batch
    would otherwise be taken as text.
    """

    def __init__(self, name: str, columns: list[str], types: dict[str, str], key: str) -> None:
        self.columns = columns
        self.head = f"INSERT INTO {name} (" + ", ".join(f'"{c}"' for c in columns) + ") VALUES "
        self.row = "(" + ", ".join(f"?::{types[c]}" for c in columns) + ")"
        self.tail = f' ON CONFLICT DO NOTHING RETURNING "{key}"'
        self.per_statement = max(1, _MAX_PARAMS // len(columns))

    def run(self, db: Database, values: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Insert `values`; returns the first key column of the rows that were new."""
        new: list[Any] = []
        for start in range(0, len(values), self.per_statement):
            part = values[start : start + self.per_statement]
            sql = self.head + ", ".join([self.row] * len(part)) + self.tail
            params = [v for row in part for v in row]
            new += [r[0] for r in db.execute(sql, params).fetchall()]
        return new


def _refusals() -> tuple[type[Exception], ...]:
    """What PostgreSQL refuses of one row (a constraint; a value it cannot hold, such as a NUL
    character in text), as opposed to a server that is gone."""
    import psycopg

    return (psycopg.IntegrityError, psycopg.DataError)


def _commit_batch(
    target: Store,
    origin: str,
    name: str,
    insert: _Insert,
    key: list[str],
    values: list[tuple[Any, ...]],
    last: list[Any],
) -> tuple[int, int]:
    """Insert one batch, index its new articles and note its last key, in one transaction;
    a batch the target refuses goes again row by row, leaving out the rows it refuses.

    Returns:
        How many rows were new, and how many were refused.
    """
    refusals = _refusals()
    try:
        with target.db.transaction() as db:
            new = insert.run(db, values)
            _index(target, db, name, new)
            _note(db, origin, name, last, len(new))
        return len(new), 0
    except refusals as exc:
        log.warning(
            "%s: the batch up to key %s was refused (%s); copying it row by row", name, last, exc
        )
    copied = refused = 0
    with target.db.transaction() as db:
        for row in values:
            db.execute("SAVEPOINT migrate_row")
            try:
                new = insert.run(db, [row])
            except refusals as exc:
                db.execute("ROLLBACK TO SAVEPOINT migrate_row")
                refused += 1
                log.error("%s: row %s refused: %s", name, _key_of(row, insert, key), exc)
                continue
            db.execute("RELEASE SAVEPOINT migrate_row")
            _index(target, db, name, new)
            copied += len(new)
        _note(db, origin, name, last, copied)
    return copied, refused


def _key_of(row: tuple[Any, ...], insert: _Insert, key: list[str]) -> str:
    return ", ".join(f"{c}={row[insert.columns.index(c)]!r}" for c in key)


def _index(target: Store, db: Database, name: str, ids: Sequence[Any]) -> None:
    """Index new articles for search exactly as the store does when it adds one."""
    if name == "articles":
        for article_id in ids:
            target._index_article(db, int(article_id))


def _note(db: Database, origin: str, name: str, last: list[Any], copied: int) -> None:
    from bot.store.rows import to_iso, utc_now

    db.execute(
        f"INSERT INTO {PROGRESS} (source, table_name, last_key, copied, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, table_name) DO UPDATE SET"
        f" last_key = excluded.last_key, copied = {PROGRESS}.copied + excluded.copied,"
        " updated_at = excluded.updated_at",
        (origin, name, json.dumps(last), copied, to_iso(utc_now())),
    )


def _advance_sequences(target: Database, tables: Sequence[str]) -> None:
    """Set each identity past the largest id in its table (copied or not), never back."""
    for name in tables:
        for row in target.execute(
            "SELECT a.attname, pg_get_serial_sequence(?, a.attname) FROM pg_attribute a"
            " WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (name, name),
        ).fetchall():
            sequence = row[1]
            if sequence is None:
                continue
            column = str(row[0])
            high = target.execute(
                f'SELECT greatest(coalesce(max("{column}"), 0),'
                " coalesce(pg_sequence_last_value(?::regclass), 0)) FROM " + name,
                (sequence,),
            ).fetchone()[0]
            if int(high) > 0:
                target.execute("SELECT setval(?::regclass, ?)", (sequence, int(high)))


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``migrate`` subcommand of `bot.cli`."""
    p = sub.add_parser(
        "migrate",
        parents=[common],
        help="copy a SQLite database into PostgreSQL (resumable; run it again after a stop)",
        description="Copy every table of a SQLite database into a PostgreSQL one, in batches; "
        "a stopped run goes on where it stopped, and a finished one copies nothing again. "
        "Stop the bot first.",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="SQLITE",
        help="the SQLite database: a path or sqlite:///path.db (default: --db, or store.path)",
    )
    p.add_argument(
        "--to",
        dest="target",
        metavar="POSTGRESQL_URL",
        help="postgresql://user:password@host/db (default: store.url, NEWSBRIEF_STORE_URL)",
    )
    p.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"rows per transaction ({BATCH_SIZE})"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="copy into a database that already holds other rows (taken keys are left alone)",
    )


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """``python -m bot migrate``: 0 when every row is there, 1 when some were refused.

    Raises:
        StoreError: a store cannot be opened, or the migration is refused (exit 2 in the CLI).
    """
    from bot.store import is_postgres, open_store

    source = args.source or settings.store.path
    # [store] url arrives with replicas on PostgreSQL; a config without it needs --to
    configured = settings.store.url
    target = args.target or (configured if is_postgres(configured) else "")
    if not target:
        print(
            "error: migrate needs the PostgreSQL database: --to postgresql://user:password@host/db"
            " (or store.url / NEWSBRIEF_STORE_URL)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    check_targets(source, target)
    shown = _Shown(out, sys.stderr)
    with open_store(sqlite_path(source)) as old, open_store(target) as new:
        result = migrate(old, new, batch_size=args.batch_size, force=args.force, progress=shown)
    print(result.summary(), file=out)
    return EXIT_FAILED if result.refused else EXIT_OK


class _Shown:
    """Each finished table as a line of the output; on the way, its count on standard error
    (one line rewritten on a terminal, else a line per tenth of the table)."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.tty = err.isatty()
        self.shown = 0

    def __call__(self, table: TableCopy) -> None:
        if table.finished:
            if self.tty and self.shown:
                self.err.write("\r" + " " * 72 + "\r")
                self.err.flush()
            self.shown = 0
            print(table.line(), file=self.out, flush=True)
            return
        if self.tty:
            self.err.write(f"\r{table.line():<72}")
            self.shown = table.done
        elif table.done >= self.shown + max(1, table.rows // 10) and table.done < table.rows:
            self.err.write(table.line() + "\n")
            self.shown = table.done
        self.err.flush()
