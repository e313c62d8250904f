"""Digests over real grouped news: ranking by outlets then recency, and the overview's counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.cluster import assign_story
from bot.digest import build_digest
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article, ChannelRef
from bot.store import open_store
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
