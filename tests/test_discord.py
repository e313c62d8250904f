"""The Discord adapter: the real discord.py client against a loopback REST API and gateway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

import bot.ingest.pipeline
from adapters.discord import (
    DiscordAdapter,
    escape_mentions,
    to_discord_answer,
    to_discord_embeds,
    to_discord_messages,
)
from bot.config import DiscordSettings, Secrets, Settings
from bot.delivery import Delivery, OutgoingPart, send_digest
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.models import (
    Answer,
    Article,
    Briefing,
    Bullet,
    ChannelRef,
    Citation,
    Digest,
    Story,
    Subscription,
)
from bot.store import Store
from tests.discord_fakes import (
    FORBIDDEN,
    MANAGE_CHANNELS,
    MEMBER_PERMISSIONS,
    NOT_FOUND,
    FakeDiscord,
    Planned,
    rate_limited,
)
from tests.stories import add_stories

SEEDS = Path(__file__).parents[1] / "seeds"
EPHEMERAL = 64
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

MakeAdapter = Callable[..., Awaitable[DiscordAdapter]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    with Store.open(tmp_path / "discord.db") as opened:
        await bot.ingest.pipeline.ingest([str(SEEDS)], opened, FetchPolicy())
        yield opened


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def make_adapter(store: Store, fake: FakeDiscord) -> AsyncIterator[MakeAdapter]:
    """Started adapters on the fake; closed (and discord.py's URLs restored) afterwards."""
    started: list[DiscordAdapter] = []

    async def make(respond_budget: float = 2.0, **discord: Any) -> DiscordAdapter:
        settings = Settings(
            discord=DiscordSettings(**{**fake.urls(), **discord}),
            secrets=Secrets(discord_bot_token="test-token"),
        )
        adapter = DiscordAdapter(
            Engine(store, settings, FetchPolicy()),
            respond_budget=respond_budget,
            guild_ready_timeout=0.01,
        )
        await adapter.start()
        started.append(adapter)
        return adapter

    yield make
    for adapter in started:
        await adapter.close()


def _story(n: int, *, text: str = "", headline: str = "", outlets: int = 3) -> Story:
    articles = tuple(
        Article(
            url=f"https://news.example/{o}/story-{n}",
            title=f"Story {n}",
            source=f"Outlet {o}",
            text=text or f"Text of story {n}.",
            published=NOW - timedelta(minutes=n),
            fetched_at=NOW,
            id=n * 10 + o,
        )
        for o in range(outlets)
    )
    bullets = tuple(Bullet(text or f"Bullet {b} of story {n}. " * 40) for b in range(4))
    return Story(articles, Briefing(headline or f"Headline {n} " * 30, bullets))


def _digest(count: int, **story: Any) -> Digest:
    stories = tuple(_story(n, **story) for n in range(count))
    return Digest(stories=stories, generated_at=NOW, overview=f"{count} stories.")


def _embed_chars(embed: dict[str, Any]) -> int:
    footer = embed.get("footer", {}).get("text", "")
    fields = sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return len(embed.get("title", "")) + len(embed.get("description", "")) + len(footer) + fields


def _assert_within_limits(body: dict[str, Any]) -> None:
    embeds = body.get("embeds", [])
    assert len(body.get("content") or "") <= 2000
    assert len(embeds) <= 10
    assert sum(_embed_chars(e) for e in embeds) <= 6000
    for embed in embeds:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(embed.get("fields", [])) <= 25
        assert len(embed.get("footer", {}).get("text", "")) <= 2048


# Rendering --------------------------------------------------------------------------------


def test_story_embed_has_link_bullets_sources_and_time() -> None:
    story = _story(1, headline="Council approves bike lanes", text="Short.", outlets=2)
    (embed,) = to_discord_embeds(Digest((story,), NOW, "1 story."))
    assert embed.title == "Council approves bike lanes"
    assert embed.url == "https://news.example/0/story-1"
    assert embed.description is not None and embed.description.startswith("• Short.")
    assert "[Outlet 1](https://news.example/1/story-1)" in embed.description
    assert embed.footer.text == "2 sources: Outlet 0, Outlet 1"
    assert embed.timestamp == NOW - timedelta(minutes=1)


def test_200_story_digest_respects_every_limit() -> None:
    messages = to_discord_messages(_digest(200, headline="H" * 400))
    assert len(messages) > 1
    assert sum(len(m.embeds) for m in messages) == 200
    for message in messages:
        _assert_within_limits(
            {"content": message.content, "embeds": [e.to_dict() for e in message.embeds]}
        )
    titles = [e.title or "" for m in messages for e in m.embeds]
    assert all(t.endswith("…") and len(t) == 256 for t in titles)
    assert messages[1].content == f"(continued, 2/{len(messages)})"


def test_a_huge_story_is_cut_to_fit() -> None:
    (embed,) = to_discord_embeds(_digest(1, text="word " * 5000))
    assert len(embed.description or "") <= 4096
    assert len(embed) <= 6000


def test_mentions_are_neutralised() -> None:
    evil = "Ping @everyone and @here, <@123>, <@!77> and <@&456> in <#789>."
    text = escape_mentions(evil)
    assert not re.search(r"@(everyone|here)|<@!?\d|<@&\d|<#\d", text)
    (embed,) = to_discord_embeds(_digest(1, text=evil, headline=evil))
    for shown in (embed.title or "", embed.description or "", embed.footer.text or ""):
        assert not re.search(r"@(everyone|here)|<@!?\d|<@&\d|<#\d", shown)


def test_hostile_outlet_and_bullet_text_render_escaped() -> None:
    hostile = "@everyone <@123> <@&456> [x](http://evil) *bold* __u__ ~~s~~"
    story = _story(1)
    bullets = (Bullet("Lead fact.", source="Outlet 0"), Bullet(hostile, source=hostile))
    (embed,) = to_discord_embeds(
        Digest((Story(story.articles, Briefing("Headline", bullets)),), NOW, overview="x")
    )
    lines = (embed.description or "").split("\n")
    assert lines[0] == "• **Outlet 0:** Lead fact."
    label, _, text = lines[1].partition(":** ")
    assert label.startswith("• **") and text
    for part in (label[4:], text):  # the outlet is cut to 60 characters, the text is whole
        assert not re.search(r"@(everyone|here)|<@!?\d|<@&\d|<#\d", part)
        assert not re.search(r"(?<!\\)\[x\]\(", part), part  # no masked link
        assert r"\*bold\*" in part and "*bold*" not in part.replace(r"\*", "")
    assert r"\_\_u\_\_" in text and r"\~\~s\~\~" in text


# Scheduled digests through REST -----------------------------------------------------------


async def test_digest_posted_once_after_a_429(
    store: Store, fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    channel = ChannelRef("discord", "123")
    fake.plan("/channels/123/messages", rate_limited(0.1))
    outcome = await send_digest(store, channel, adapter, slot="s1")
    assert outcome.status == "sent", outcome.detail
    posts = fake.channel_posts("123")
    assert len(posts) == 2  # the 429, then discord.py's one retry
    assert posts[0].body == posts[1].body
    assert posts[1].body["allowed_mentions"] == {"parse": []}
    assert posts[1].body["embeds"]
    again = await send_digest(store, channel, adapter, slot="s1")
    assert again.status == "skipped"
    assert len(fake.channel_posts("123")) == 2


@pytest.mark.parametrize("answer", [NOT_FOUND, FORBIDDEN], ids=["404", "403"])
async def test_gone_or_forbidden_channel_disables_its_schedule(
    store: Store, fake: FakeDiscord, make_adapter: MakeAdapter, answer: Planned
) -> None:
    adapter = await make_adapter()
    channel = ChannelRef("discord", "999")
    fake.plan("/channels/999/messages", answer)
    outcome = await send_digest(store, channel, adapter, slot="s1")
    assert outcome.status == "disabled"
    assert store.get_channel(channel).enabled is False
    assert str(answer.status) in (store.get_channel(channel).disabled_reason or "")


async def test_long_digest_continues_in_further_messages_without_pings(
    fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    channel = ChannelRef("discord", "123")
    digest = _digest(30, text="Breaking: @everyone <@123> <@&456> must read.")
    payloads = adapter.render_parts(channel, digest)
    assert len(payloads) == len(to_discord_messages(digest)) > 1
    for n, payload in enumerate(payloads):
        await adapter.send_part(channel, OutgoingPart("run", n, len(payloads), payload))
    posts = fake.channel_posts("123")
    assert len(posts) == len(payloads)
    for post in posts:
        _assert_within_limits(post.body)
        assert post.body["allowed_mentions"] == {"parse": []}
        raw = str(post.body["embeds"])
        assert "@everyone" not in raw and "<@123>" not in raw and "<@&456>" not in raw


async def test_failure_midway_resends_only_the_rest(
    store: Store, fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter()
    add_stories(store, 30)
    delivery = Delivery(store, {"discord": adapter}, max_stories=100)
    channel = ChannelRef("discord", "123")
    # the first part is made, the second refused
    fake.plan("/channels/123/messages", None, Planned(400, {"message": "Bad", "code": 50035}))
    first = await delivery.send(channel, "s1", now=NOW)
    assert first.status == "failed" and "part 2" in first.detail and first.digest is not None
    parts = len(to_discord_messages(first.digest))
    assert parts > 2 and len(fake.messages_in("123")) == 1
    [resumed] = await delivery.retry_due(NOW + timedelta(minutes=1))
    assert resumed.status == "sent"
    made = fake.messages_in("123")
    assert len(made) == parts  # part 1 once, then the rest
    assert [m["content"] for m in made][1:] == [
        f"(continued, {n}/{parts})" for n in range(2, parts + 1)
    ]


# Slash commands through the gateway -------------------------------------------------------


async def test_brief_answers_through_the_gateway(
    fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    await make_adapter(guild_ids=("42",))
    assert fake.calls("PUT", "/applications/900000000000000001/guilds/42/commands")
    sent = await fake.push_command("brief")
    callback = await fake.wait_callback(sent)
    assert callback.body["type"] == 4
    data = callback.body["data"]
    assert data["flags"] == EPHEMERAL
    assert data["allowed_mentions"] == {"parse": []}
    assert 1 <= len(data["embeds"]) <= 5
    assert all(e["title"] and e["footer"]["text"] for e in data["embeds"])
    public = await fake.push_command("brief", {"topic": "security guarantees", "public": True})
    assert "flags" not in (await fake.wait_callback(public)).body["data"]


async def test_slow_command_defers_then_follows_up(
    fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    await make_adapter(respond_budget=0.0)
    assert fake.calls("PUT", "/applications/900000000000000001/commands")
    sent = await fake.push_command("brief")
    callback = await fake.wait_callback(sent)
    assert callback.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    (followup,) = await fake.wait_for("POST", f"/webhooks/900000000000000001/{sent['token']}")
    assert followup.body["embeds"] and followup.body["allowed_mentions"] == {"parse": []}


async def test_ask_cites_european_pravda(fake: FakeDiscord, make_adapter: MakeAdapter) -> None:
    await make_adapter()
    question = "What does Zelenskyy say security guarantees are?"
    sent = await fake.push_command("ask", {"question": question})
    data = (await fake.wait_callback(sent)).body["data"]
    (embed,) = data["embeds"]
    assert embed["title"] == question
    assert "European Pravda" in embed["description"]
    assert "file://" not in embed["description"]  # seeds are local files: no link to offer


def test_answer_links_each_citation() -> None:
    cite = Citation("Guarantees are armies.", 1, "T", "European Pravda", "https://e.example/a", NOW)
    embed = to_discord_answer(Answer("What?", (cite,)))
    assert embed.description == (
        '1. "Guarantees are armies." — [European Pravda](https://e.example/a) · 01 Mar 2025'
    )


async def test_managing_needs_manage_channels(
    store: Store, fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    await make_adapter()
    refused = await fake.push_command("subscribe", {"url": "https://example.org/rss.xml"})
    data = (await fake.wait_callback(refused)).body["data"]
    assert data["flags"] == EPHEMERAL
    assert "Only members who can manage this channel" in data["content"]
    allowed = await fake.push_command(
        "filter", {"terms": "ukraine"}, permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS
    )
    data = (await fake.wait_callback(allowed)).body["data"]
    assert "flags" not in data and "ukraine" in data["content"]
    assert store.get_channel(ChannelRef("discord", "123")).filter == ("ukraine",)


async def test_autocomplete_offers_sources_and_time_zones(
    store: Store, fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    await make_adapter()
    store.add_subscription(Subscription("discord", "123", "https://feeds.example/world.xml"))
    store.add_subscription(Subscription("discord", "77", "https://feeds.example/other.xml"))
    sent = await fake.push_command("unsubscribe", {"source": "world"}, focused="source")
    callback = (await fake.wait_callback(sent)).body
    assert callback["type"] == 8
    (choice,) = callback["data"]["choices"]
    assert choice["name"].endswith("https://feeds.example/world.xml")
    zones = await fake.push_command(
        "digest", {"when": "07:30", "timezone": "kyiv"}, focused="timezone"
    )
    choices = (await fake.wait_callback(zones)).body["data"]["choices"]
    assert {"name": "Europe/Kyiv", "value": "Europe/Kyiv"} in choices
    wide = await fake.push_command("digest", {"timezone": "a"}, focused="timezone")
    assert len((await fake.wait_callback(wide)).body["data"]["choices"]) == 25


async def test_failed_public_command_is_answered_privately_after_defer(
    fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    await make_adapter(respond_budget=0.0)
    sent = await fake.push_command(
        "filter", {"terms": "x" * 150}, permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS
    )
    deferred = (await fake.wait_callback(sent)).body
    assert deferred["type"] == 5 and "flags" not in deferred.get("data", {})
    (followup,) = await fake.wait_for("POST", f"/webhooks/900000000000000001/{sent['token']}")
    assert fake.calls("DELETE", f"/webhooks/900000000000000001/{sent['token']}/messages/@original")
    assert followup.body["flags"] == EPHEMERAL and "Usage" in followup.body["content"]


async def test_a_replica_connects_only_its_own_shards(
    fake: FakeDiscord, make_adapter: MakeAdapter
) -> None:
    adapter = await make_adapter(shard_count=2, shard_ids=(1,))
    assert isinstance(adapter.client, discord.AutoShardedClient)
    assert adapter.client.shard_ids == [1] and adapter.client.shard_count == 2
    assert fake.identified_shards == [[1, 2]]  # shard 0 is another replica's
    sent = await fake.push_command("help")
    assert (await fake.wait_callback(sent)).body["data"]["content"].startswith("Commands:")


async def test_sharded_client_and_help(fake: FakeDiscord, make_adapter: MakeAdapter) -> None:
    adapter = await make_adapter(shard_count=1)
    assert adapter.client.shard_count == 1
    sent = await fake.push_command("help")
    content = (await fake.wait_callback(sent)).body["data"]["content"]
    assert content.startswith("Commands:\n```") and "/digest" in content
