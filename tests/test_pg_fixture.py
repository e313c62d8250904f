"""The test PostgreSQL itself: a real server, a fresh database per test."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests import pg


def test_each_test_gets_its_own_empty_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert version is not None and int(version[0].split(".")[0]) >= 14
    assert tables == (0,)


def test_the_throwaway_server_does_not_wait_on_the_disk(pg_url: str) -> None:
    if os.environ.get(pg.ENV_URL):
        pytest.skip("a server given by NEWSBRIEF_TEST_PG_URL is left as its operator set it")
    with psycopg.connect(pg_url) as conn:
        shown = [
            conn.execute(f"SHOW {name}").fetchone() for name in ("fsync", "synchronous_commit")
        ]
    assert shown == [("off",), ("off",)]
