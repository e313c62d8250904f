"""Digests over real grouped news: ranking by outlets then recency, and the overview's counts."""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cluster import assign_story
from bot.digest import (
    CANDIDATE_LIMIT,
    build_digest,
    mark_delivered,
    rank_stories,
    window_start,
)
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article, Briefing, Bullet, ChannelRef
from bot.store import Store, open_store
from bot.updates import select_updates
from tests.conftest import write_dev_events

CHANNEL = ChannelRef("console", "terminal")


async def test_stories_of_more_outlets_rank_first_then_the_newest(
    db_target: str, tmp_path: Path
) -> None:
    feed, _ = write_dev_events(tmp_path)
    store = open_store(db_target)
    result = await ingest([str(feed)], store, FetchPolicy())
    assert result.ok
    newest = max(a.published for a in result.added if a.published)
    # one outlet's report of something else, the newest of all: fewer outlets rank it last
    lone = Article(
        url="https://lone.example/quake",
        title="Earthquake of magnitude 5.1 shakes Reykjanes peninsula",
        source="Iceland Monitor",
        text="An earthquake of magnitude 5.1 struck the Reykjanes peninsula on Tuesday night, "
        "the Icelandic Met Office said, the strongest there since the eruptions began.",
        published=newest + timedelta(hours=5),
        fetched_at=newest + timedelta(hours=5),
    )
    stored, _ = store.add_article(lone)
    assign_story(store, stored)

    digest = build_digest(store, CHANNEL, now=newest + timedelta(hours=6), max_stories=20)
    assert len(digest.stories) == 9
    outlets = [len(s.sources) for s in digest.stories]
    assert outlets == sorted(outlets, reverse=True) and outlets[-1] == 1
    assert digest.stories[-1].lead.url == lone.url
    # among the eight three-outlet stories, the two of the last two days first (the rest are
    # weeks old, where recency no longer counts and the fuller story wins)
    times = [max(a.published or a.fetched_at for a in s.articles) for s in digest.stories[:8]]
    fresh = newest - timedelta(days=2)
    assert [t >= fresh for t in times] == [True, True] + [False] * 6
    named = {a.source for a in result.added} | {"Iceland Monitor"}
    assert digest.overview == f"9 new stories from {len(named)} sources."
    assert all(s.coverage.startswith("3 sources: ") for s in digest.stories[:8])
    # the next digest has nothing new, and says so
    store.record_deliveries(CHANNEL, [a.id for s in digest.stories for a in s.articles if a.id])
    later = build_digest(store, CHANNEL, now=newest + timedelta(hours=7))
    assert later.empty and later.overview.startswith("Nothing new since ")


