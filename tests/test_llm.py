"""Model-written briefings and answers against a loopback Chat Completions fake.

What a user would check: the briefing they see is the model's only when every sentence of it
is in the article; otherwise (a bad reply, an invented number or name, a refusal, a stall, a
reply over budget) it is the extractive one, and the request carried the configured model and
key, which no log line shows.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import LlmSettings, Secrets, Settings, load_settings
from bot.models import Article
from bot.store import Store
from bot.summarize import summarize
from bot.summarize.llm import ModelWriter
from tests.llm_fakes import API_KEY, FakeModel, Reply

NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
TITLE = "Riverton council approves bike lane plan"
TEXT = (
    "The Riverton city council voted 7 to 2 on Tuesday to approve a 9.8 million dollar plan "
    "for protected bike lanes on Main Street and River Road. Mayor Alice Moreno said the lanes "
    "would be finished by October 2026. The plan adds 14 kilometres of lanes and removes 120 "
    "parking spaces. Shop owners on Main Street warned that the loss of parking would hurt "
    "their trade. Council member Tom Reyes, who voted against the plan, said the money should "
    "go to road repairs. Cycling groups welcomed the vote and said they would watch the work "
    "closely."
)
GOOD = [
    "The Riverton city council voted 7 to 2 on Tuesday to approve a 9.8 million dollar plan "
    "for protected bike lanes.",
    "Mayor Alice Moreno said the lanes would be finished by October 2026.",
    "The plan adds 14 kilometres of lanes and removes 120 parking spaces.",
    "Shop owners on Main Street warned that the loss of parking would hurt their trade.",
]
INVENTED_NUMBER = "The plan adds 40 kilometres of lanes and removes 120 parking spaces."
INVENTED_NAME = "Council member Tom Reyes and Senator Linda Walsh voted against the plan."
HEADLINE = "Riverton approves 9.8 million dollar bike lane plan"


def _article(**changes: Any) -> Article:
    fields: dict[str, Any] = {
        "url": "https://riverton.example/bike-lanes",
        "title": TITLE,
        "source": "Riverton Post",
        "text": TEXT,
        "published": NOW,
        "fetched_at": NOW,
    }
    fields.update(changes)
    return Article(**fields)


def _briefing(*bullets: str, headline: str = HEADLINE) -> Reply:
    return Reply(content={"headline": headline, "bullets": list(bullets)})


def _settings(base_url: str, **llm: Any) -> Settings:
    options: dict[str, Any] = {
        "enabled": True,
        "base_url": base_url,
        "model": "news-model-1",
        "timeout": 5.0,
        "allow_private": True,  # the fake is the operator's own server on 127.0.0.1
    }
    options.update(llm)
    return Settings(llm=LlmSettings(**options), secrets=Secrets(llm_api_key=API_KEY))


@pytest.fixture
def fake() -> Iterator[FakeModel]:
    with FakeModel() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "bot.db") as opened:
        yield opened


def _writer(settings: Settings, store: Store | None = None) -> ModelWriter:
    writer = ModelWriter.from_settings(settings, store)
    assert writer is not None
    return writer


async def _brief(writer: ModelWriter, article: Article | None = None) -> Any:
    item = article or _article()
    try:
        return await writer.brief_article(item, summarize(item.text, item.title))
    finally:
        await writer.close()


async def test_a_well_formed_reply_is_the_briefing_and_the_request_is_as_configured(
    fake: FakeModel, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake.answers(_briefing(*GOOD))
    caplog.set_level(logging.DEBUG)
    written = await _brief(_writer(_settings(fake.base_url), store))
    assert written.origin == "model" and written.rejected == ()
    assert written.briefing.headline == HEADLINE
    assert [b.text for b in written.briefing.bullets] == GOOD
    for bullet in written.briefing.bullets:
        assert bullet.written and bullet.url == "https://riverton.example/bike-lanes"
        # each bullet names the article sentences that support it, for a "why" link
        assert bullet.sentences and all(s in TEXT for s in bullet.sentences)
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "news-model-1"
    assert request.body["response_format"] == {"type": "json_object"}
    assert TEXT in request.user  # the article verbatim
    assert API_KEY not in caplog.text
    [usage] = store.llm_usage()
    assert (usage["requests"], usage["written"], usage["fallbacks"]) == (1, 1, 0)
    assert usage["prompt_tokens"] + usage["completion_tokens"] == 150


async def test_malformed_json_falls_back_to_the_extractive_briefing(
    fake: FakeModel, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake.answers(Reply(content='{"headline": "x", "bullets": ["one", "two"'))
    extract = summarize(TEXT, TITLE)
    written = await _brief(_writer(_settings(fake.base_url), store))
    assert written.origin == "extract" and written.briefing == extract
    assert "malformed" in written.fallback
    assert "model briefing not used: malformed reply" in caplog.text
    assert store.llm_usage()[0]["fallbacks"] == 1


async def test_a_bullet_with_an_invented_number_is_dropped(fake: FakeModel) -> None:
    fake.answers(_briefing(*GOOD[:3], INVENTED_NUMBER))
    written = await _brief(_writer(_settings(fake.base_url)))
    assert written.origin == "model"
    assert [b.text for b in written.briefing.bullets] == GOOD[:3]
    [rejected] = written.rejected
    assert rejected.text == INVENTED_NUMBER and '"40"' in rejected.reason


async def test_an_invented_name_is_dropped_and_too_few_bullets_mean_the_extract(
    fake: FakeModel,
) -> None:
    fake.answers(_briefing(GOOD[0], GOOD[1], INVENTED_NAME))
    written = await _brief(_writer(_settings(fake.base_url)))
    assert written.origin == "extract"  # two bullets left: fewer than three
    assert written.briefing == summarize(TEXT, TITLE)
    [rejected] = written.rejected
    assert rejected.text == INVENTED_NAME and "name" in rejected.reason


async def test_a_long_bullet_is_shortened_not_rejected(fake: FakeModel) -> None:
    long = GOOD[0].rstrip(".") + ", " + ", ".join(["which the council had debated"] * 8) + "."
    fake.answers(_briefing(long, *GOOD[1:]))
    written = await _brief(_writer(_settings(fake.base_url)))
    assert written.origin == "model" and written.rejected == ()
    first = written.briefing.bullets[0].text
    assert len(first.split()) <= 30 and first.startswith("The Riverton city council voted")


async def test_a_429_is_retried_after_its_retry_after(fake: FakeModel) -> None:
    fake.answers(Reply(status=429, headers={"Retry-After": "1"}), _briefing(*GOOD))
    started = time.monotonic()
    written = await _brief(_writer(_settings(fake.base_url)))
    assert written.origin == "model"
    assert len(fake.requests) == 2 and time.monotonic() - started >= 1.0


async def test_a_500_is_retried_and_a_lasting_one_falls_back(fake: FakeModel) -> None:
    fake.answers(Reply(status=500), _briefing(*GOOD))
    assert (await _brief(_writer(_settings(fake.base_url)))).origin == "model"
    assert len(fake.requests) == 2
    fake.requests.clear()
    fake.answers(Reply(status=503))
    written = await _brief(_writer(_settings(fake.base_url, max_retries=2)))
    assert written.origin == "extract" and "503" in written.fallback
    assert len(fake.requests) == 3


async def test_a_stalled_model_falls_back_at_the_timeout(fake: FakeModel) -> None:
    fake.answers(Reply(content={"headline": "", "bullets": GOOD}, delay=30.0))
    started = time.monotonic()
    written = await _brief(_writer(_settings(fake.base_url, timeout=0.5)))
    assert written.origin == "extract"
    assert time.monotonic() - started < 3.0


async def test_a_reply_over_the_token_limits_falls_back(fake: FakeModel, store: Store) -> None:
    # a server that ignores max_tokens: its reply is not used
    fake.answers(Reply(content={"headline": HEADLINE, "bullets": GOOD}, completion_tokens=5000))
    written = await _brief(_writer(_settings(fake.base_url, max_output_tokens=600), store))
    assert written.origin == "extract" and "over the limit" in written.fallback
    # once the day's budget is spent, no request is made at all
    fake.requests.clear()
    other = _article(text=TEXT + " Work starts in spring.")
    written = await _brief(_writer(_settings(fake.base_url, daily_token_budget=1000), store), other)
    assert written.origin == "extract" and "budget" in written.fallback
    assert fake.requests == []


async def test_results_are_cached_by_model_and_request(fake: FakeModel, store: Store) -> None:
    fake.answers(_briefing(*GOOD[:3], INVENTED_NUMBER))
    first = await _brief(_writer(_settings(fake.base_url), store))
    again = await _brief(_writer(_settings(fake.base_url), store))
    assert len(fake.requests) == 1
    assert again.cached and again.briefing == first.briefing and again.rejected == first.rejected
    other = await _brief(_writer(_settings(fake.base_url, model="other-model"), store))
    assert len(fake.requests) == 2 and not other.cached


async def test_the_model_server_must_pass_the_address_rules(fake: FakeModel) -> None:
    written = await _brief(_writer(_settings(fake.base_url, allow_private=False)))
    assert written.origin == "extract" and "loopback" in written.fallback
    assert fake.requests == []


def test_the_key_comes_from_the_environment_only_and_is_masked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[llm]\napi_key = "sk-in-a-file"\n', encoding="utf-8")
    with pytest.raises(Exception, match="NEWSBRIEF_LLM_API_KEY"):
        load_settings(config, {})
    env = {
        "NEWSBRIEF_LLM_API_KEY": API_KEY,
        "NEWSBRIEF_LLM_BASE_URL": "https://models.example/v1",
        "NEWSBRIEF_LLM_MODEL": "news-model-1",
        "NEWSBRIEF_LLM_ENABLED": "true",
        "NEWSBRIEF_LLM_MAX_CONCURRENCY": "8",
    }
    settings = load_settings(None, env)
    assert settings.llm.max_concurrency == 8 and settings.secrets.llm_api_key == API_KEY
    out = io.StringIO()
    assert main(["check-config"], stdout=out, env=env) == 0
    assert API_KEY not in out.getvalue() and "NEWSBRIEF_LLM_API_KEY: set (***)" in out.getvalue()
    assert API_KEY not in repr(settings)


def test_summarize_llm_jsonl_reports_origin_and_rejected(fake: FakeModel, tmp_path: Path) -> None:
    def answer(body: dict[str, Any]) -> Reply:
        user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
        if "second" in user:
            return Reply(content="not json at all")
        return _briefing(*GOOD, INVENTED_NUMBER)

    fake.answer = answer
    rows = tmp_path / "in.jsonl"
    rows.write_text(
        json.dumps({"id": "a", "article": TEXT, "title": TITLE})
        + "\n"
        + json.dumps({"id": "b", "article": TEXT + " The second reading is in May."})
        + "\n",
        encoding="utf-8",
    )
    env = {
        "NEWSBRIEF_LLM_BASE_URL": fake.base_url,
        "NEWSBRIEF_LLM_MODEL": "news-model-1",
        "NEWSBRIEF_LLM_API_KEY": API_KEY,
        "NEWSBRIEF_LLM_ALLOW_PRIVATE": "true",
        "NEWSBRIEF_STORE_PATH": str(tmp_path / "bot.db"),
    }
    out = io.StringIO()
    assert main(["summarize", "--llm", "--jsonl", str(rows)], stdout=out, env=env) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["id"] == "a" and first["origin"] == "model" and first["bullets"] == GOOD
    assert first["rejected"] == [
        {"text": INVENTED_NUMBER, "reason": first["rejected"][0]["reason"]}
    ]
    assert second["id"] == "b" and second["origin"] == "extract" and second["rejected"] == []
    assert second["bullets"]  # the extractive briefing
    assert {r.body["model"] for r in fake.requests} == {"news-model-1"}
    stats = io.StringIO()
    assert main(["stats"], stdout=stats, env=env) == 0
    line = next(x for x in stats.getvalue().splitlines() if "news-model-1" in x)
    assert line.split()[2:3] == ["2"]  # two requests
    # without --llm, nothing is sent and the lines are as before
    plain = io.StringIO()
    assert main(["summarize", "--jsonl", str(rows)], stdout=plain, env=env) == 0
    assert len(fake.requests) == 2
    assert "origin" not in json.loads(plain.getvalue().splitlines()[0])


def test_summarize_llm_shows_the_check_for_a_file(fake: FakeModel, tmp_path: Path) -> None:
    fake.answers(_briefing(*GOOD, INVENTED_NAME))
    article = tmp_path / "story.txt"
    article.write_text(f"{TITLE}\nSource: Riverton Post\n\n{TEXT}\n", encoding="utf-8")
    env = {
        "NEWSBRIEF_LLM_BASE_URL": fake.base_url,
        "NEWSBRIEF_LLM_MODEL": "news-model-1",
        "NEWSBRIEF_LLM_ALLOW_PRIVATE": "true",
        "NEWSBRIEF_STORE_PATH": str(tmp_path / "bot.db"),
    }
    out = io.StringIO()
    assert main(["summarize", "--llm", str(article)], stdout=out, env=env) == 0
    text = out.getvalue()
    assert "(model: news-model-1)" in text and "✦" in text
    assert f"rejected: “{INVENTED_NAME}”" in text


async def test_a_digest_waits_for_the_model_at_most_its_deadline(fake: FakeModel) -> None:
    from bot.models import Briefing, Digest, Story

    article = _article(id=1)
    story = Story((article,), summarize(TEXT, TITLE))
    digest = Digest((story,), NOW, overview="1 new story.")
    fake.answers(Reply(content={"headline": HEADLINE, "bullets": GOOD}, delay=30.0))
    writer = _writer(_settings(fake.base_url, digest_deadline=0.5))
    started = time.monotonic()
    try:
        rewritten = await writer.rewrite_digest(digest)
    finally:
        await writer.close()
    assert time.monotonic() - started < 2.0
    assert rewritten.stories[0].briefing == story.briefing
    fake.answers(_briefing(*GOOD))
    writer = _writer(_settings(fake.base_url))
    try:
        rewritten = await writer.rewrite_digest(digest)
    finally:
        await writer.close()
    assert isinstance(rewritten.stories[0].briefing, Briefing)
    assert all(b.written for b in rewritten.stories[0].briefing.bullets)


def test_with_the_model_off_nothing_is_sent(fake: FakeModel) -> None:
    settings = Settings(llm=LlmSettings(base_url=fake.base_url, model="m", allow_private=True))
    assert ModelWriter.from_settings(settings) is None
    out = io.StringIO()
    env = {"NEWSBRIEF_LLM_BASE_URL": fake.base_url, "NEWSBRIEF_LLM_MODEL": "m"}
    assert main(["summarize", "--jsonl", "-"], stdin=io.StringIO(json.dumps(
        {"id": 1, "article": TEXT}) + "\n"), stdout=out, env=env) == 0  # fmt: skip
    assert fake.requests == []
    asyncio.get_event_loop_policy()  # the fake's own loop is a thread: nothing left running


async def _ask(settings: Settings, store: Store, question: str) -> Any:
    from bot.commands import handle
    from bot.engine import Engine
    from bot.ingest.http import FetchPolicy
    from bot.models import ChannelRef

    engine = Engine(store, settings, FetchPolicy())  # builds the [llm] writer from settings
    assert engine.writer is not None
    try:
        return await handle(engine.context(ChannelRef("console", "t")), f"/ask {question}")
    finally:
        await engine.aclose()


@pytest.fixture
def seeded(seeded_store: Store) -> Store:
    seeded_store.add_article(_article(), summarize(TEXT, TITLE))
    return seeded_store


QUESTION = "How many parking spaces does the bike lane plan remove?"


async def test_ask_with_the_model_answers_from_the_cited_sentences(
    fake: FakeModel, seeded: Store
) -> None:
    from adapters.console import to_console_reply

    fake.answers(Reply(content={"answer": ["The plan removes 120 parking spaces [1]."]}))
    reply = await _ask(_settings(fake.base_url), seeded, QUESTION)
    assert reply.answer is not None and reply.answer.answered
    assert reply.answer.text == "The plan removes 120 parking spaces [1]."
    assert "120 parking spaces" in reply.answer.citations[0].sentence
    [request] = fake.requests
    assert reply.answer.citations[0].sentence in request.user
    shown = to_console_reply(reply)
    assert "✦ The plan removes 120 parking spaces [1]." in shown and "Riverton Post" in shown


async def test_ask_drops_an_invented_answer_and_says_when_the_articles_dont(
    fake: FakeModel, seeded: Store
) -> None:
    fake.answers(Reply(content={"answer": ["The plan removes 300 parking spaces [1]."]}))
    reply = await _ask(_settings(fake.base_url), seeded, QUESTION)
    assert reply.answer is not None and reply.answer.answered and reply.answer.text == ""
    fake.answers(Reply(content={"answer": []}))
    reply = await _ask(_settings(fake.base_url, model="other"), seeded, QUESTION)
    assert reply.text == "The stored articles I found don't say."
    assert reply.answer is not None and not reply.answer.answered


async def test_brief_with_the_model_goes_through_the_command_path(
    fake: FakeModel, seeded: Store
) -> None:
    """/brief reads in a worker thread, then the model rewrites what it found on the loop."""
    from bot.commands import handle
    from bot.engine import Engine
    from bot.ingest.http import FetchPolicy
    from bot.models import ChannelRef

    fake.answers(_briefing(*GOOD))
    engine = Engine(seeded, _settings(fake.base_url), FetchPolicy())
    try:
        reply = await handle(engine.context(ChannelRef("console", "t")), "/brief bike lane")
    finally:
        await engine.aclose()
    assert reply.digest is not None and fake.requests
    (story,) = [s for s in reply.digest.stories if s.lead.title == TITLE]
    assert [b.text for b in story.briefing.bullets] == list(GOOD)
    assert all(b.origin == "model" for b in story.briefing.bullets)
