"""A real PostgreSQL for the tests: one throwaway server per test session, a fresh database per
test.

The server comes from the `pgserver` package (PostgreSQL 16 in a wheel, a dev dependency), so
`make test` needs nothing installed by hand. With `NEWSBRIEF_TEST_PG_URL` set (a role that may
create databases), that server is used instead. A server that cannot start fails the tests that
need it: a PostgreSQL test is never skipped and counted as passed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ENV_URL = "NEWSBRIEF_TEST_PG_URL"

_lock = threading.Lock()
_server: tuple[str, object, str | None] | None = None  # (admin URL, server, its folder)


def admin_url() -> str:
    """The URL of a database on the test server in which new databases may be created."""
    global _server
    with _lock:
        if _server is None:
            given = os.environ.get(ENV_URL)
            if given:
                _server = (given, None, None)
            else:
                import pgserver

                # its INFO lines come from an atexit hook, after pytest has closed the streams
                logging.getLogger("pgserver").setLevel(logging.WARNING)
                folder = tempfile.mkdtemp(prefix="newsbrief-pg-")
                server = pgserver.get_server(folder, cleanup_mode="stop")
                _unsynced(server.get_uri())
                _server = (server.get_uri(), server, folder)
        return _server[0]


def _unsynced(url: str) -> None:
    """A throwaway server need not survive a machine crash: commits skip the disk flush, so a
    test's timing does not hang on a shared machine's busy disk."""
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")


def stop() -> None:
    """Stop the server started for this session (if one was), and remove its files."""
    global _server
    with _lock:
        if _server is None:
            return
        _, server, folder = _server
        _server = None
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (host, port, user and query kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the test server for the duration of the block: its URL."""
    admin = admin_url()
    name = "newsbrief_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
