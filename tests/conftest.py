"""Shared fixtures. `loopback` is a real HTTP server on 127.0.0.1; see tests/servers.py.
`seeded_store` is a real SQLite file holding the articles of `seeds/`, each with its briefing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ingest.files import iter_files, read_file
from bot.models import Article
from bot.store import Store
from bot.summarize import summarize
from tests import pg
from tests.servers import LoopbackServer

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CLUSTERS_SAMPLE = Path(__file__).resolve().parent / "data" / "clusters_sample.jsonl"


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


@pytest.fixture
def seeded_store(tmp_path: Path) -> Iterator[Store]:
    """The seeds stored article by article (not grouped into stories: see test_cluster)."""
    with Store.open(tmp_path / "seeded.db") as store:
        for path in iter_files(SEEDS):
            for item in read_file(path):
                assert isinstance(item, Article), item
                store.add_article(item, summarize(item.text, item.title or None))
        yield store


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (see tests/pg.py): its URL."""
    with pg.fresh_database() as url:
        yield url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.stop()
