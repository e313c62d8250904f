"""Several replicas: only the leader (a real PostgreSQL advisory lock) runs the daily digests,
follows the schedules changed on followers, and hands them over when it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
import pytest

from bot.config import Settings, load_settings
from bot.ingest.http import FetchPolicy
from bot.leader import PgLeadership
from bot.models import ChannelRef, ChannelSettings
from bot.scheduler import REFRESH_JOB, RETRY_JOB, Scheduler
from bot.store import Store
from tests.test_scheduler import Clock, Recorder

C1 = ChannelRef("slack", "C1")
C2 = ChannelRef("slack", "C2")
C3 = ChannelRef("slack", "C3")
KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture
def store(seeded_store: Store) -> Store:
    return seeded_store


@pytest.fixture
def settings() -> Settings:
    return load_settings(None, {"NEWSBRIEF_REPLICAS_SCHEDULE_REFRESH": "1"})


MakeReplica = Callable[[str], Scheduler]


@pytest.fixture
async def replicas(
    store: Store, settings: Settings, pg_url: str
) -> AsyncIterator[tuple[MakeReplica, Recorder]]:
    """Schedulers that share the store and a PostgreSQL lock, as replicas do; closed after."""
    platform = Recorder()
    # C1's 07:30 digest is 30 min overdue when the replicas start (inside the grace period)
    clock = Clock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    made: list[Scheduler] = []

    def make(name: str) -> Scheduler:
        scheduler = Scheduler(
            store,
            settings,
            {"slack": platform.post},
            policy=FetchPolicy(),
            clock=clock,
            leadership=PgLeadership(pg_url, check=0.5, name=f"newsbrief:test:{name}"),
        )
        made.append(scheduler)
        return scheduler

    yield make, platform
    for scheduler in made:
        await scheduler.close()


async def eventually(condition: Callable[[], bool], within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not within {within}s: {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_only_the_leader_runs_digests_and_follows_changes_made_on_a_follower(
    store: Store, replicas: tuple[MakeReplica, Recorder]
) -> None:
    make, platform = replicas
    store.put_channel(ChannelSettings(C1, digest_time="07:30", timezone="UTC"))
    first, second = make("1"), make("2")
    await first.start(poll=False)
    await second.start(poll=False)
    assert first.leadership.is_leader and not second.leadership.is_leader
    assert first.next_run(C1) is not None and second.next_run(C1) is None
    assert first._aps.get_job(REFRESH_JOB) is not None and second._aps.get_job(REFRESH_JOB) is None
    # retries run on every replica; the missed 07:30 digest was sent once, by the leader
    assert second._aps.get_job(RETRY_JOB) is not None
    assert [channel for channel, _ in platform.posts] == [C1]

    # /digest on the follower: stored, not scheduled there; the leader follows at its refresh
    store.put_channel(ChannelSettings(C2, digest_time="09:00", timezone="Europe/Kyiv"))
    second.schedule(store.get_channel(C2))
    assert second.next_run(C2) is None
    await eventually(lambda: first.next_run(C2) is not None, 5, "the leader schedules C2")
    at = first.next_run(C2)
    assert at is not None and f"{at.astimezone(KYIV):%H:%M}" == "09:00"
    # a moved and a stopped schedule are followed too
    store.put_channel(ChannelSettings(C2, digest_time="10:15", timezone="Europe/Kyiv"))
    store.put_channel(ChannelSettings(C1, digest_time=None))
    await eventually(lambda: first.next_run(C1) is None, 5, "the leader drops C1")
    moved = first.next_run(C2)
    assert moved is not None and f"{moved.astimezone(KYIV):%H:%M}" == "10:15"

    # the leader stops: the follower takes the schedule over, catches up on what is due and
    # not sent (C3's 07:45, set after the old leader's start), and sends nothing twice
    store.put_channel(ChannelSettings(C3, digest_time="07:45", timezone="UTC"))
    await first.close()
    await eventually(lambda: second.leadership.is_leader, 5, "the follower leads")
    await eventually(lambda: second.next_run(C2) is not None, 5, "the new leader schedules C2")
    assert second._aps.get_job(REFRESH_JOB) is not None
    assert first.next_run(C2) is None
    await eventually(lambda: len(platform.posts) == 2, 5, "the new leader catches up")
    assert [channel for channel, _ in platform.posts] == [C1, C3]


async def test_a_leader_that_loses_the_lead_drops_its_digest_jobs(
    store: Store, replicas: tuple[MakeReplica, Recorder], pg_url: str
) -> None:
    make, _ = replicas
    store.put_channel(ChannelSettings(C1, digest_time="07:30", timezone="UTC"))
    first, second = make("1"), make("2")
    await first.start(poll=False)
    await second.start(poll=False)
    assert first.next_run(C1) is not None
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'newsbrief:test:1'"
        )
    await eventually(lambda: second.next_run(C1) is not None, 15, "the follower takes over")
    await eventually(lambda: first.next_run(C1) is None, 5, "the old leader drops its jobs")
    assert first._aps.get_job(REFRESH_JOB) is None
    # a digest job that fires on a replica that no longer leads sends nothing
    assert await first.run_digest("slack", "C1") is None


async def test_run_on_postgresql_leads_by_the_lock_and_gives_it_up_at_stop(
    seeded_store: Store, pg_url: str
) -> None:
    from dataclasses import replace

    from bot.app import run_platforms
    from bot.config import StoreSettings
    from bot.leader import current_leader, process_name
    from tests.test_run import free_port
    from tests.test_shutdown import SlowAdapter, _due_digest

    _due_digest(seeded_store)
    adapter = SlowAdapter()
    port = free_port()
    settings = replace(
        load_settings(None, {"NEWSBRIEF_HEALTH_PORT": str(port)}),
        store=StoreSettings(seeded_store.path, url=pg_url),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_platforms(settings, seeded_store, [], stop=stop, adapters=[adapter])
    )
    try:
        await asyncio.wait_for(adapter.posting.wait(), 10)  # the leader caught up
        assert await asyncio.to_thread(current_leader, pg_url) == process_name()
        # `python -m bot health` shows /readyz: which replica leads, and that it is this one
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/readyz") as response,
        ):
            body = await response.json()
        assert body["leader"] == {"this_replica": True, "name": process_name()}
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
    assert len(adapter.posted) == 1
    assert await asyncio.to_thread(current_leader, pg_url) is None
