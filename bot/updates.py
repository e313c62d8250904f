"""Updates, not repeats: what of a story a channel was sent before is new to it.

A story comes back to a channel only with something new to it: a report it was not sent, or a
report revised since it was shown. It then comes once, marked as an update, carrying only the
new and revised reports that add something (a bullet the channel was not shown, or an outlet it
did not see) and only the bullets it was not shown; the same fact re-worded does not count as
new (`same_fact`), a changed number does. With nothing new it is not shown, and its new reports
are *settled*: recorded as delivered with the digest, so they do not bring it back.

What a channel was shown (each article's revision, each story's outlets and bullets) is built
by `views_of` when a digest run is planned, kept with the run, and written by the store once, in
the transaction that marks the run sent (`Store.finish_run`), so a digest retried after a crash
(`bot.digest.digest_of`, or its stored plan) decides the same way.

Example:
    stories, settled = select_updates(store, channel, rank_stories(store, articles, now=now))
    ...  # plan the run with views_of(store, digest), send it, then:
    store.finish_run(run_id, owner, now)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.models import Article, Briefing, Bullet, ChannelRef, Digest, Story
from bot.store import SeenArticle, Store, StoryView
from bot.summarize import summarize

# the summariser's own content words (stemmed, no stop words): a bullet is judged "the same
# fact" with the words bullets are picked by
from bot.summarize.extractive import content_tokens

# one definition, beside the title cleaning that also strips it; re-exported for ingest, which
# marks a story as updated when its source flags the title
from bot.summarize.headline import split_update_marker as split_update_marker

SAME_FACT_SHARE = 0.6
"""A bullet repeats a shown one when at least this share of its content words are in it (and
all its numbers are): a re-worded fact keeps most of its words, a different fact of the same
story shares only its names."""

MAX_UPDATE_BULLETS = 5
"""Most new bullets an update shows; a story's briefing has 3-5."""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True, slots=True)
class _Fact:
    words: frozenset[str]
    numbers: frozenset[str]


def _fact(text: str) -> _Fact:
    return _Fact(content_tokens(text), frozenset(_number(n) for n in _NUMBER.findall(text)))


def _number(digits: str) -> str:
    # "1,200" and "1200", "2.50" and "2.5" are one number
    plain = digits.replace(",", "")
    try:
        return f"{float(plain):g}"
    except ValueError:
        return plain


def same_fact(text: str, shown: Iterable[str]) -> bool:
    """Whether bullet `text` says nothing that one of the `shown` bullets did not.

    It does when one shown bullet has at least `SAME_FACT_SHARE` of its content words and every
    number in it: "Output rose 12% in March" repeats "Factory output rose 12 percent in March",
    "Output rose 15 percent in March" does not.
    """
    mine = _fact(text)
    return any(_covers(_fact(other), mine) for other in shown)


def _covers(shown: _Fact, new: _Fact) -> bool:
    if not new.numbers <= shown.numbers:
        return False
    if not new.words:
        return True
    return len(new.words & shown.words) >= SAME_FACT_SHARE * len(new.words)


@dataclass(slots=True)
class _Seen:
    """What a channel was shown of one story: outlets and bullet texts."""

    outlets: set[str]
    bullets: list[str]


def select_updates(
    store: Store, channel: ChannelRef, stories: Sequence[Story]
) -> tuple[list[Story], list[Article]]:
    """The stories as `channel` should get them now, and the articles settled without showing.

    A story none of whose reports the channel was sent comes whole (marked as an update when
    a report carries its source's update marker). A story it was sent comes back as an update
    holding only what is new to it, or not at all: then its new reports are settled.

    Args:
        stories: ranked stories, each with all its reports (`bot.digest.rank_stories`).

    Returns:
        The stories to show, in the given order, and the settled articles.
    """
    ids = [a.id for s in stories for a in s.articles if a.id is not None]
    seen = store.seen_articles(channel, ids)
    known = [s for s in stories if any(a.id in seen for a in s.articles)]
    if not known:
        return [mark_update(s) for s in stories], []
    sent_before = {id(s) for s in known}
    member_ids = [a.id for s in known for a in s.articles if a.id is not None]
    story_of = store.story_ids(member_ids)
    view_ids = {story_of.get(i, i) for i in member_ids}
    view_ids |= {s.story_id for s in seen.values() if s.story_id is not None}
    views = store.story_views(channel, sorted(view_ids))
    # briefings of the reports whose bullets count: new and revised ones, and those delivered
    # before views were kept (what they showed is not recorded; their briefing stands for it)
    wanted = [
        a
        for s in known
        for a in s.articles
        if a.id is not None and (_is_new(a, seen) or seen[a.id].story_id is None)
    ]
    briefings = store.get_briefings([a.id for a in wanted if a.id is not None])
    shown: list[Story] = []
    settled: list[Article] = []
    for story in stories:
        if id(story) not in sent_before:
            shown.append(mark_update(story))
            continue
        # revised reports first: a correction of what the channel was shown matters most to
        # it, and its re-summarised headline carries the correction
        fresh = sorted(
            (a for a in story.articles if _is_new(a, seen)), key=lambda a: a.id not in seen
        )
        if not fresh:
            continue
        shown_before = _seen_of(store, story, seen, story_of, views, briefings)
        update = _update(story, fresh, shown_before, briefings)
        if update is None:
            settled.extend(fresh)
            continue
        shown.append(update)
        kept = {a.id for a in update.articles}
        settled.extend(a for a in fresh if a.id not in kept)
    return shown, settled


