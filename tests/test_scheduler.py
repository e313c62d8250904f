"""Scheduling: cron jobs per channel rebuilt from the database, missed digests, feed polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, load_settings
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef, ChannelSettings, Digest, Receipt
from bot.scheduler import Scheduler, job_id, previous_slot
from bot.store import Store
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("slack", "C1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.posts: list[tuple[ChannelRef, Digest]] = []

    async def post(self, channel: ChannelRef, digest: Digest) -> Receipt:
        self.posts.append((channel, digest))
        return Receipt(channel)


@pytest.fixture
def store(seeded_store: Store) -> Store:
    return seeded_store


def test_previous_slot_in_the_channels_time_zone() -> None:
    kyiv = ChannelSettings(CHANNEL, digest_time="07:30", timezone="Europe/Kyiv")
    # 05:00 UTC is 08:00 in Kyiv (winter, UTC+2): today's 07:30 Kyiv slot has passed
    assert previous_slot(kyiv, datetime(2026, 1, 5, 6, 0, tzinfo=UTC)) == datetime(
        2026, 1, 5, 5, 30, tzinfo=UTC
    )
    # 05:00 UTC is 07:00 in Kyiv: the last slot was yesterday's
    assert previous_slot(kyiv, datetime(2026, 1, 5, 5, 0, tzinfo=UTC)) == datetime(
        2026, 1, 4, 5, 30, tzinfo=UTC
    )
    # summer time (UTC+3) moves the UTC slot an hour earlier
    assert previous_slot(kyiv, datetime(2026, 7, 5, 6, 0, tzinfo=UTC)) == datetime(
        2026, 7, 5, 4, 30, tzinfo=UTC
    )
    assert previous_slot(ChannelSettings(CHANNEL), datetime(2026, 1, 1, tzinfo=UTC)) is None


async def test_jobs_are_rebuilt_from_the_database_with_the_channel_time_zone(
    store: Store,
) -> None:
    store.put_channel(ChannelSettings(CHANNEL, digest_time="07:30", timezone="Europe/Kyiv"))
    store.put_channel(ChannelSettings(ChannelRef("slack", "C2"), digest_time="09:00"))
    store.put_channel(ChannelSettings(ChannelRef("discord", "9"), digest_time="09:00"))
    store.put_channel(
        ChannelSettings(ChannelRef("slack", "C3"), digest_time="10:00", enabled=False)
    )
    platform = Recorder()
    clock = Clock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(
        store, Settings(), {"slack": platform.post}, policy=FetchPolicy(), clock=clock
    )
    await scheduler.start(poll=False)
    try:
        job = scheduler._aps.get_job(job_id(CHANNEL))
        assert job is not None
        assert str(job.trigger.timezone) == "Europe/Kyiv"
        assert {f.name: str(f) for f in job.trigger.fields}["hour"] == "7"
        assert {f.name: str(f) for f in job.trigger.fields}["minute"] == "30"
        next_run = scheduler.next_run(CHANNEL)
        assert next_run is not None
        assert next_run.astimezone(ZoneInfo("Europe/Kyiv")).strftime("%H:%M") == "07:30"
        assert scheduler.next_run(ChannelRef("slack", "C2")) is not None
        # no adapter for discord in this process, and C3 was disabled by the platform
        assert scheduler.next_run(ChannelRef("discord", "9")) is None
        assert scheduler.next_run(ChannelRef("slack", "C3")) is None
        # turning a digest off removes its job
        scheduler.schedule(ChannelSettings(CHANNEL, digest_time=None))
        assert scheduler.next_run(CHANNEL) is None
    finally:
        scheduler.shutdown()


async def test_job_sends_the_slot_once_even_when_run_twice(store: Store) -> None:
    store.put_channel(ChannelSettings(CHANNEL, digest_time="07:30", timezone="UTC"))
    platform = Recorder()
    clock = Clock(datetime(2026, 1, 5, 7, 30, 2, tzinfo=UTC))
    scheduler = Scheduler(
        store, Settings(), {"slack": platform.post}, policy=FetchPolicy(), clock=clock
    )
    first = await scheduler.run_digest("slack", "C1")
    second = await scheduler.run_digest("slack", "C1")
    assert first is not None and first.status == "sent"
    assert second is not None and second.status == "skipped"
    assert len(platform.posts) == 1
    assert store.digest_run(CHANNEL, "2026-01-05T07:30Z") is not None


async def test_missed_digest_is_sent_at_start_within_the_grace_period(store: Store) -> None:
    store.put_channel(ChannelSettings(CHANNEL, digest_time="07:30", timezone="UTC"))
    late = ChannelRef("slack", "C2")
    store.put_channel(ChannelSettings(late, digest_time="02:00", timezone="UTC"))
    platform = Recorder()
    # the process comes back at 08:00: C1's 07:30 is 30 min late (inside the 1 h grace);
    # C2's 02:00 is 6 h late and is skipped rather than delivered stale
    clock = Clock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    scheduler = Scheduler(
        store, Settings(), {"slack": platform.post}, policy=FetchPolicy(), clock=clock
    )
    await scheduler.start(poll=False)
    scheduler.shutdown()
    assert [ch for ch, _ in platform.posts] == [CHANNEL]
    # a second start (or a second process) does not send it again
    again = Scheduler(
        store, Settings(), {"slack": platform.post}, policy=FetchPolicy(), clock=clock
    )
    await again.start(poll=False)
    again.shutdown()
    assert len(platform.posts) == 1


async def test_feeds_are_polled_on_the_interval_with_backoff(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    good = loopback.add("/good.xml", body=_rss(loopback), content_type="application/rss+xml")
    bad = loopback.url("/missing.xml")
    settings = load_settings(
        None, {"NEWSBRIEF_FEEDS_URLS": f"{good},{bad}", "NEWSBRIEF_FEEDS_POLL_INTERVAL": "600"}
    )
    clock = Clock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    with Store.open(tmp_path / "bot.db") as store:
        scheduler = Scheduler(store, settings, {}, policy=loopback.policy(), clock=clock)
        result = await scheduler.poll_feeds()
        assert result is not None and len(result.added) == 1
        assert [f[0] for f in result.failures] == [bad]
        failing = store.get_feed_state(bad)
        assert failing is not None and failing.error_count == 1 and failing.next_poll
        # five minutes later: the good feed's interval has not passed, the bad one backs off
        clock.now += timedelta(minutes=5)
        assert scheduler.feeds_to_poll(clock.now) == []
        clock.now += timedelta(minutes=6)
        assert scheduler.feeds_to_poll(clock.now) == [good, bad]
        await scheduler.poll_feeds()
        failing = store.get_feed_state(bad)
        assert failing is not None and failing.error_count == 2
        assert len(loopback.requests_for("/good.xml")) == 2


def _rss(loopback: LoopbackServer) -> str:
    link = loopback.url("/story")
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Poll Wire</title>
<link>{link}</link><description>d</description>
<item><title>Bridge reopens after repairs</title><link>{link}</link>
<description>The old bridge reopened on Monday after eight months of repairs costing 4 million
euros. Buses return to the route next week. The city said the repairs add 40 years to the life of
the bridge, which carries 20,000 vehicles a day.</description></item></channel></rss>"""
