"""Select what a channel has not been sent, rank it, and build a Digest of briefed stories.

Example:
    digest = build_digest(store, ChannelRef("console", "terminal"), max_stories=10)
    ...  # send it, then:
    mark_delivered(store, channel, digest)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.models import Article, Briefing, ChannelRef, Digest, Story
from bot.store import Store
from bot.summarize import summarize


def build_digest(
    store: Store,
    channel: ChannelRef,
    *,
    max_stories: int = 10,
    now: datetime | None = None,
) -> Digest:
    """The newest stories `channel` has not been sent, at most `max_stories` of them."""
    moment = now or datetime.now(UTC)
    since = store.last_delivery(channel)
    articles = store.undelivered_articles(channel, limit=max_stories)
    stories = stories_for(store, articles)
    return Digest(
        stories=tuple(stories),
        generated_at=moment,
        overview=overview(stories, since),
        since=since,
    )


def latest_stories(store: Store, *, limit: int = 5, topic: str = "") -> list[Story]:
    """The newest stories, or for a topic the best full-text matches."""
    articles = (
        store.search_articles(topic, limit=limit) if topic.strip() else store.recent_articles(limit)
    )
    return stories_for(store, articles)


def stories_for(store: Store, articles: Sequence[Article]) -> list[Story]:
    """One story per article, with its stored briefing (made and stored now if missing)."""
    ids = [a.id for a in articles if a.id is not None]
    briefings = store.get_briefings(ids)
    stories = []
    for article in articles:
        briefing = briefings.get(article.id) if article.id is not None else None
        if briefing is None:
            briefing = summarize(article.text, article.title or None)
            if article.id is not None:
                store.put_briefing(article.id, briefing)
        stories.append(Story(articles=(article,), briefing=_titled(briefing, article)))
    return stories


def mark_delivered(store: Store, channel: ChannelRef, digest: Digest) -> int:
    """Record every article of `digest` as sent to `channel`, so no later digest repeats it."""
    ids = [a.id for s in digest.stories for a in s.articles if a.id is not None]
    return store.record_deliveries(channel, ids, digest.generated_at)


def overview(stories: Sequence[Story], since: datetime | None) -> str:
    """One line for the top of a digest: how many stories, from how many outlets."""
    if not stories:
        when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        return f"Nothing new{when}."
    outlets = {source for story in stories for source in story.sources}
    noun = "story" if len(stories) == 1 else "stories"
    sources = "source" if len(outlets) == 1 else "sources"
    return f"{len(stories)} new {noun} from {len(outlets)} {sources}."


def _titled(briefing: Briefing, article: Article) -> Briefing:
    if briefing.headline or not article.title:
        return briefing
    return Briefing(headline=article.title, bullets=briefing.bullets)
