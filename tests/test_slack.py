"""The Slack adapter end to end: the real bolt app and slack_sdk client against loopback fakes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock

from adapters.slack import SlackAdapter, escape_mrkdwn, to_slack_messages
from adapters.slack.render import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    to_slack_reply,
)
from bot.commands import SPECS, Reply
from bot.config import Secrets, Settings, SlackSettings
from bot.delivery import Delivery, send_digest, slot_key
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Answer, Article, Briefing, Bullet, ChannelRef, Citation, Digest, Story
from bot.store import Store
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body
from tests.stories import add_stories

SEEDS = Path(__file__).parents[1] / "seeds"
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
# a generous budget, so the answer-in-the-ack path is tested without depending on CI speed
IN_ACK = 2.0


def _story(n: int, *, text: str = "", sources: int = 3) -> Story:
    articles = tuple(
        Article(
            url=f"https://news.example/{k}/story-{n}?a=1&b=2",
            title=f"Title {n}",
            source=f"Outlet {k}",
            text=text,
            published=NOW - timedelta(hours=n),
            fetched_at=NOW,
            id=n * 10 + k,
        )
        for k in range(sources)
    )
    bullets = tuple(Bullet(f"Bullet {b} of story {n}. " + text) for b in range(3))
    return Story(articles, Briefing(f"Headline number {n} " + text[:100], bullets))


def _digest(n: int, text: str = "") -> Digest:
    stories = tuple(_story(i, text=text) for i in range(n))
    return Digest(stories, NOW, overview=f"Your daily digest: {n} stories.")


def _size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, ensure_ascii=False))


def _check_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    assert _size(message) <= 12_000
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
            SectionBlock(**{k: v for k, v in block.items() if k != "type"}).validate_json()
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_CHARS
            HeaderBlock(text=block["text"]["text"]).validate_json()


# ---- rendering -----------------------------------------------------------------------------


def test_escape_mrkdwn_defuses_mentions_and_entities() -> None:
    assert escape_mrkdwn("a & b <!channel> <@U123>") == "a &amp; b &lt;!channel&gt; &lt;@U123&gt;"


def test_article_text_cannot_ping_anyone() -> None:
    evil = "Hey <!channel> and <@U123> & <!here|here> <https://evil.example|click>"
    story = Story(
        (
            Article(
                url="https://news.example/x",
                title=evil,
                source="Bad <!everyone> Outlet",
                text=evil,
                published=NOW,
                fetched_at=NOW,
                id=1,
            ),
        ),
        Briefing(evil, (Bullet(evil),)),
    )
    digest = Digest((story,), NOW, overview="Digest <!channel>")
    messages = to_slack_messages(digest)
    # plain_text (the header) is never parsed for mentions; every mrkdwn text and the
    # notification text are, so those must carry none
    parsed = [m["text"] for m in messages] + [
        t["text"]
        for m in messages
        for b in m["blocks"]
        for t in [b.get("text"), *b.get("elements", [])]
        if t and t["type"] == "mrkdwn"
    ]
    dumped = json.dumps(parsed)
    for mention in ("<!channel>", "<@U123>", "<!here", "<!everyone>", "<https://evil"):
        assert mention not in dumped
    section = next(b for b in messages[0]["blocks"] if b["type"] == "section")
    assert "&lt;!channel&gt;" in section["text"]["text"]
    assert "&amp;" in section["text"]["text"]
    assert section["text"]["text"].startswith("*<https://news.example/x|")
    assert "&lt;!channel&gt;" in messages[0]["text"]


HOSTILE = "@everyone <!channel> <@U123> [x](http://evil) *bold* <http://evil|click> _it_ `c`"


def test_hostile_outlet_and_bullet_text_render_escaped() -> None:
    articles = tuple(
        Article(
            url=f"https://news.example/{k}",
            title="Title",
            source=source,
            text="Text.",
            published=NOW,
            fetched_at=NOW,
            id=k,
        )
        for k, source in enumerate(["Reuters", HOSTILE])
    )
    bullets = (Bullet("Lead fact.", source="Reuters"), Bullet(HOSTILE, source=HOSTILE))
    digest = Digest((Story(articles, Briefing("Headline", bullets)),), NOW, overview="Digest")
    (message,) = to_slack_messages(digest)
    section = message["blocks"][2]["text"]["text"]
    lines = section.split("\n")
    assert lines[1] == "• *Reuters:* Lead fact."
    hostile = lines[2]
    # the outlet is one bold label, and nothing after it is bold, a link or a mention
    assert hostile.startswith(
        "• *@everyone &lt;!channel&gt;"
    )  # @everyone pings only as <!everyone>
    label, _, text = hostile.partition(":* ")
    assert label.count("*") == 1 and "*" not in text
    for raw in ("<!channel>", "<@U123>", "<http://evil", "*bold*", "_it_", "`c`"):
        assert raw not in section
    assert "&lt;!channel&gt;" in text and "∗bold∗" in text
    _check_limits(dict(message))


def test_story_rendering_has_link_bullets_sources_and_time() -> None:
    (message,) = to_slack_messages(_digest(2))
    types = [b["type"] for b in message["blocks"]]
    assert types == ["header", "context", "section", "context", "section", "context"]
    section = message["blocks"][2]["text"]["text"]
    assert section.startswith("*<https://news.example/0/story-0?a=1&amp;b=2|Headline number 0")
    assert section.count("\n• ") == 3
    meta = message["blocks"][3]["elements"][0]["text"]
    assert "3 sources: Outlet 0, Outlet 1, Outlet 2" in meta
    assert "05 Jan 2026 07:30" in meta
    assert message["text"].startswith("Your daily digest")
    _check_limits(dict(message))


def test_a_200_story_digest_respects_every_limit() -> None:
    long = "Long sentence with <tags> & ampersands that repeats. " * 120  # ~6k chars
    messages = to_slack_messages(_digest(200, long))
    assert len(messages) > 1
    for message in messages:
        _check_limits(dict(message))
    rendered = [b for m in messages for b in m["blocks"] if b["type"] == "section"]
    assert len(rendered) == 200  # every story is there, none cut off
    assert sum(1 for m in messages for b in m["blocks"] if b["type"] == "header") == 1


def test_help_and_answers_render_within_limits() -> None:
    (help_,) = to_slack_reply(Reply("Commands:\n/brief  the latest <stories>"))
    assert help_["blocks"][0]["text"]["text"] == "Commands:\n/brief  the latest &lt;stories&gt;"
    cite = Citation("He said <!here> it works.", 1, "T & T", "Wire", "https://w.example/1", NOW)
    answer = Answer("q?", (cite,) * 60)
    messages = to_slack_reply(Reply("From 60 stored article sentences:", answer=answer))
    for message in messages:
        _check_limits(dict(message))
    first = messages[0]["blocks"]
    assert "<https://w.example/1|Wire>" in first[2]["elements"][0]["text"]
    assert "&lt;!here&gt;" in first[1]["text"]["text"]


# ---- the real app against the fakes ----------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    with Store.open(tmp_path / "bot.db") as opened:
        await ingest([str(SEEDS)], opened, FetchPolicy())
        yield opened


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as running:
        yield running


def _engine(store: Store, fake: FakeSlack, mode: str = "http") -> Engine:
    settings = Settings(
        slack=SlackSettings(mode=mode, host="127.0.0.1", port=0, api_base_url=fake.api_url),
        secrets=Secrets(
            slack_bot_token="xoxb-test",
            slack_app_token="xapp-test",
            slack_signing_secret=SIGNING_SECRET,
        ),
    )
    return Engine(store, settings, FetchPolicy())


@pytest.fixture
async def http_adapter(store: Store, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(_engine(store, fake), ack_budget=IN_ACK)
    await adapter.start()
    yield adapter
    await adapter.close()


Post = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
async def post(http_adapter: SlackAdapter, fake: FakeSlack) -> AsyncIterator[Post]:
    url = f"http://127.0.0.1:{http_adapter.port}/slack/events"
    async with aiohttp.ClientSession() as session:

        async def send(
            command: str, text: str, *, secret: str = SIGNING_SECRET, age: int = 0
        ) -> tuple[int, str]:
            body = slash_body(command, text, response_url=fake.response_url)
            headers = signed_headers(body, secret=secret, timestamp=int(time.time()) - age)
            async with session.post(url, data=body, headers=headers) as response:
                return response.status, await response.text()

        yield send


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the fake"
        await asyncio.sleep(0.02)


async def test_brief_is_answered_in_the_ack_privately(post: Post, fake: FakeSlack) -> None:
    status, body = await post("/brief", "")
    assert status == 200
    ack = json.loads(body)
    assert ack["response_type"] == "ephemeral"
    assert ack["blocks"][0]["type"] == "header"
    assert any(b["type"] == "section" and "*<" in b["text"]["text"] for b in ack["blocks"])
    _check_limits(ack)
    assert fake.responses == []


async def test_brief_public_is_shared_in_channel(post: Post) -> None:
    status, body = await post("/brief", "public security guarantees")
    ack = json.loads(body)
    assert (status, ack["response_type"]) == (200, "in_channel")
    assert "security guarantees" in ack["blocks"][0]["text"]["text"]


async def test_ask_answers_with_citations(post: Post) -> None:
    status, body = await post("/ask", "What does Zelenskyy say security guarantees are?")
    ack = json.loads(body)
    assert status == 200
    assert ack["text"].startswith("From ")
    quotes = [b["text"]["text"] for b in ack["blocks"] if b["type"] == "section"][1:]
    sources = [b["elements"][0]["text"] for b in ack["blocks"] if b["type"] == "context"]
    assert quotes and quotes[0].startswith("1. “") and "Zelenskyy" in " ".join(quotes)
    # the seeds are local files (file:// URLs, not linked): the outlet is named instead
    assert any("Danube Dispatch" in s or "Northline News" in s for s in sources)


async def test_help_lists_every_command(post: Post) -> None:
    status, body = await post("/help", "")
    text = json.loads(body)["blocks"][0]["text"]["text"]
    assert status == 200 and "/subscribe" in text and "/filter" in text


async def _deferred(store: Store, fake: FakeSlack, command: str, text: str) -> str:
    """Run `command` on an adapter with no time to answer in the ack: the ack's text, once
    the answer was posted to the command's response_url."""
    adapter = SlackAdapter(_engine(store, fake), ack_budget=0.0)
    await adapter.start()
    try:
        body = slash_body(command, text, response_url=fake.response_url)
        url = f"http://127.0.0.1:{adapter.port}/slack/events"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=signed_headers(body)) as response,
        ):
            assert response.status == 200
            ack = await response.text()
        await _until(lambda: bool(fake.responses))
    finally:
        await adapter.close()
    return ack


