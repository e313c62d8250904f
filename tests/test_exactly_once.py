"""Exactly once, part by part, on both platforms: the real adapters against loopback fakes that
accept a message and then fail (a 5xx, a dropped connection), or kill the sender right after
accepting, before it can record the part."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from bot.config import DiscordSettings, Secrets, Settings, SlackSettings
from bot.delivery import Delivery
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef
from bot.store import Store, open_store
from tests.discord_fakes import FakeDiscord, Planned
from tests.slack_fakes import SIGNING_SECRET, FakeSlack
from tests.stories import add_stories

ROOT = Path(__file__).resolve().parent.parent
SLACK = ChannelRef("slack", "C1")
DISCORD = ChannelRef("discord", "123")


@pytest.fixture
def store(db_target: str) -> Iterator[Store]:
    """100 stories, on SQLite and on PostgreSQL."""
    with open_store(db_target) as opened:
        add_stories(opened, 100)
        yield opened


def slack_settings(fake: FakeSlack) -> Settings:
    return Settings(
        slack=SlackSettings(mode="http", port=0, api_base_url=fake.api_url),
        secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET),
    )


def discord_settings(fake: FakeDiscord) -> Settings:
    return Settings(
        discord=DiscordSettings(**fake.urls()), secrets=Secrets(discord_bot_token="test-token")
    )


def one_each(found: list[tuple[str, int]], count: int) -> bool:
    """Each of `count` parts of one run, once, in order."""
    return len({run for run, _ in found}) == 1 and [p for _, p in found] == list(range(count))


async def test_slack_parts_accepted_then_failed_are_found_not_posted_twice(
    store: Store,
) -> None:
    async with FakeSlack() as fake:
        adapter = SlackAdapter(Engine(store, slack_settings(fake), FetchPolicy()))
        adapter._reconcile_delay = 0.0
        # the 2nd message is kept and answered 503; the 4th kept and its connection dropped
        fake.accept_then = ["", "503", "", "drop"]
        outcome = await Delivery(store, {"slack": adapter}, max_stories=100).send(SLACK, "s1")
        assert outcome.status == "sent", outcome.detail
        parts = store.run_parts(store.digest_run(SLACK, "s1").id)  # type: ignore[union-attr]
        assert len(parts) == 7
        assert one_each(fake.parts("C1"), 7)
        # looked up, not posted again: one post a part, and the thread keeps its parent
        assert len([c for c in fake.calls if c.method == "chat.postMessage"]) == 7
        top, *rest = fake.kept("C1")
        assert {m["thread_ts"] for m in rest} == {top["ts"]}
        assert [p.message_id for p in parts] == [m["ts"] for m in fake.kept("C1")]


async def test_discord_parts_retried_after_5xx_or_a_dropped_connection_are_not_duplicated(
    store: Store,
) -> None:
    async with FakeDiscord() as fake:
        adapter = DiscordAdapter(
            Engine(store, discord_settings(fake), FetchPolicy()),
            guild_ready_timeout=0.01,
            resend_delay=0.0,
        )
        await adapter.start()
        try:
            delivery = Delivery(store, {"discord": adapter}, max_stories=100)
            # part 2 made then 500 (discord.py retries it), part 3 made then 503 and part 4
            # made and its connection dropped (the adapter sends them again at once)
            fake.accept_then = ["", "500", "503", "drop"]
            outcome = await delivery.send(DISCORD, "s1")
            assert outcome.status == "sent", outcome.detail
            # Discord down for a while at part 3 of another digest: the core retries it later
            down = Planned(503, {"message": "Service Unavailable", "code": 0})
            fake.plan("/channels/124/messages", None, None, down, down)
            other = ChannelRef("discord", "124")
            now = datetime.now(UTC)
            failed = await delivery.send(other, "s1", now=now)
            assert failed.status == "failed" and "part 3" in failed.detail
            [resumed] = await delivery.retry_due(now + timedelta(minutes=1))
            assert resumed.status == "sent"
        finally:
            await adapter.close()
    made = fake.messages_in("123")
    assert len(made) == 10
    assert len({m["nonce"] for m in made}) == 10
    # every repeated create carried the first one's nonce, which Discord enforced
    creates = fake.channel_posts("123")
    assert len(creates) == 13
    assert all(c.body["enforce_nonce"] is True for c in creates)
    assert len({c.body["nonce"] for c in creates}) == 10
    assert [m["content"] for m in made][1:] == [f"(continued, {n}/10)" for n in range(2, 11)]
    assert len(fake.messages_in("124")) == 10


SENDER = """
import asyncio, sys
from bot.config import DiscordSettings, Secrets, Settings, SlackSettings
from bot.delivery import Delivery
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef
from bot.store import Store, open_store

