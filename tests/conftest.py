"""Shared fixtures. `loopback` is a real HTTP server on 127.0.0.1; see tests/servers.py.
`seeded_store` is a real SQLite file holding the articles of `seeds/`, each with its briefing.
`db_target` (and `any_store` on it) runs a test once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ingest.files import iter_files, read_file
from bot.logs import RedactingFilter
from bot.models import Article
from bot.store import Store, open_store
from bot.summarize import summarize
from tests import pg
from tests.servers import LoopbackServer

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CLUSTERS_SAMPLE = Path(__file__).resolve().parent / "data" / "clusters_sample.jsonl"


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """A test that runs the bot in pytest's process (`run_platforms`) freezes what was built
    until then (`gc.freeze()`, as `run` does): thaw it after the test, so the objects of one
    test are not kept from collection through all the others."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _own_logging_removed() -> Iterator[None]:
    """A test that runs the CLI in pytest's process sets up the bot's logging
    (`configure_logging`): a handler on the root logger writing to that test's captured
    stderr, closed once the test ends. Remove it, and put the root level back, so later tests
    neither log into a closed file nor run at another level."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in root.handlers[:]:
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            root.removeHandler(handler)
    root.setLevel(level)


def write_dev_events(folder: Path) -> tuple[Path, list[tuple[str, dict[str, str]]]]:
    """Eight real events of the story-grouping dev set (three outlets each, in pairs that share
    a subject and a day or two), written as one JSON Lines file the real ingest reads.

    Returns:
        The file, and each report with its event id, oldest first.
    """
    events = [json.loads(line) for line in CLUSTERS_SAMPLE.read_text("utf-8").splitlines()]
    reports = sorted(
        ((e["cluster_id"], a) for e in events for a in e["articles"]), key=lambda x: x[1]["date"]
    )
    path = folder / "reports.jsonl"
    rows = (
        {
            "title": a["title"],
            "text": a["text"],
            "url": a["url"],
            "published": a["date"],
            "source": a["outlet"],
        }
        for _, a in reports
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, reports


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A fresh loopback HTTP server per test: ``loopback.add(path, body=...)`` -> URL."""
    with LoopbackServer() as server:
        yield server


def add_seeds(store: Store) -> Store:
    """Store the seeds article by article, each with its briefing."""
    for path in iter_files(SEEDS):
        for item in read_file(path):
            assert isinstance(item, Article), item
            store.add_article(item, summarize(item.text, item.title or None))
    return store


@pytest.fixture
def seeded_store(tmp_path: Path) -> Iterator[Store]:
    """The seeds stored article by article (not grouped into stories: see test_cluster)."""
    with Store.open(tmp_path / "seeded.db") as store:
        yield add_seeds(store)


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's database is, once per backend: an SQLite file's path (not created yet),
    then a fresh PostgreSQL database's URL. `open_store` opens either."""
    if request.param == "sqlite":
        yield str(tmp_path / "bot.db")
    else:
        with pg.fresh_database() as url:
            yield url


@pytest.fixture
def any_store(db_target: str) -> Iterator[Store]:
    """An empty store, once on SQLite and once on PostgreSQL."""
    with open_store(db_target) as store:
        yield store


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (see tests/pg.py): its URL."""
    with pg.fresh_database() as url:
        yield url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.stop()