async def test_slow_command_acks_then_responds(store: Store, fake: FakeSlack) -> None:
    assert "Working on it" in await _deferred(store, fake, "/ask", "What does Zelenskyy say?")
    (answer,) = fake.responses
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"]


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
async def test_bolt_and_slack_sdk_log_debug_lines_only_at_the_operators_debug_level(
    store: Store, fake: FakeSlack, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    # the libraries build a debug line whenever their logger's own level lets them: the
    # adapter sets it to the bot's, so at info none is built, and at debug all still come
    caplog.set_level(level)
    await _deferred(store, fake, "/help", "")  # a follow-up post too
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    if level == logging.DEBUG:
        assert any(line.startswith("Applying ") for line in debug)  # bolt's middleware
        assert any(line.startswith("Sending a request - url: ") for line in debug)  # webhook
        assert "xoxb-test" not in caplog.text
    else:
        assert debug == []


@pytest.mark.parametrize(("secret", "age"), [("forged-secret", 0), (SIGNING_SECRET, 360)])
async def test_bad_signature_or_old_timestamp_is_refused(
    post: Post, fake: FakeSlack, store: Store, secret: str, age: int
) -> None:
    status, _ = await post("/digest", "07:30 UTC", secret=secret, age=age)
    assert status == 401
    await asyncio.sleep(0.1)
    assert store.get_channel(ChannelRef("slack", "C1")).digest_time is None
    assert fake.responses == [] and fake.posts() == []


async def test_command_prefix_maps_names(store: Store, fake: FakeSlack) -> None:
    engine = _engine(store, fake)
    engine.settings = replace(
        engine.settings, slack=replace(engine.settings.slack, command_prefix="news-")
    )
    adapter = SlackAdapter(engine, ack_budget=IN_ACK)
    await adapter.start()
    try:
        body = slash_body("/news-digest", "07:30 Europe/Kyiv", response_url=fake.response_url)
        url = f"http://127.0.0.1:{adapter.port}/slack/events"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=signed_headers(body)) as response,
        ):
            ack = json.loads(await response.text())
        assert ack["response_type"] == "in_channel"  # the core announces schedule changes
        assert store.get_channel(ChannelRef("slack", "C1")).digest_time == "07:30"
    finally:
        await adapter.close()


