"""Shared fixtures. `loopback` is a real HTTP server on 127.0.0.1; see tests/servers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A fresh loopback HTTP server per test: ``loopback.add(path, body=...)`` -> URL."""
    with LoopbackServer() as server:
        yield server