def _is_new(article: Article, seen: dict[int, SeenArticle]) -> bool:
    """Not sent to the channel, or revised since it was shown."""
    if article.id is None or article.id not in seen:
        return True
    return article.revision > seen[article.id].revision


def mark_update(story: Story) -> Story:
    """`story` marked as an update when one of its reports carries its source's update
    marker."""
    if any(a.update_marker for a in story.articles):
        return replace(story, update=True)
    return story


def _seen_of(
    store: Store,
    story: Story,
    seen: dict[int, SeenArticle],
    story_of: dict[int, int],
    views: dict[int, StoryView],
    briefings: dict[int, Briefing],
) -> _Seen:
    sids = {story_of.get(a.id, a.id) for a in story.articles if a.id is not None}
    for article in story.articles:
        shown_in = seen.get(article.id or -1, SeenArticle(0, None)).story_id
        if shown_in is not None:
            sids.add(shown_in)
    outlets: set[str] = set()
    bullets: list[str] = []
    for sid in sorted(sids):
        view = views.get(sid)
        if view is not None:
            outlets.update(view.outlets)
            bullets.extend(view.bullets)
    for article in story.articles:
        if article.id is None or article.id not in seen or seen[article.id][1] is not None:
            continue
        # delivered before views were kept: its outlet was shown, and the briefing of the
        # version it was shown (revision 0) stands for the bullets
        outlets.add(article.source)
        if not _is_new(article, seen):
            bullets.extend(b.text for b in _briefing(article, briefings).bullets)
            continue
        for old in store.article_revisions(article.id):
            if old.revision == 0:
                shown = summarize(old.text, old.title or None, language=old.language)
                bullets.extend(b.text for b in shown.bullets)
    return _Seen(outlets, bullets)


def _update(
    story: Story, fresh: Sequence[Article], seen: _Seen, briefings: dict[int, Briefing]
) -> Story | None:
    """`story` as an update holding only what is new to the channel, or None when nothing is.

    Its reports are those of `fresh` that add a bullet or an outlet, led by the first of them;
    its bullets those the channel was not shown, in that order.
    """
    known = list(seen.bullets)
    bullets: list[Bullet] = []
    articles: list[Article] = []
    outlets = set(seen.outlets)
    for article in fresh:
        adds = False
        for bullet in _briefing(article, briefings).bullets:
            if len(bullets) < MAX_UPDATE_BULLETS and not same_fact(bullet.text, known):
                bullets.append(bullet)
                known.append(bullet.text)
                adds = True
        if adds or article.source not in outlets:
            articles.append(article)
            outlets.add(article.source)
    if not articles:
        return None
    # the headline of the report the news comes from: the story's own may be another outlet's,
    # with the very number a revision corrected
    lead = articles[0]
    headline = _briefing(lead, briefings).headline or lead.title or story.briefing.headline
    return Story(articles=tuple(articles), briefing=Briefing(headline, tuple(bullets)), update=True)


def _briefing(article: Article, briefings: dict[int, Briefing]) -> Briefing:
    found = briefings.get(article.id or -1)
    # articles stored without a briefing (added straight to the store) get one here, unsaved:
    # the digest only reads
    if found is not None:
        return found
    return summarize(article.text, article.title or None, language=article.language)


def views_of(store: Store, digest: Digest, also: Iterable[int] = ()) -> list[StoryView]:
    """What `digest` shows its channel of each story, to record with its delivery.

    Args:
        also: other article ids recorded as delivered with it (a retried digest's claimed
            articles that its rebuilt stories no longer hold), recorded as settled.
    """
    articles = [a for s in digest.stories for a in s.articles] + list(digest.settled)
    listed = {a.id for a in articles}
    extra = [store.get_article(i) for i in dict.fromkeys(also) if i not in listed]
    quiet = [*digest.settled, *(a for a in extra if a is not None)]
    story_of = store.story_ids([a.id for a in [*articles, *quiet] if a.id is not None])
    views = []
    for story in digest.stories:
        lead_id = story.lead.id
        if lead_id is None:
            continue
        views.append(
            StoryView(
                story_of.get(lead_id, lead_id),
                tuple((a.id, a.revision) for a in story.articles if a.id is not None),
                story.sources,
                # a model's bullet was shown with the article sentences it rests on: those
                # facts count as shown too, however the model worded them
                tuple(
                    text
                    for b in story.briefing.bullets
                    for text in (b.text, *(b.sentences if b.written else ()))
                ),
            )
        )
    by_story: dict[int, list[tuple[int, int]]] = {}
    for article in quiet:
        if article.id is not None:
            sid = story_of.get(article.id, article.id)
            by_story.setdefault(sid, []).append((article.id, article.revision))
    views.extend(StoryView(sid, tuple(pairs)) for sid, pairs in by_story.items())
    return views
