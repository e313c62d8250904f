"""A digest with the model on, posted to Slack and Discord by the real clients.

Real reports (three outlets per event, `tests/data/clusters_sample.jsonl`) are ingested and
grouped; a loopback Chat Completions fake writes each story's briefing from the text in its
prompt, with one invented sentence. What a reader of the channel would check: the bullets are
the model's, marked as such with a "why" link to the sentence they rest on, the invented
sentence is nowhere, and the requests carried the configured model and key.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from bot.config import DiscordSettings, LlmSettings, Secrets, Settings, SlackSettings
from bot.delivery import Delivery
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import ChannelRef
from bot.store import Store
from bot.summarize.llm import ModelWriter
from bot.summarize.sentences import split_sentences
from tests.conftest import write_dev_events
from tests.discord_fakes import FakeDiscord
from tests.llm_fakes import API_KEY, FakeModel, Reply
from tests.slack_fakes import SIGNING_SECRET, FakeSlack

NOW = datetime(2021, 10, 20, 8, 0, tzinfo=UTC)
INVENTED = "The ruling was signed by 14 justices in Geneva on Friday."


def _write(body: dict[str, Any]) -> Reply:
    """Three sentences of the main report's text, as the model's bullets, and one invented."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    text = user.split("Text:\n", 1)[1].split("\n\nOther report", 1)[0]
    sentences = [s for s in split_sentences(text) if len(s.split()) >= 5][:3]
    return Reply(content={"headline": "", "bullets": [*sentences, INVENTED]})


@pytest.fixture
def model() -> Iterator[FakeModel]:
    with FakeModel(_write) as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    path, _ = write_dev_events(tmp_path)
    with Store.open(tmp_path / "bot.db") as opened:
        await ingest([str(path)], opened, FetchPolicy())
        yield opened


def _llm(model: FakeModel) -> LlmSettings:
    return LlmSettings(
        enabled=True, base_url=model.base_url, model="news-model-1", allow_private=True
    )


def _check_requests(model: FakeModel) -> None:
    assert model.requests
    for request in model.requests:
        assert request.body["model"] == "news-model-1"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"


async def _send(store: Store, courier: Any, channel: ChannelRef, settings: Settings) -> None:
    writer = ModelWriter.from_settings(settings, store)
    assert writer is not None
    delivery = Delivery(store, {channel.platform: courier}, max_stories=5)
    delivery.writer = writer
    try:
        outcome = await delivery.send(channel, "s1", now=NOW)
    finally:
        await writer.close()
    assert outcome.status == "sent", outcome.detail


async def test_slack_digest_shows_model_bullets_marked_with_why_links(
    store: Store, model: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlack() as fake:
        settings = Settings(
            slack=SlackSettings(mode="http", port=0, api_base_url=fake.api_url),
            llm=_llm(model),
            secrets=Secrets(
                slack_bot_token="xoxb-test",
                slack_signing_secret=SIGNING_SECRET,
                llm_api_key=API_KEY,
            ),
        )
        adapter = SlackAdapter(Engine(store, settings, FetchPolicy()), ack_budget=2.0)
        await _send(store, adapter, ChannelRef("slack", "C1"), settings)
        messages = fake.kept("C1")
    sections = [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"]
    contexts = [
        e["text"] for m in messages for b in m["blocks"] if b["type"] == "context"
        for e in b["elements"]
    ]  # fmt: skip
    bullets = [line for s in sections for line in s.split("\n") if line.startswith("• ")]
    assert bullets and all("✦" in line for line in bullets)
    assert all(re.search(r"<https://[^|>]+#:~:text=[^|>]+\|why>", line) for line in bullets)
    assert any("written by a language model" in c for c in contexts)
    assert "Geneva" not in str(messages)
    _check_requests(model)
    assert API_KEY not in caplog.text


async def test_discord_digest_shows_model_bullets_marked_with_why_links(
    store: Store, model: FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord() as fake:
        settings = Settings(
            discord=DiscordSettings(**fake.urls()),
            llm=_llm(model),
            secrets=Secrets(discord_bot_token="test-token", llm_api_key=API_KEY),
        )
        adapter = DiscordAdapter(Engine(store, settings, FetchPolicy()), guild_ready_timeout=0.01)
        await adapter.start()
        try:
            await _send(store, adapter, ChannelRef("discord", "123"), settings)
        finally:
            await adapter.close()
        messages = fake.messages_in("123")
    embeds = [e for m in messages for e in m.get("embeds", [])]
    assert embeds
    lines = [line for e in embeds for line in e["description"].split("\n")]
    bullets = [line for line in lines if line.startswith("• ")]
    assert bullets and all("✦" in line for line in bullets)
    assert all(re.search(r"\[why\]\(https://\S+#:~:text=\S+\)", line) for line in bullets)
    assert all("language model" in e["footer"]["text"] for e in embeds)
    assert "Geneva" not in str(messages)
    _check_requests(model)
    assert API_KEY not in caplog.text