async def test_socket_mode_end_to_end(store: Store, fake: FakeSlack) -> None:
    adapter = SlackAdapter(_engine(store, fake, mode="socket"), ack_budget=IN_ACK)
    await adapter.start()
    try:
        opened = fake.posts("apps.connections.open")
        assert opened and opened[0].auth == "Bearer xapp-test"
        payload = {
            "command": "/brief",
            "text": "public",
            "channel_id": "C9",
            "user_id": "U1",
            "team_id": "T1",
            "response_url": fake.response_url,
        }
        envelope = {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": True,
        }
        await fake.send_envelope(envelope)
        await _until(lambda: any(m.get("envelope_id") == "env-1" for m in fake.ws_received))
        reply = next(m for m in fake.ws_received if m.get("envelope_id") == "env-1")
        assert reply["payload"]["response_type"] == "in_channel"
        assert reply["payload"]["blocks"][0]["type"] == "header"
    finally:
        await adapter.close()


# ---- scheduled digests -----------------------------------------------------------------------


async def test_scheduled_digest_is_posted_once_through_a_429_storm(
    store: Store, fake: FakeSlack
) -> None:
    adapter = SlackAdapter(_engine(store, fake), ack_budget=IN_ACK)
    channel = ChannelRef("slack", "C1")
    fake.rate_limits["chat.postMessage"] = 2
    slot = slot_key(NOW)
    started = time.monotonic()
    first = await send_digest(store, channel, adapter, slot=slot, now=NOW)
    assert first.status == "sent"
    assert time.monotonic() - started >= 2.0  # waited Retry-After twice
    tries = [c for c in fake.calls if c.method == "chat.postMessage"]
    assert len(tries) == 3 and len(fake.posts()) == 1
    assert fake.posts()[0].auth == "Bearer xoxb-test"
    again = await send_digest(store, channel, adapter, slot=slot, now=NOW)
    assert again.status == "skipped"
    assert len(fake.posts()) == 1


