"""Answers inside the Slack ack: the real bolt app in HTTP mode against the loopback fakes.

A /brief or /ask asked again answers from what the bot kept (until the store changes), so a
burst of commands is answered in the acks themselves; new articles show at once, whichever
process stored them; a burst of 50 concurrent commands is answered in full (in the ack, or
"working on it" and then a follow-up) on the worker threads (and the /ask worker process) the
bot already has.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from bot.cluster import assign_story
from bot.commands import ReadCache
from bot.commands.dispatch import WORKERS
from bot.config import Secrets, Settings, SlackSettings
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article
from bot.store import Store
from bot.summarize import summarize
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body

SEEDS = Path(__file__).parents[1] / "seeds"
# generous, so whether an answer rides in the ack never depends on the machine's speed
IN_ACK = 2.0
BURST = 50


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    with Store.open(tmp_path / "bot.db") as opened:
        await ingest([str(SEEDS)], opened, FetchPolicy())
        yield opened


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as running:
        yield running


@pytest.fixture
async def adapter(store: Store, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    settings = Settings(
        slack=SlackSettings(mode="http", host="127.0.0.1", port=0, api_base_url=fake.api_url),
        secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET),
    )
    engine = Engine(store, settings, FetchPolicy())
    running = SlackAdapter(engine, ack_budget=IN_ACK)
    await running.start()
    engine.answers.start()  # as `run` does once the platforms are up
    yield running
    await running.close()
    engine.close()


async def _send(
    session: aiohttp.ClientSession, adapter: SlackAdapter, fake: FakeSlack, *command: str
) -> dict[str, object]:
    """Post one signed slash command (name, text[, response id]); the ack's JSON body."""
    name, text, *rest = command
    url = f"{fake.base}/response/{rest[0] if rest else '1'}"
    body = slash_body(name, text, response_url=url)
    async with session.post(
        f"http://127.0.0.1:{adapter.port}/slack/events", data=body, headers=signed_headers(body)
    ) as response:
        assert response.status == 200
        answer: dict[str, object] = json.loads(await response.text())
        return answer


def _article(n: int, title: str) -> Article:
    ordinal = ["first", "second"][n - 1]
    text = (
        f"The zebracorn sanctuary in Riverton opened its {ordinal} enclosure on Monday. "
        "Keepers said the zebracorns settled in within hours. "
        "The council paid for the enclosure from its parks budget, officials said."
    )
    now = datetime.now(UTC)
    return Article(
        url=f"https://news.example/zebracorn-{n}",
        title=title,
        source="Riverton Courier",
        text=text,
        published=now,
        fetched_at=now,
    )


def _add(store: Store, article: Article) -> None:
    stored, added = store.add_article(article, summarize(article.text, article.title))
    assert added
    assign_story(store, stored)


def _texts(ack: dict[str, object]) -> str:
    return json.dumps(ack)


async def test_a_brief_asked_again_answers_in_the_ack_and_new_articles_show_at_once(
    adapter: SlackAdapter, fake: FakeSlack, store: Store, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        first = await _send(session, adapter, fake, "/brief", "zebracorn")
        assert "No stored stories match" in _texts(first)
        # stored by this process (as the poller does): the next /brief shows it
        _add(store, _article(1, "Zebracorn sanctuary opens first enclosure"))
        second = await _send(session, adapter, fake, "/brief", "zebracorn")
        assert second["blocks"] and "first enclosure" in _texts(second)
        again = await _send(session, adapter, fake, "/brief", "zebracorn")
        assert again["blocks"] == second["blocks"]
        # stored by another process on the same file (a CLI ingest)
        with Store.open(tmp_path / "bot.db") as other:
            _add(other, _article(2, "Zebracorn sanctuary opens second enclosure"))
        third = await _send(session, adapter, fake, "/brief", "zebracorn")
        assert "second enclosure" in _texts(third)
        asked = await _send(
            session, adapter, fake, "/ask", "Where did the zebracorn sanctuary open?"
        )
        assert "Riverton" in _texts(asked)
    assert fake.responses == []  # every answer above rode in its ack


async def test_a_burst_of_commands_is_answered_in_full_on_the_same_threads(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    questions = [
        "What does Zelenskyy say security guarantees are?",
        "Who met in Paris?",
        "What did the ministers agree?",
    ]
    topics = ["", "security guarantees", "ukraine", "talks"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=BURST)) as session:
        await _send(session, adapter, fake, "/brief", "", "warm-1")
        await _send(session, adapter, fake, "/ask", questions[0], "warm-2")
        before = threading.active_count()
        counts = []
        for burst in range(2):
            jobs = [
                ("/brief", topics[i % len(topics)], f"{burst}-{i}")
                if i % 2
                else ("/ask", questions[i % len(questions)], f"{burst}-{i}")
                for i in range(BURST)
            ]
            acks = await asyncio.gather(*(_send(session, adapter, fake, *job) for job in jobs))
            deferred = {
                job[2]
                for job, ack in zip(jobs, acks, strict=True)
                if "Working on it" in _texts(ack)
            }
            deadline = time.monotonic() + 30
            while not deferred <= set(fake.responded):
                assert time.monotonic() < deadline, "a deferred command never answered"
                await asyncio.sleep(0.02)
            answered = [ack for ack in acks if "Working on it" not in _texts(ack)]
            assert all(ack.get("blocks") for ack in answered)
            assert len(answered) + len(deferred) == BURST
            counts.append(threading.active_count())
        # no loop, pool or thread of its own per command: the bounded pools the bot starts
        # once (the /ask worker's threads are up since the warm-up), and nothing more after
        # 100 commands than after 50
        assert counts[0] <= before + WORKERS
        assert counts[1] == counts[0]


def test_a_read_that_overlaps_a_write_is_not_kept(store: Store) -> None:
    cache = ReadCache()
    reads = []

    def count() -> int:
        reads.append(1)
        return store.count_articles()

    def count_while_storing() -> int:
        # an article stored while the read runs (the poller, on the event loop's thread)
        _add(store, _article(1, "Zebracorn sanctuary opens first enclosure"))
        return count()

    before = cache.get(store, ("count",), count_while_storing)
    after = cache.get(store, ("count",), count)
    assert after == before  # counted afresh, not kept from the read the write overlapped
    assert len(reads) == 2
    assert cache.get(store, ("count",), count) == after
    assert len(reads) == 2  # kept now: nothing wrote since
