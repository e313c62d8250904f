"""The connection layer both backends implement: run SQL, run it in a write transaction.

Shared SQL is written once, with ``?`` placeholders and syntax both SQLite and PostgreSQL accept
(``INSERT ... ON CONFLICT``, ``RETURNING``, ``IS NOT DISTINCT FROM``); the PostgreSQL layer
turns ``?`` into ``%s``. Rows answer both ``row["col"]`` and ``row[0]``. Dates are ISO-8601 TEXT
in UTC on both backends, so one set of row mappers (`bot.store.rows`) serves both.

Example:
    with store.db.transaction() as db:
        db.execute("UPDATE feeds SET title = ? WHERE url = ?", (title, url))
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Row(Protocol):
    """A result row: by column name or by position (`sqlite3.Row` and `PgRow` both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """What a statement gives back: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """One database as the store's rooms use it.

    Attributes:
        dialect: ``"sqlite"`` or ``"postgres"``, for the few statements that differ.
        fault: the last write the database refused, until one succeeds again.
    """

    dialect: str
    fault: str | None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (in the caller's transaction, if this thread is in one)."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        """Run one statement for each of `rows`; `rowcount` is the total changed."""
        ...

    def transaction(self) -> AbstractContextManager[Database]:
        """A write transaction, committed at the end of the block and rolled back on an
        exception; a write the database refuses raises `StoreFaultError`."""
        ...


class Room:
    """What every room of the store (articles, stories, ...) is built on: a `Database`."""

    db: Database

    def transaction(self) -> AbstractContextManager[Database]:
        return self.db.transaction()


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`values` in slices of `size`: SQLite caps bound parameters (32766 by default) and
    PostgreSQL at 65535; stay far below both."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(values: Sequence[object]) -> str:
    """``?`` placeholders for `values`."""
    return ",".join("?" * len(values))


_LITERAL_OR_MARK = re.compile(r"'(?:[^']|'')*'|\?|%")


def to_pyformat(sql: str) -> str:
    """SQL with ``?`` placeholders as psycopg takes it: ``%s``, and ``%`` doubled (string
    literals are left alone)."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _LITERAL_OR_MARK.sub(swap, sql)
