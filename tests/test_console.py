"""Commands through the console adapter: typed lines in, printed replies out."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter, to_console_text
from bot.config import Settings
from bot.digest import build_digest, mark_delivered
from bot.engine import Engine
from bot.models import Article, Briefing, Bullet, ChannelRef, Digest, Story
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("console", "terminal")


@pytest.fixture
def store(seeded_store: Store) -> Store:
    return seeded_store


async def run_lines(store: Store, text: str, settings: Settings | None = None) -> str:
    engine = Engine(store, settings or Settings())
    out = io.StringIO()
    console = ConsoleAdapter(
        engine.commands.dispatch, channel=CHANNEL, stdin=io.StringIO(text), stdout=out
    )
    await console.start()
    return out.getvalue()


async def test_help_lists_every_command_with_an_example(store: Store) -> None:
    out = await run_lines(store, "/help\n")
    assert "/brief [public] [topic]" in out
    assert "e.g. /brief security guarantees" in out
    assert "/help" in out


async def test_brief_shows_latest_stories_seed_first(store: Store) -> None:
    out = await run_lines(store, "/brief\n")
    assert out.startswith("Latest 5 stories.")
    first = out.split("\n2. ")[0]
    assert "1. " in first
    assert "European Pravda" in first
    assert "17 Aug 2025" in first


async def test_brief_with_topic_uses_full_text_search(store: Store) -> None:
    out = await run_lines(store, "/brief bike lanes\n/brief 'heatwave'\n/brief zzzqqq\n")
    assert 'Top 1 story on "bike lanes"' in out
    assert "Riverton Courier" in out
    assert 'Top 1 story on "heatwave"' in out
    assert "Central Europe Wire" in out
    assert 'No stored stories match "zzzqqq"' in out


async def test_bad_input_gets_a_one_line_answer_and_the_loop_goes_on(store: Store) -> None:
    long_line = "/brief " + "x" * 10_000
    out = await run_lines(store, f"/nope\n\n{long_line}\n/brief \x1b[2J\x07bike\n/help\n")
    assert "Unknown command /nope. Type /help for the list." in out
    assert "too long" in out
    assert "Riverton Courier" in out  # control characters dropped, the topic still found
    assert "/brief [public] [topic]" in out  # the last command was still answered
    assert "Traceback" not in out


async def test_digest_records_deliveries_and_never_repeats(store: Store) -> None:
    now = datetime(2026, 1, 1, 9, tzinfo=UTC)
    first = build_digest(store, CHANNEL, max_stories=3, now=now)
    assert len(first.stories) == 3
    assert first.overview == "3 new stories from 3 sources (3 more not shown)."
    assert mark_delivered(store, CHANNEL, first) == 3
    second = build_digest(store, CHANNEL, max_stories=10, now=now)
    seen = {a.id for s in first.stories for a in s.articles}
    assert seen.isdisjoint(a.id for s in second.stories for a in s.articles)
    mark_delivered(store, CHANNEL, second)
    third = build_digest(store, CHANNEL, now=now)
    assert third.empty
    assert third.overview == "Nothing new since 2026-01-01 09:00 UTC."
    # another channel still gets everything
    assert len(build_digest(store, ChannelRef("slack", "C1"), now=now).stories) == 6


def test_article_text_cannot_drive_the_terminal(store: Store) -> None:
    store.add_article(
        Article(
            url="https://e.org/evil",
            title="Evil \x1b]0;pwned\x07 title",
            source="Evil \x1b[31mRed",
            text="A sentence with \x1b[2J a screen clear. Another one follows here.",
            published=datetime(2030, 1, 1, tzinfo=UTC),
            fetched_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
    )
    text = to_console_text(build_digest(store, CHANNEL, max_stories=1))
    assert "\x1b" not in text and "\x07" not in text
    assert "Evil" in text


def test_story_bullets_name_their_outlet_on_one_line() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    articles = tuple(
        Article(f"https://e.org/{k}", "Title", s, "Text.", when, when, id=k)
        for k, s in enumerate(["Reuters", "Evil\n1. Fake \x1b[2Jstory"])
    )
    bullets = (
        Bullet("140 barges were waiting.", source="Reuters"),
        Bullet("A fact.", source=articles[1].source),
    )
    digest = Digest((Story(articles, Briefing("Headline", bullets)),), when, overview="1 story.")
    text = to_console_text(digest)
    assert "\n   - Reuters: 140 barges were waiting.\n" in text
    assert "\n   - Evil 1. Fake story: A fact." in text
    bullets_shown = text.split("\n   - ", 1)[1]
    assert "\x1b" not in bullets_shown and "\n1. Fake" not in bullets_shown
