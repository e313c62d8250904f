"""What a new or a hostile user hits first (issue 14), each through the real surface: the
console process, the real bolt app and discord.py client against the loopback fakes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from adapters.console import to_console_text
from adapters.discord import to_discord_answer, to_discord_embeds, to_discord_reply
from adapters.slack import SlackAdapter, to_slack_messages
from adapters.slack.render import to_slack_answer
from bot.commands import from_line
from bot.config import DigestSettings, FeedSettings, Secrets, Settings, SlackSettings
from bot.delivery import Delivery, slot_key
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.models import Answer, Article, Briefing, Bullet, ChannelRef, Citation, Digest, Story
from bot.store import Store
from tests.discord_fakes import FakeDiscord, Planned
from tests.servers import LoopbackServer
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body
from tests.surfaces import Surfaces, discord_text, slack_text

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHANNEL = ChannelRef("slack", "C1")
LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?!\s)")  # a masked link Discord would render


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
    env.pop("DISCORD_BOT_TOKEN", None)
    env.update(extra)
    return env


def _article(n: int, source: str, url: str, title: str = "Title", **kw: object) -> Article:
    return Article(url, title, source, "Text.", NOW, NOW, id=n, **kw)  # type: ignore[arg-type]


# The console --------------------------------------------------------------------------------


def test_console_survives_huge_numbers_bad_bytes_and_takes_public_as_slack_does(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    empty_page = loopback.add("/empty", body="<html><body></body></html>")
    lines = (
        b"/unsubscribe 999999999999999999999999999999\n"
        b"/filter \xff\n"
        b"/brief public bike lanes\n"
        b"/subscribe http:/127.0.0.1/x\n"
        b"/subscribe http://[\n"
        b"/subscribe http://127.0.0.1:1/xoxb-123456789012-abcdefghijklmnop\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"), "seeds/",
         empty_page],
        cwd=ROOT, input=lines, capture_output=True, timeout=120,
        env=_env(NEWSBRIEF_FETCH_ALLOW_PRIVATE="true", NEWSBRIEF_LOG_LEVEL="INFO"),
    )  # fmt: skip
    out, err = done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in out + err, err[-3000:]
    assert "This channel does not follow 9999" in out
    assert "No filter" in out or "Usage: /filter" in out  # the bad byte is no word
    assert 'Top 1 story on "bike lanes"' in out  # "public" shares; it is not a search word
    assert out.count("is a malformed address") == 2 and "host not found" not in out
    assert "xoxb-123456789012" not in out and "***" in out  # a pasted token is masked
    # library chatter (httpx's request lines, trafilatura's parse errors) stays out of the
    # conversation
    assert "HTTP Request" not in out + err and "parsed tree" not in out + err
    assert done.returncode == 1  # the empty page failed to ingest, and said so in one line
    assert f"error: {empty_page}:" in out


def test_a_second_console_run_says_nothing_new_once_and_posts_no_empty_digest(
    tmp_path: Path,
) -> None:
    args = [sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"), "seeds/"]
    subprocess.run(args, cwd=ROOT, input=b"", capture_output=True, timeout=120, env=_env())
    again = subprocess.run(
        args[:-1], cwd=ROOT, input=b"/digest now\n", capture_output=True, timeout=120, env=_env()
    )
    out = again.stdout.decode()
    assert out.count("Nothing new since") == 2, out  # at start, and the /digest now reply
    assert "Nothing new since" in out and "no digest was posted" in out
    assert "Digest posted" not in out


def test_articles_search_counts_its_matches(tmp_path: Path) -> None:
    db = str(tmp_path / "bot.db")
    env = _env()
    subprocess.run([sys.executable, "-m", "bot", "ingest", "--db", db, "seeds/"], cwd=ROOT,
                   capture_output=True, timeout=120, env=env)  # fmt: skip
    found = subprocess.run(
        [sys.executable, "-m", "bot", "articles", "--db", db, "--search", "bike lanes"],
        cwd=ROOT, capture_output=True, timeout=60, env=env,
    )  # fmt: skip
    assert found.stdout.decode().splitlines()[-1] == "1 article matches; 6 articles stored."


# Commands in the core -------------------------------------------------------------------------


async def test_filters_exclude_take_phrases_and_are_named_when_nothing_matches(
    seeded_store: Store,
) -> None:
    engine = Engine(seeded_store, Settings())

    async def say(line: str) -> str:
        return (await engine.commands.dispatch(from_line(CHANNEL, line))).text

    assert await say('/filter "unclosed') == (
        "From now on only stories that mention unclosed reach this channel."
    )
    assert await say("/filter heatwave") == (
        "From now on only stories that mention heatwave reach this channel."
    )
    assert await say("/brief bike") == (
        'No stored stories match "bike" under this channel\'s filter '
        "(only stories that mention heatwave; see /filter)."
    )
    await say('/filter -heatwave -"bike lanes"')
    brief = await engine.commands.dispatch(from_line(CHANNEL, "/brief"))
    assert brief.digest is not None and brief.digest.stories
    sources = {s.lead.source for s in brief.digest.stories}
    assert "Central Europe Wire" not in sources and "Riverton Courier" not in sources
    assert await say("/filter") == (
        'Filter: only stories that do not mention heatwave or "bike lanes".'
    )


async def test_subscribe_and_unsubscribe_replies_read_well(
    seeded_store: Store, loopback: LoopbackServer
) -> None:
    feed = loopback.add(
        "/rss.xml",
        body='<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Wire</title>'
        "<item><title>Ferry adds night crossings</title><link>https://h.example/ferry</link>"
        "<description>The harbour ferry will run every hour through the night from March, "
        "the operator said on Monday.</description></item></channel></rss>",
        content_type="application/rss+xml",
    )
    settings = Settings(feeds=FeedSettings(poll_interval=60))
    engine = Engine(seeded_store, settings, loopback.policy())
    added = await engine.commands.dispatch(from_line(CHANNEL, f"/subscribe {feed}"))
    assert "1 article now, new ones polled every minute." in added.text, added.text
    gone = await engine.commands.dispatch(from_line(CHANNEL, "/unsubscribe 1"))
    assert gone.text == f"Unsubscribed from Harbour Wire ({feed})."


# Slack ----------------------------------------------------------------------------------------


@pytest.fixture
async def slack(seeded_store: Store) -> AsyncIterator[tuple[SlackAdapter, FakeSlack]]:
    async with FakeSlack() as fake:
        settings = Settings(
            slack=SlackSettings(mode="http", port=0, api_base_url=fake.api_url),
            secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET),
        )
        adapter = SlackAdapter(Engine(seeded_store, settings, FetchPolicy()), ack_budget=2.0)
        await adapter.start()
        yield adapter, fake
        await adapter.close()


async def test_slack_http_refuses_malformed_requests_quietly(
    slack: tuple[SlackAdapter, FakeSlack], caplog: pytest.LogCaptureFixture
) -> None:
    adapter, fake = slack
    url = f"http://127.0.0.1:{adapter.port}/slack/events"
    body = slash_body("/brief", "", response_url=fake.response_url)
    statuses = []
    with caplog.at_level(logging.DEBUG):
        async with aiohttp.ClientSession() as session:
            for stamp in ("abc", "1.7e9", "0x10", "", "9" * 40):
                headers = signed_headers(body) | {"X-Slack-Request-Timestamp": stamp}
                async with session.post(url, data=body, headers=headers) as r:
                    statuses.append(r.status)
            bad = body + b"&text=\xff"
            async with session.post(url, data=bad, headers=signed_headers(bad)) as r:
                statuses.append(r.status)
    assert statuses == [401, 401, 401, 401, 401, 400]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_slack_never_logs_that_the_token_goes_unused(
    seeded_store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    settings = Settings(
        slack=SlackSettings(mode="http"),
        secrets=Secrets(slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET),
    )
    with caplog.at_level(logging.DEBUG):
        SlackAdapter(Engine(seeded_store, settings))
    assert "will be unused" not in caplog.text


def test_slack_feed_text_is_verbatim_and_dates_without_a_time_have_none() -> None:
    # a date-only source: published at midnight UTC
    lead = Article("https://w.example/1", "T", "Wire", "Text.", datetime(2025, 8, 17, tzinfo=UTC),
                   NOW, id=1)  # fmt: skip
    briefing = Briefing("Flood \u202ecod.exe warning", (Bullet("Alert @here and @channel now."),))
    story = Story((lead,), briefing)
    (message,) = to_slack_messages(Digest((story,), NOW, "1 story."))
    texts = [t for b in message["blocks"] for t in [b.get("text"), *b.get("elements", [])] if t]
    mrkdwn = [t for t in texts if t["type"] == "mrkdwn"]
    assert mrkdwn and all(t.get("verbatim") is True for t in mrkdwn)
    shown = json.dumps(message, ensure_ascii=False)
    assert "\u202e" not in shown
    assert "17 Aug 2025 00:00" not in shown and "17 Aug 2025" in shown
    assert "\u202e" not in to_console_text(Digest((story,), NOW, "1 story."))


def test_slack_citation_label_never_names_another_host() -> None:
    cite = Citation("Sentence.", 1, "Title", "https://evil.example", "https://news.example/a", NOW)
    (message,) = to_slack_answer(Answer("q?", (cite,)), "From 1 article:")
    shown = json.dumps(message)
    assert "|news.example>" in shown and "evil.example" not in shown


async def test_scheduled_digest_with_nothing_new_posts_nothing_unless_asked(
    slack: tuple[SlackAdapter, FakeSlack], seeded_store: Store
) -> None:
    adapter, fake = slack
    quiet = Delivery(seeded_store, {"slack": adapter})
    assert (await quiet.send(CHANNEL, slot_key(NOW), now=NOW)).status == "sent"
    assert len(fake.kept("C1")) == 1  # the first digest, with the seeds' stories
    later = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    outcome = await quiet.send(CHANNEL, slot_key(later), now=later)
    assert outcome.status == "sent" and outcome.digest is not None and outcome.digest.empty
    assert len(fake.kept("C1")) == 1  # nothing posted
    settings = Settings(digest=DigestSettings(post_empty=True))
    told = Delivery.from_settings(seeded_store, settings, {"slack": adapter})
    last = datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    await told.send(CHANNEL, slot_key(last), now=last)
    assert len(fake.kept("C1")) == 2 and "No new stories" in json.dumps(fake.kept("C1")[-1])


# Discord --------------------------------------------------------------------------------------


def test_discord_escapes_every_link_and_labels_only_their_own_host() -> None:
    articles = (
        _article(1, "Wire", "https://news.example/1"),
        _article(2, "x](https://evil.example) [y", "https://news.example/2"),
        _article(3, "evil.example", "https://news.example/3"),
    )
    text = "see [a](https://a.example) and [b](https://b.example), or https://c.example"
    story = Story(articles, Briefing("Headline", (Bullet(text, source="Wire"),)))
    (embed,) = to_discord_embeds(Digest((story,), NOW, "1 story."))
    description = embed.description or ""
    own = description.split("\nAlso: ")[1]
    assert own == "[news.example](https://news.example/2) · [news.example](https://news.example/3)"
    bullets = description.split("\nAlso: ")[0]
    assert not LIVE_LINK.search(bullets) and "https://c" not in bullets
    cite = Citation("S.", 1, "T", "https://evil.example", "https://news.example/a", NOW)
    assert "[news.example](https://news.example/a)" in (
        to_discord_answer(Answer("q?", (cite,))).description or ""
    )


async def test_discord_topic_cannot_post_a_live_link(seeded_store: Store) -> None:
    with Surfaces(seeded_store) as surfaces:
        bodies = await asyncio.to_thread(
            surfaces.discord, "brief", {"topic": "[x](https://evil.example)", "public": True}
        )
    shown = discord_text(bodies)
    assert "evil" in shown and not LIVE_LINK.search(shown) and "https://evil" not in shown


def test_discord_reply_text_is_escaped_but_help_keeps_its_table() -> None:
    from bot.commands import Reply

    (message,) = to_discord_reply(Reply('Filter: only stories that mention "[a](https://x.y)".'))
    assert not LIVE_LINK.search(message.content)
    (help_,) = to_discord_reply(Reply("Commands:\n/brief [public] [topic]  the latest"))
    assert "/brief [public] [topic]" in help_.content


def test_surfaces_helpers_see_text() -> None:
    assert slack_text([{"text": "a", "blocks": []}]) == "a"


# Tokens and platforms that refuse them ---------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_discord_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.plan("/users/@me", Planned(401, {"message": "401: Unauthorized", "code": 0}))
        urls = fake.urls()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"),
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=_env(
                DISCORD_BOT_TOKEN="MTAxMjM0NTY3ODkwMTIzNDU2.GaBcDe.abcdefghijklmnopqrstuvwxyz01234",
                NEWSBRIEF_DISCORD_API_BASE_URL=urls["api_base_url"],
                NEWSBRIEF_DISCORD_GATEWAY_URL=urls["gateway_url"],
                NEWSBRIEF_HEALTH_PORT=str(_free_port()),
            ),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    logs = err.decode()
    assert proc.returncode == 2, logs[-2000:]
    assert "Traceback" not in logs
    assert "discord stopped: Discord refused DISCORD_BOT_TOKEN" in logs
    assert "abcdefghijklmnopqrstuvwxyz01234" not in logs


async def test_a_revoked_slack_token_stops_slack_and_shows_in_readyz(tmp_path: Path) -> None:
    health = _free_port()
    async with FakeSlack() as slack, FakeDiscord() as discord:
        slack.errors["auth.test"] = ["token_revoked"]
        urls = discord.urls()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"),
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=_env(
                SLACK_BOT_TOKEN="xoxb-revoked-123456", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                NEWSBRIEF_SLACK_MODE="http", NEWSBRIEF_SLACK_PORT=str(_free_port()),
                NEWSBRIEF_SLACK_API_BASE_URL=slack.api_url,
                DISCORD_BOT_TOKEN="discord-token", NEWSBRIEF_HEALTH_PORT=str(health),
                NEWSBRIEF_DISCORD_API_BASE_URL=urls["api_base_url"],
                NEWSBRIEF_DISCORD_GATEWAY_URL=urls["gateway_url"],
            ),
        )  # fmt: skip
        try:
            body: dict[str, object] = {}
            deadline = time.monotonic() + 30
            async with aiohttp.ClientSession() as session:
                # until Slack's start has failed (it reads "starting" before auth.test answers)
                while "error" not in json.dumps(body.get("checks", {}).get("slack", {})):
                    assert time.monotonic() < deadline, body
                    await asyncio.sleep(0.2)
                    try:
                        async with session.get(f"http://127.0.0.1:{health}/readyz") as r:
                            status, body = r.status, await r.json()
                    except aiohttp.ClientConnectionError:
                        continue
            checks = body["checks"]
            assert isinstance(checks, dict)
            assert status == 503 and checks["slack"]["ok"] is False
            assert "token_revoked" in checks["slack"]["error"]
        finally:
            proc.terminate()
            _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    logs = err.decode()
    assert "slack stopped: Slack refused SLACK_BOT_TOKEN (token_revoked)" in logs
    assert "Traceback" not in logs and "xoxb-revoked-123456" not in logs