async def main(path, platform, url, gateway):
    store = open_store(path)
    if platform == "slack":
        from adapters.slack import SlackAdapter
        settings = Settings(
            slack=SlackSettings(mode="http", api_base_url=url),
            secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret="s"),
        )
        adapter = SlackAdapter(Engine(store, settings, FetchPolicy()))
        channel = ChannelRef("slack", "C1")
    else:
        from adapters.discord import DiscordAdapter
        settings = Settings(
            discord=DiscordSettings(api_base_url=url, gateway_url=gateway),
            secrets=Secrets(discord_bot_token="test-token"),
        )
        adapter = DiscordAdapter(Engine(store, settings, FetchPolicy()), guild_ready_timeout=0.01)
        await adapter.start()
        channel = ChannelRef("discord", "123")
    await Delivery(store, {platform: adapter}, max_stories=100).send(channel, "s1")

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.parametrize("platform", ["slack", "discord"])
async def test_a_sender_killed_between_accept_and_record_resumes_without_a_duplicate(
    store: Store, db_target: str, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    channel = SLACK if platform == "slack" else DISCORD
    fake: FakeSlack | FakeDiscord
    async with FakeSlack() if platform == "slack" else FakeDiscord() as fake:
        if isinstance(fake, FakeSlack):
            url, gateway = fake.api_url, ""
        else:
            url, gateway = fake.urls()["api_base_url"], fake.urls()["gateway_url"]
        sender = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SENDER, db_target, platform, url, gateway, cwd=ROOT
        )
        # the platform keeps the 3rd part, and the sender dies before it hears so
        fake.kill_after = (sender.pid, 3)
        if isinstance(fake, FakeDiscord):
            # a restart after Discord forgot the nonce: only looking in the channel helps
            fake.nonce_window = 0.0
        assert await asyncio.wait_for(sender.wait(), 60) == -9
        run = store.digest_run(channel, "s1")
        assert run is not None and run.status == "claimed" and run.parts_sent == 2
        assert [p.status for p in store.run_parts(run.id)][:4] == [
            "sent",
            "sent",
            "sending",
            "planned",
        ]

        # the next start: the dead sender's claim is resumed at once, at part 3
        if isinstance(fake, FakeSlack):
            adapter: SlackAdapter | DiscordAdapter = SlackAdapter(
                Engine(store, slack_settings(fake), FetchPolicy())
            )
        else:
            adapter = DiscordAdapter(
                Engine(store, discord_settings(fake), FetchPolicy()), guild_ready_timeout=0.01
            )
            await adapter.start()
        try:
            [outcome] = await Delivery(store, {platform: adapter}).retry_due()
        finally:
            if isinstance(adapter, DiscordAdapter):
                await adapter.close()
        assert outcome.status == "sent"
        done = store.digest_run(channel, "s1")
        assert done is not None and done.status == "sent" and done.parts_sent == done.parts
        if isinstance(fake, FakeSlack):
            assert one_each(fake.parts("C1"), done.parts)
            top, *rest = fake.kept("C1")
            assert {m["thread_ts"] for m in rest} == {top["ts"]}
            assert "had landed" in caplog.text
        else:
            made = fake.messages_in("123")
            assert len(made) == done.parts == 10
            assert len({m["nonce"] for m in made}) == 10
            assert "had landed" in caplog.text
    assert "resuming digest s1" in caplog.text and "at part 3 of" in caplog.text
