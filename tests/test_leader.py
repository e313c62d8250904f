"""Leadership: one replica of several on a real PostgreSQL leads, and another takes over when
it goes, whether it closes, loses its connection or is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import psycopg

from bot.config import load_settings
from bot.leader import (
    PgLeadership,
    SoloLeadership,
    current_leader,
    leadership_for,
    process_name,
)

ROOT = Path(__file__).resolve().parent.parent
# A killed leader must be replaced within this many seconds (issue 16).
TAKEOVER_BOUND = 15.0


async def wait_until_leader(leadership: PgLeadership, within: float) -> float:
    """Seconds until `leadership` leads; fails after `within`."""
    started = time.monotonic()
    while not leadership.is_leader:
        assert time.monotonic() - started < within, f"{leadership.name} did not lead in {within}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_solo_leadership_always_leads() -> None:
    solo = SoloLeadership()
    heard: list[bool] = []
    solo.add_listener(heard.append)
    assert solo.is_leader and heard == []  # before start too: a job scheduled early runs
    await solo.start()
    await solo.start()
    assert solo.is_leader and heard == [True]
    await solo.aclose()
    assert solo.is_leader and heard == [True]


def test_leadership_follows_the_store_url() -> None:
    assert isinstance(leadership_for(load_settings(None, {})), SoloLeadership)
    sqlite = {"NEWSBRIEF_STORE_URL": "sqlite:///data/x.db"}
    assert isinstance(leadership_for(load_settings(None, sqlite)), SoloLeadership)
    pg = {"NEWSBRIEF_STORE_URL": "postgres://bot@db/news", "NEWSBRIEF_REPLICAS_LEASE_CHECK": "1"}
    chosen = leadership_for(load_settings(None, pg))
    assert isinstance(chosen, PgLeadership) and chosen.check == 1.0
    assert chosen.name == process_name()
    assert process_name().startswith("newsbrief:") and process_name().endswith(f":{os.getpid()}")


async def test_one_of_two_replicas_leads_and_the_other_takes_over_when_it_closes(
    pg_url: str,
) -> None:
    first = PgLeadership(pg_url, check=0.5, name="newsbrief:test:1")
    second = PgLeadership(pg_url, check=0.5, name="newsbrief:test:2")
    heard: list[tuple[str, bool]] = []
    first.add_listener(lambda leading: heard.append(("first", leading)))
    second.add_listener(lambda leading: heard.append(("second", leading)))
    try:
        await first.start()
        await second.start()
        assert first.is_leader and not second.is_leader
        await asyncio.sleep(1.2)  # a few tries of the follower change nothing
        assert first.is_leader and not second.is_leader
        assert await asyncio.to_thread(current_leader, pg_url) == "newsbrief:test:1"

        await first.aclose()
        await wait_until_leader(second, within=5)
        assert heard == [("first", True), ("first", False), ("second", True)]
        assert await asyncio.to_thread(current_leader, pg_url) == "newsbrief:test:2"
    finally:
        await first.aclose()
        await second.aclose()
    assert await asyncio.to_thread(current_leader, pg_url) is None


async def test_a_leader_that_loses_its_connection_steps_down_and_another_leads(
    pg_url: str,
) -> None:
    first = PgLeadership(pg_url, check=0.5, name="newsbrief:test:1")
    second = PgLeadership(pg_url, check=0.5, name="newsbrief:test:2")
    try:
        await first.start()
        await second.start()
        assert first.is_leader and not second.is_leader
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'newsbrief:test:1'"
            )
        took = await wait_until_leader(second, within=TAKEOVER_BOUND)
        started = time.monotonic()
        while first.is_leader:  # the old leader notices at its next check
            assert time.monotonic() - started < 5, "the old leader did not step down"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)  # it reconnects and follows: one leader still
        assert second.is_leader and not first.is_leader
        assert await asyncio.to_thread(current_leader, pg_url) == "newsbrief:test:2"
        print(f"took over in {took:.2f} s")
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_database_that_cannot_be_reached_leaves_the_replica_following() -> None:
    with_port = "postgresql://newsbrief@127.0.0.1:1/newsbrief"
    leadership = PgLeadership(with_port, check=0.5)
    await leadership.start()  # logs and keeps trying: no exception
    assert not leadership.is_leader
    await asyncio.sleep(0.7)
    assert not leadership.is_leader
    await leadership.aclose()


CHILD = """
import asyncio, sys
from bot.leader import PgLeadership

async def main():
    leadership = PgLeadership(sys.argv[1], check=0.5)
    await leadership.start()
    while not leadership.is_leader:
        await asyncio.sleep(0.05)
    print("leading", leadership.name, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_leader_killed_with_sigkill_is_replaced_within_the_bound(pg_url: str) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        pg_url,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    ours = PgLeadership(pg_url)  # the default check, as a replica runs it
    try:
        line = (await asyncio.wait_for(child.stdout.readline(), 30)).decode()
        assert line.startswith("leading newsbrief:"), line
        child_name = line.split()[1]
        assert child_name.endswith(f":{child.pid}")
        await ours.start()
        assert not ours.is_leader
        assert await asyncio.to_thread(current_leader, pg_url) == child_name

        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
        took = await wait_until_leader(ours, within=TAKEOVER_BOUND)
        assert await asyncio.to_thread(current_leader, pg_url) == ours.name
        print(f"took over {took:.2f} s after SIGKILL")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await ours.aclose()