async def test_a_removed_bot_disables_the_channel(store: Store, fake: FakeSlack) -> None:
    adapter = SlackAdapter(_engine(store, fake), ack_budget=IN_ACK)
    channel = ChannelRef("slack", "C2")
    fake.errors["chat.postMessage"] = ["not_in_channel"]
    outcome = await send_digest(store, channel, adapter, slot=slot_key(NOW), now=NOW)
    assert outcome.status == "disabled"
    settings = store.get_channel(channel)
    assert settings.enabled is False and settings.disabled_reason == "not_in_channel"
    assert fake.posts() == []


async def test_long_digest_continues_in_a_thread_and_resumes_after_failure(
    store: Store, fake: FakeSlack
) -> None:
    adapter = SlackAdapter(_engine(store, fake), ack_budget=IN_ACK, reconcile_delay=0)
    channel = ChannelRef("slack", "C3")
    add_stories(store, 60)
    delivery = Delivery(store, {"slack": adapter}, max_stories=100)
    # the 2nd message is refused: the retry must continue the thread, not re-post the top
    fake.errors["chat.postMessage"] = ["", "msg_too_long"]
    failed = await delivery.send(channel, "s1", now=NOW)
    assert failed.status == "failed" and failed.digest is not None
    parts = len(to_slack_messages(failed.digest))
    assert parts > 2
    assert len(fake.kept("C3")) == 1
    [resumed] = await delivery.retry_due(NOW + timedelta(minutes=1))
    assert resumed.status == "sent"
    top, *rest = fake.kept("C3")
    assert len(rest) == parts - 1
    assert "thread_ts" not in top and {m["thread_ts"] for m in rest} == {top["ts"]}
    assert [p for _, p in fake.parts("C3")] == list(range(parts))
    for message in fake.kept("C3"):
        _check_limits({"text": message["text"], "blocks": message["blocks"]})


def test_manifest_declares_every_command_and_scope() -> None:
    manifest = (Path(__file__).parents[1] / "adapters" / "slack" / "manifest.yml").read_text()
    declared = set(re.findall(r"- command: /([a-z_-]+)", manifest))
    assert declared == {spec.name for spec in SPECS}
    for scope in ("commands", "chat:write"):
        assert f"- {scope} " in manifest or f"- {scope}\n" in manifest
