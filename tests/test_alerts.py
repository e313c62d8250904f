"""Failures told to people: a channel whose digests keep failing and a feed that keeps failing
get one notice in the channel (the real Slack adapter against the fake), and one more when it
works again; `/sources` and the readiness body show the same state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.slack import SlackAdapter
from bot import commands
from bot.alerts import Alerts
from bot.config import AlertSettings, Secrets, Settings, SlackSettings
from bot.delivery import Delivery
from bot.engine import Engine
from bot.health import HealthServer
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef, Subscription
from bot.scheduler import Scheduler
from bot.store import Store
from tests.servers import LoopbackServer
from tests.slack_fakes import SIGNING_SECRET, FakeSlack
from tests.test_scheduler import Clock, _rss

CHANNEL = ChannelRef("slack", "C1")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as running:
        yield running


def _settings(fake: FakeSlack) -> Settings:
    return replace(
        Settings(),
        slack=SlackSettings(mode="http", port=0, api_base_url=fake.api_url),
        secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET),
        alerts=AlertSettings(after_failures=2),
    )


async def _sources(store: Store, settings: Settings) -> str:
    ctx = Engine(store, settings, FetchPolicy()).context(CHANNEL)
    return (await commands.handle(ctx, "/sources")).text


async def test_a_channel_whose_digests_fail_is_told_once_and_when_they_work_again(
    seeded_store: Store, fake: FakeSlack
) -> None:
    store, settings = seeded_store, _settings(fake)
    adapter = SlackAdapter(Engine(store, settings, FetchPolicy()))
    alerts = Alerts(store, settings, {"slack": adapter.post_notice})
    delivery = Delivery.from_settings(store, settings, {"slack": adapter}, alerts=alerts)
    fake.errors["chat.postMessage"] = ["invalid_blocks", "invalid_blocks"]
    now = datetime.now(UTC)
    assert (await delivery.send(CHANNEL, "s1", now=now)).status == "failed"
    assert await alerts.flush() == 0  # one failure is not news yet
    [again] = await delivery.retry_due(now + timedelta(seconds=31))
    assert again.status == "failed"
    assert await alerts.flush() == 1
    [notice] = fake.kept("C1")
    assert (
        "could not post this channel's digest: invalid_blocks (2 failed attempts since"
        in (notice["text"])
    )
    assert "It tries again at" in notice["text"]
    assert await alerts.flush() == 0  # told once
    assert "Digests: failing since" in await _sources(store, settings)
    _, body = await HealthServer(store, settings).readiness()
    assert body["digests"]["slack:C1"]["failures"] == 2
    assert body["digests"]["slack:C1"]["notified"] is True

    [sent] = await delivery.retry_due(now + timedelta(minutes=3))
    assert sent.status == "sent"
    assert await alerts.flush() == 1
    recovered = fake.kept("C1")[-1]["text"]
    assert "posts digests to this channel again" in recovered
    assert await alerts.flush() == 0
    assert len([m for m in fake.kept("C1") if "newsbrief" in m["text"]]) == 2
    assert "Digests:" not in await _sources(store, settings)
    _, body = await HealthServer(store, settings).readiness()
    assert body["digests"] == {}


async def test_a_failing_feed_is_told_to_its_channel_once_and_its_recovery_too(
    tmp_path: Path, fake: FakeSlack, loopback: LoopbackServer
) -> None:
    settings = _settings(fake)
    feed = loopback.url("/feed.xml")  # nothing there yet: 404
    clock = Clock(datetime.now(UTC))
    with Store.open(tmp_path / "bot.db") as store:
        store.add_subscription(Subscription("slack", "C1", feed))
        adapter = SlackAdapter(Engine(store, settings, FetchPolicy()))
        alerts = Alerts(store, settings, {"slack": adapter.post_notice}, clock=clock)
        scheduler = Scheduler(
            store,
            settings,
            {"slack": adapter},
            policy=loopback.policy(),
            clock=clock,
            alerts=alerts,
        )
        await scheduler.poll_feeds()
        assert fake.kept("C1") == []
        clock.now += timedelta(minutes=16)  # past the poll interval and its backoff
        await scheduler.poll_feeds()
        [notice] = fake.kept("C1")
        assert f"cannot read the feed {feed}: HTTP 404" in notice["text"]
        assert "(2 failed polls since" in notice["text"] and "tries again at" in notice["text"]
        assert "failing since" in await _sources(store, settings)
        _, body = await HealthServer(store, settings).readiness()
        assert body["feeds"][feed]["error_count"] == 2 and body["feeds"][feed]["notified"]

        clock.now += timedelta(minutes=16)
        await scheduler.poll_feeds()
        assert store.get_feed_state(feed).error_count == 3  # type: ignore[union-attr]
        assert len(fake.kept("C1")) == 1  # still failing: not told again
        loopback.add("/feed.xml", body=_rss(loopback), content_type="application/rss+xml")
        clock.now += timedelta(minutes=31)
        await scheduler.poll_feeds()
        notices = fake.kept("C1")
        assert len(notices) == 2
        assert f"reads the feed {feed} again" in notices[-1]["text"]
        assert "failing since" not in await _sources(store, settings)