def _many_stories(
    store: Store, stories: int, *, words: int = 60, fetched: datetime | None = None
) -> datetime:
    """`stories` stories of 1-4 reports each from a few outlets (some unnamed), at times that
    tie now and then, with texts of different lengths (some not ASCII); returns the newest
    time. Every report is stored with a briefing and joined to its story, fetched as it was
    published or, given `fetched`, then (one poll bringing in a backlog)."""
    rng = random.Random(5)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    newest = start
    for number in range(stories):
        when = start + timedelta(hours=rng.choice((1, 2, 3, 5, 8)) * (number // 3))
        story_id = None
        for report in range(rng.choice((1, 1, 2, 3, 4))):
            outlet = rng.choice(("Daily Post", "Morning Star", "", "", "Courier"))
            filler = " ".join(f"word{rng.randrange(10_000)}" for _ in range(words * (1 + report)))
            accent = "é" * rng.randrange(0, 40)  # one character, two bytes
            article = Article(
                url=f"https://news.example/{number}/{report}",
                title=f"Event {number} reported {report}",
                source=outlet,
                text=f"Event {number} happened, report {report} says. {accent} {filler}.",
                published=when + timedelta(minutes=rng.choice((0, 0, 30))),
                fetched_at=fetched or when,
                origin=f"https://feed{rng.randrange(3)}.example/rss",
            )
            lead = Bullet(f"Event {number} happened, report {report} says.")
            story_id = _filed(store, article, lead, story_id, moment=when)
            newest = max(newest, article.published or when)
    return newest


def _filed(
    store: Store, article: Article, lead: Bullet, story_id: int | None, *, moment: datetime
) -> int:
    """Store `article` with a briefing of `lead` and join it to `story_id` (a story of its own
    when None) at `moment`; returns the story's id."""
    stored, _ = store.add_article(article, Briefing(article.title, (lead,)))
    assert stored.id is not None
    story_id = story_id or stored.id
    store.join_story(
        stored.id, story_id, moment=moment, terms=[], vector={}, index_terms=[], centroid_terms=0
    )
    return story_id


def test_a_digest_ranks_and_settles_as_ranking_every_story_whole_would(db_target: str) -> None:
    store = open_store(db_target)
    newest = _many_stories(store, 60)
    now = newest + timedelta(hours=2)
    # sent before: two stories whole, then one gets a new report and the other nothing new
    first = build_digest(store, CHANNEL, max_stories=2, now=now - timedelta(days=5))
    mark_delivered(store, CHANNEL, first)
    grown = first.stories[0]
    late = Article(
        url="https://late.example/1",
        title="A late report of the first story",
        source="Late Herald",
        text="Something new: 42 people were moved out overnight, officials said today.",
        published=newest,
        fetched_at=newest,
    )
    stored, _ = store.add_article(late, Briefing(late.title, (Bullet(late.text),)))
    assert stored.id is not None and grown.lead.id is not None
    store.join_story(
        stored.id,
        store.story_ids([grown.lead.id])[grown.lead.id],
        moment=newest,
        terms=[],
        vector={},
        index_terms=[],
        centroid_terms=0,
    )
    hidden = store.hidden_sources(CHANNEL, ())
    window = window_start(store.last_delivery(CHANNEL), now)
    fresh = store.undelivered_articles(
        CHANNEL, limit=CANDIDATE_LIMIT, hidden=hidden, fetched_since=window
    )
    assert 10 < len(fresh) < store.count_articles() - 10  # the window leaves some out
    whole, settled = select_updates(store, CHANNEL, rank_stories(store, fresh, now=now))

    digest = build_digest(store, CHANNEL, max_stories=7, now=now)
    shown = [(s.update, s.briefing, [a.id for a in s.articles]) for s in digest.stories]
    assert shown == [(s.update, s.briefing, [a.id for a in s.articles]) for s in whole[:7]]
    assert digest.stories[0].update or any(s.update for s in digest.stories)
    assert [a.id for a in digest.settled] == [a.id for a in settled]
    assert digest.overview.endswith(f"({len(whole) - 7} more not shown).")


def test_a_digest_reads_whole_only_the_stories_it_shows(tmp_path: Path) -> None:
    store = open_store(tmp_path / "many.db")
    now = datetime(2025, 6, 1, tzinfo=UTC)
    _many_stories(store, 300, words=400, fetched=now)  # one poll: every story in the window
    stored = store.db.execute("SELECT sum(length(text)) FROM articles").fetchone()[0]
    build_digest(store, CHANNEL, max_stories=5, now=now)  # the summariser's caches filled
    tracemalloc.start()
    try:
        digest = build_digest(store, CHANNEL, max_stories=5, now=now)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(digest.stories) == 5 and "(295 more not shown)" in digest.overview
    # every candidate read whole would hold each stored text at least once (twice, as the
    # candidates and as their stories' members)
    assert stored > 4_000_000 and peak < stored / 2, (peak, stored)


def _story(store: Store, name: str, outlets: int, fetched: datetime) -> None:
    """One story of `name`, carried by `outlets` outlets, each report fetched (and
    published) at `fetched`."""
    story_id = None
    for number in range(outlets):
        text = f"The {name} story happened, outlet {number} reported in a report of its own."
        article = Article(
            url=f"https://outlet{number}.example/{name}",
            title=f"The {name} story",
            source=f"Outlet {number}",
            text=text,
            published=fetched,
            fetched_at=fetched,
        )
        story_id = _filed(store, article, Bullet(text), story_id, moment=fetched)


def test_a_digest_offers_what_came_since_the_last_one_and_at_least_the_last_day(
    db_target: str,
) -> None:
    store = open_store(db_target)
    now = datetime(2025, 3, 10, 9, tzinfo=UTC)
    # carried by five outlets, it would outrank the fresh story on outlets alone
    _story(store, "stale", 5, now - timedelta(days=3))
    _story(store, "fresh", 1, now - timedelta(hours=2))
    # a channel's first digest: the last day, not a story three days old that it never saw
    first = build_digest(store, CHANNEL, now=now)
    assert [s.lead.title for s in first.stories] == ["The fresh story"]
    assert "more not shown" not in first.overview
    # a channel whose last digest was four days ago gets everything since, best first
    away = ChannelRef("console", "away")
    old = Article(
        url="https://outlet0.example/sent",
        title="Sent four days ago",
        source="Outlet 0",
        text="A report this channel was sent four days ago, before it went quiet.",
        published=now - timedelta(days=4, hours=2),
        fetched_at=now - timedelta(days=4, hours=2),
    )
    sent, _ = store.add_article(old, Briefing(old.title, (Bullet(old.text),)))
    assert sent.id is not None
    store.record_deliveries(away, [sent.id], now - timedelta(days=4))
    back = build_digest(store, away, now=now)
    assert [s.lead.title for s in back.stories] == ["The stale story", "The fresh story"]
    mark_delivered(store, away, back)
    # and an hour later, nothing it has not had
    assert build_digest(store, away, now=now + timedelta(hours=1)).stories == ()


def test_stories_of_equal_rank_come_in_the_order_of_their_reports(db_target: str) -> None:
    store = open_store(db_target)
    when = datetime(2025, 3, 1, tzinfo=UTC)
    for number in (3, 1, 2):
        # one outlet, one time, texts of one length: every story scores the same
        text = f"Story number {number} happened here today, the outlet said."
        article = Article(
            url=f"https://same.example/{number}",
            title=f"Story {number}",
            source="Same Outlet",
            text=text,
            published=when,
            fetched_at=when,
        )
        store.add_article(article, Briefing(article.title, (Bullet(text),)))
    now = when + timedelta(hours=1)
    digest = build_digest(store, CHANNEL, max_stories=2, now=now)
    fresh = store.undelivered_articles(CHANNEL)
    assert [s.lead.url for s in digest.stories] == [
        s.lead.url for s in rank_stories(store, fresh, now=now)[:2]
    ]
    # reports of one time come fuller first, then as they were stored
    assert [s.lead.url for s in digest.stories] == [
        "https://same.example/3",
        "https://same.example/1",
    ]
    assert digest.overview.endswith("(1 more not shown).")
