"""Shared fixtures. `loopback` is a real HTTP server on 127.0.0.1; see tests/servers.py.
`seeded_store` is a real SQLite file holding the articles of `seeds/`, each with its briefing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ingest.files import iter_files, read_file
from bot.models import Article
from bot.store import Store
from bot.summarize import summarize
from tests.servers import LoopbackServer

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


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
