"""Select what a channel has not been sent, group it into stories, rank, and build a Digest.

Each article's briefing and story id were computed once at ingest; a digest reads them, and
for each story of several reports it shows, puts their briefings together into one. A story
the channel was sent before comes back only as an update with what is new to it
(`bot.updates`). The candidate stories are ranked on their outlines, which the store counts
without reading a text (`Store.story_outlines`); only the stories shown, and those the channel
was sent before, are read whole.

Example:
    digest = build_digest(store, ChannelRef("console", "terminal"), max_stories=10)
    ...  # send it, then:
    mark_delivered(store, channel, digest)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.models import Article, Briefing, ChannelRef, Digest, Story
from bot.store import Store, StoryOutline
from bot.summarize import summarize
from bot.summarize.story import MAX_STORY_REPORTS, summarize_story
from bot.updates import mark_update, select_updates, views_of

# Most undelivered articles looked at for one digest; those fetched last win. Bounds the work
# for a channel that has not had a digest for a long time.
CANDIDATE_LIMIT = 20_000
# A digest offers the articles fetched since the channel's last digest (less the grace, for
# articles stored while it was being built), and at least those of the last day: a story it
# did not show, once it is older than that, is not news any more, and the work of a digest is
# that of the articles of its window, not of all those stored.
LOOKBACK = timedelta(hours=24)
LOOKBACK_GRACE = timedelta(hours=1)
# How much each ranking signal counts: more outlets carrying a story dominates, then how
# recent it is (half-life in hours), then how much there is to read.
SOURCE_WEIGHT = 2.0
RECENCY_WEIGHT = 1.5
RECENCY_HALF_LIFE_H = 24.0
LENGTH_WEIGHT = 0.3


def build_digest(
    store: Store,
    channel: ChannelRef,
    *,
    max_stories: int = 10,
    now: datetime | None = None,
    shared: Sequence[str] = (),
    exclude: Collection[int] = (),
) -> Digest:
    """The best stories with articles `channel` has not been sent, at most `max_stories`, of
    the articles fetched since its last digest (at least those of the last day: `window_start`).

    A channel gets its own subscriptions, the operator's `shared` feeds and hand-ingested
    articles, not feeds only other channels follow; with a keyword filter, only stories
    matching it. `exclude` holds articles another digest of the channel is still sending.
    """
    moment = now or datetime.now(UTC)
    settings = store.get_channel(channel)
    hidden = store.hidden_sources(channel, shared)
    since = store.last_delivery(channel)
    ranked, in_order, outlines, scores = _ranked_outlines(
        store,
        channel,
        hidden=hidden,
        exclude=exclude,
        terms=settings.filter,
        now=moment,
        fetched_since=window_start(since, moment),
    )
    stories, settled, more = _chosen(
        store, channel, (ranked, in_order), outlines, scores, shown=max_stories
    )
    return Digest(
        stories=tuple(stories),
        generated_at=moment,
        overview=overview(stories, since, more=more),
        since=since,
        settled=tuple(settled),
    )


def window_start(last_digest: datetime | None, now: datetime) -> datetime:
    """The earliest fetch time of the articles a digest at `now` offers (`LOOKBACK`): those
    fetched since the channel's `last_digest`, and at least those of the last day."""
    start = now - LOOKBACK
    if last_digest is not None:
        start = min(start, _aware(last_digest) - LOOKBACK_GRACE)
    return start


def digest_of(
    store: Store,
    article_ids: Sequence[int],
    *,
    now: datetime,
    channel: ChannelRef | None = None,
) -> Digest:
    """Rebuild the digest that carried `article_ids` (to retry a claimed, unsent digest).

    Args:
        channel: the channel it was claimed for: stories it was sent before are shown as the
            same updates again (what it was shown is only recorded once a digest is sent).
    """
    articles = [a for a in (store.get_article(i) for i in article_ids) if a is not None]
    groups = _ranked(store, articles, now=now)
    settled: list[Article] = []
    if channel is None:
        stories = _stories(store, groups)
    else:
        stories, settled = _select(store, channel, groups, len(groups))
    return Digest(
        stories=tuple(stories),
        generated_at=now,
        overview=overview(stories, None),
        settled=tuple(settled),
    )


def latest_stories(
    store: Store,
    *,
    limit: int = 5,
    topic: str = "",
    terms: Sequence[str] = (),
    hidden: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Story]:
    """The newest stories, or for a topic the best full-text matches, grouped and ranked.

    Args:
        terms: a channel's keyword filter; only matching stories are returned.
        hidden: sources whose articles are not for the asking channel.
    """
    pool = limit * 10
    if topic.strip():
        articles = store.search_articles(topic, limit=pool)
    else:
        articles = store.recent_articles(pool)
    unseen = set(hidden)
    articles = [a for a in articles if a.origin not in unseen and matches_filter(a, terms)]
    ranked = _ranked(store, articles, now=now or datetime.now(UTC), by_recency=not topic)
    return _stories(store, ranked[:limit])


def rank_stories(
    store: Store,
    articles: Sequence[Article],
    *,
    now: datetime,
    by_recency: bool = True,
) -> list[Story]:
    """Group `articles` by story and rank the stories, best first.

    Rank: outlets carrying the story, then recency, then length. With ``by_recency=False``
    (search results) the order of `articles` (relevance) decides, each story placed at its
    best article. A story of several reports gets one briefing built from all of them.
    """
    return _stories(store, _ranked(store, articles, now=now, by_recency=by_recency))


def _select(
    store: Store, channel: ChannelRef, groups: Sequence[Sequence[Article]], shown: int
) -> tuple[list[Story], list[Article]]:
    """The ranked stories as `channel` should get them (`bot.updates.select_updates`): new
    stories whole, stories it was sent only as updates or not at all, and the settled reports.

    The choice is made on each story's lead briefing (cheap, for every candidate); only the
    `shown` best new stories of several reports then get their briefing across reports.
    """
    candidates = _lead_stories(store, groups)
    whole = {id(s.briefing) for s in candidates}
    stories, settled = select_updates(store, channel, candidates)
    for index, story in enumerate(stories[:shown]):
        # a story shown whole still has its lead's briefing; an update has its own bullets
        if id(story.briefing) in whole and len(story.articles) > 1:
            (full,) = _stories(store, [story.articles])
            stories[index] = replace(full, update=story.update)
    return stories, settled


def _ranked_outlines(
    store: Store,
    channel: ChannelRef,
    *,
    hidden: Sequence[str],
    exclude: Collection[int],
    terms: Sequence[str],
    now: datetime,
    fetched_since: datetime,
) -> tuple[list[int], Callable[[], list[int]] | None, dict[int, StoryOutline], dict[int, float]]:
    """The candidate stories of `channel`'s digest, best first, as `_ranked` ranks the stories
    of the candidate articles but without reading their texts; then a function that ranks
    them again with ties in `_ranked`'s order (None when they are in it already); and each
    story's outline and score.

    Stories of equal score come in the order of their first candidate in `_ranked`; finding
    that order lists every candidate, which is only done when such a tie decides something
    (see `_chosen`).
    """
    # reports it was sent that were revised since bring their story back (bot/updates.py)
    revised = store.revised_ids(channel, limit=CANDIDATE_LIMIT, hidden=hidden)

    def fresh() -> list[tuple[int, int]]:
        return store.undelivered_ids(
            channel, limit=CANDIDATE_LIMIT, hidden=hidden, fetched_since=fetched_since
        )

    order: dict[int, int] | None = None
    if exclude or terms:
        picked = fresh() + revised
        if exclude:
            picked = [(i, sid) for i, sid in picked if i not in exclude]
        if terms:
            picked = _filtered(store, picked, terms)
        order = _first_places(picked)
        outlines = store.story_outlines(list(order), channel)
    else:
        # every candidate is taken: the store outlines their stories without listing them
        outlines = store.undelivered_outlines(
            channel, CANDIDATE_LIMIT, hidden=hidden, fetched_since=fetched_since
        )
        more_ids = list(dict.fromkeys(sid for _, sid in revised if sid not in outlines))
        outlines.update(store.story_outlines(more_ids, channel))
    scores = {sid: _score_of(outline, now) for sid, outline in outlines.items()}

    def ranked(places: Iterable[int]) -> list[int]:
        return sorted((sid for sid in places if sid in scores), key=lambda sid: -scores[sid])

    def in_order() -> list[int]:
        picked = fresh() + revised
        return ranked(_first_places(picked))

    if order is not None:
        return ranked(order), None, outlines, scores
    return ranked(scores), in_order, outlines, scores


def _chosen(
    store: Store,
    channel: ChannelRef,
    ranking: tuple[list[int], Callable[[], list[int]] | None],
    outlines: Mapping[int, StoryOutline],
    scores: Mapping[int, float],
    *,
    shown: int,
) -> tuple[list[Story], list[Article], int]:
    """The `shown` best of the ranked stories as `channel` should get them, the settled
    reports, and how many more stories it would get.

    The same choice as `_select` over `_ranked` of the candidates, made on each story's
    outline: only the stories the channel was sent before (to tell what is new to it) and
    those shown are read whole, and only those shown get briefings across reports.

    Args:
        ranking: the stories best first, and a function that ranks them with ties in
            `_ranked`'s order, when they may not be (`_ranked_outlines`).
    """
    ranked, in_order = ranking
    # a story the channel was sent before comes back only with what is new to it, if anything
    known = [sid for sid in ranked if outlines[sid].sent]
    if in_order is not None and _tied([scores[sid] for sid in known], len(known)):
        # their order is the order of the settled reports
        ranked, in_order = in_order(), None
        known = [sid for sid in ranked if outlines[sid].sent]
    members = store.story_articles(known) if known else {}
    groups = [members[sid] for sid in known if members[sid]]
    updates, settled = select_updates(store, channel, _lead_stories(store, groups))
    home = {a.id: sid for sid in known for a in members[sid]}
    update_of = {home[u.articles[0].id]: u for u in updates}
    del members, groups, updates
    chosen = [sid for sid in ranked if not outlines[sid].sent or sid in update_of]
    if in_order is not None and _tied([scores[sid] for sid in chosen], shown):
        chosen = [sid for sid in in_order() if not outlines[sid].sent or sid in update_of]
    top = chosen[:shown]
    whole = [sid for sid in top if sid not in update_of]
    wanted = store.story_articles(whole) if whole else {}
    built = dict(zip(whole, _stories(store, [wanted[sid] for sid in whole]), strict=True))
    stories = [update_of[sid] if sid in update_of else mark_update(built[sid]) for sid in top]
    return stories, settled, len(chosen) - len(top)


def _tied(scores: Sequence[float], first: int) -> bool:
    """Whether one of the `first` of `scores` (best first) is equal to another of them."""
    top = set(scores[:first])
    return len(top) < min(first, len(scores)) or any(
        score in top for score in scores[first : first + 1]
    )


def _first_places(picked: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Each story of the (article id, story id) pairs `picked`, with where it first comes."""
    order: dict[int, int] = {}
    for position, (_, sid) in enumerate(picked):
        order.setdefault(sid, position)
    return order


def _filtered(
    store: Store, picked: Sequence[tuple[int, int]], terms: Sequence[str]
) -> list[tuple[int, int]]:
    """The pairs of `picked` whose article matches a channel's keyword filter, read a few
    hundred articles at a time."""
    kept: list[tuple[int, int]] = []
    for start in range(0, len(picked), 500):
        part = picked[start : start + 500]
        found = store.get_articles([i for i, _ in part])
        kept += [(i, sid) for i, sid in part if i in found and matches_filter(found[i], terms)]
    return kept


def _lead_stories(store: Store, groups: Sequence[Sequence[Article]]) -> list[Story]:
    """Each group of reports as a Story with its best report's own briefing."""
    leads = [best_article(group) for group in groups]
    briefings = store.get_briefings([a.id for a in leads if a.id is not None])
    stories = []
    for lead, group in zip(leads, groups, strict=True):
        own = briefings.get(lead.id or -1) or _brief(store, lead)
        others = tuple(a for a in group if a.id != lead.id)
        stories.append(Story(articles=(lead, *others), briefing=_titled(own, lead)))
    return stories


def _ranked(
    store: Store, articles: Sequence[Article], *, now: datetime, by_recency: bool = True
) -> list[list[Article]]:
    """The reports of each story of `articles`, stories best first (see `rank_stories`).

    Cheap: a digest ranks every candidate story but builds briefings only for those it shows.
    """
    ids = [a.id for a in articles if a.id is not None]
    story_of = store.story_ids(ids)
    order: dict[int, int] = {}
    for position, article in enumerate(articles):
        if article.id is not None:
            order.setdefault(story_of.get(article.id, article.id), position)
    members = store.story_articles(list(order))
    if by_recency:
        ranked = sorted(order, key=lambda sid: -_score(members[sid], now))
    else:
        ranked = sorted(order, key=order.__getitem__)
    return [members[sid] for sid in ranked if members[sid]]


def _stories(store: Store, groups: Sequence[Sequence[Article]]) -> list[Story]:
    """Each group of reports as a Story: its best report first, with the story's briefing.

    One report keeps its own stored briefing; several get one briefing from all of theirs
    (`summarize_story`), read from at most `MAX_STORY_REPORTS` of them.
    """
    shapes = []
    for group in groups:
        lead = best_article(group)
        others = [a for a in group if a.id != lead.id]
        shapes.append((lead, others, [lead, *_story_reports(lead, others)]))
    wanted = [a.id for _, _, read in shapes for a in read if a.id is not None]
    briefings = store.get_briefings(wanted)
    stories = []
    for lead, others, read in shapes:
        own = [briefings.get(a.id or -1) or _brief(store, a) for a in read]
        briefing = summarize_story(read, own) if others else _titled(own[0], lead)
        stories.append(Story(articles=(lead, *others), briefing=briefing))
    return stories


def _story_reports(lead: Article, others: Sequence[Article]) -> list[Article]:
    """The reports besides `lead` a story briefing reads: a report of an outlet not read yet
    before a second one of the same outlet, at most `MAX_STORY_REPORTS` in all with the lead.
    """
    seen = {lead.source}
    firsts: list[Article] = []
    repeats: list[Article] = []
    for article in others:
        (repeats if article.source in seen else firsts).append(article)
        seen.add(article.source)
    return (firsts + repeats)[: MAX_STORY_REPORTS - 1]


def best_article(articles: Sequence[Article]) -> Article:
    """The report a story's briefing is built from: the fullest, preferring a titled one."""
    return max(articles, key=lambda a: (min(len(a.text), 8000), bool(a.title), -(a.id or 0)))


def _score(articles: Sequence[Article], now: datetime) -> float:
    # an unknown outlet's reports count one each by where they came from (three unnamed files
    # of one event are three reports), never as one outlet called ""
    outlets = len({a.source or a.origin or a.url for a in articles})
    newest = max((a.published or a.fetched_at) for a in articles)
    return _rank_score(outlets, newest, max(len(a.text) for a in articles), now)


def _score_of(outline: StoryOutline, now: datetime) -> float:
    """`_score` of a story from its outline (the store counts outlets the same way)."""
    return _rank_score(outline.outlets, outline.newest, outline.length, now)


def _rank_score(outlets: int, newest: datetime, length: int, now: datetime) -> float:
    age_h = max(0.0, (now - _aware(newest)).total_seconds() / 3600)
    return (
        SOURCE_WEIGHT * math.log2(1 + outlets)
        + RECENCY_WEIGHT * math.pow(0.5, age_h / RECENCY_HALF_LIFE_H)
        + LENGTH_WEIGHT * math.log10(1 + length)
    )


def mark_delivered(store: Store, channel: ChannelRef, digest: Digest) -> int:
    """Record every article of `digest` as sent to `channel`, and what it was shown of each
    story, so no later digest repeats it."""
    return store.record_deliveries(
        channel,
        digest_article_ids(digest),
        digest.generated_at,
        views=views_of(store, digest),
    )


def digest_article_ids(digest: Digest) -> list[int]:
    """The articles a digest delivers: those of its stories, and those it settled."""
    shown = [a for s in digest.stories for a in s.articles]
    return [a.id for a in (*shown, *digest.settled) if a.id is not None]


def overview(stories: Sequence[Story], since: datetime | None, *, more: int = 0) -> str:
    """One line for the top of a digest: how many new stories and updates, from how many
    outlets."""
    if not stories:
        when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        return f"Nothing new{when}."
    outlets = {source for story in stories for source in story.sources}
    updates = sum(1 for story in stories if story.update)
    new = len(stories) - updates
    counts = []
    if new:
        counts.append(f"{new} new {'story' if new == 1 else 'stories'}")
    if updates:
        counts.append(f"{updates} {'update' if updates == 1 else 'updates'}")
    unnamed = sum(1 for story in stories for a in story.articles if not a.source)
    line = f"{', '.join(counts)} from {_carriers(len(outlets), unnamed)}"
    if more > 0:
        line += f" ({more} more not shown)"
    return line + "."


def _carriers(outlets: int, unnamed: int) -> str:
    """ "3 sources", "4 reports" (no outlet known), "2 sources and 1 other report"."""
    named = f"{outlets} {'source' if outlets == 1 else 'sources'}"
    if not unnamed:
        return named
    if not outlets:
        return f"{unnamed} {'report' if unnamed == 1 else 'reports'}"
    return f"{named} and {unnamed} other {'report' if unnamed == 1 else 'reports'}"


def parse_filter(text: str) -> tuple[str, ...]:
    """Words and "quoted phrases" of a filter, lower-cased, without duplicates; a leading
    ``-`` excludes one (``-sport``, ``-"transfer window"``), kept as a term starting with "-".

    An unclosed quote takes the rest of the line as its phrase, without the quote.
    """
    found = re.findall(r'(-?)(?:"([^"]*)(?:"|$)|“([^”]*)(?:”|$)|(\S+))', text)
    terms = []
    for minus, a, b, c in found:
        term = " ".join((a or b or c).split()).lower().strip("\"'“”")
        if minus and not term:
            continue  # a lone "-"
        if not any(ch.isalnum() for ch in term):
            continue
        terms.append(("-" if minus else "") + term)
    return tuple(dict.fromkeys(terms))


def _split_filter(terms: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(wanted, excluded) terms of a stored filter."""
    wanted = tuple(t for t in terms if not t.startswith("-"))
    excluded = tuple(t[1:] for t in terms if t.startswith("-") and len(t) > 1)
    return wanted, excluded


def describe_filter(terms: Iterable[str]) -> str:
    """A filter in words: ``stories that mention "bike lanes" or heatwave and not sport``."""
    wanted, excluded = _split_filter(terms)

    def listed(words: tuple[str, ...]) -> str:
        shown = [_quoted(w) for w in words]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]

    if not wanted and not excluded:
        return "every story"
    if wanted and excluded:
        return f"stories that mention {listed(wanted)} and not {listed(excluded)}"
    if excluded:
        return f"stories that do not mention {listed(excluded)}"
    return f"stories that mention {listed(wanted)}"


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def matches_filter(article: Article, terms: Iterable[str]) -> bool:
    """True when the title or text has one of the wanted words or phrases (or none are
    wanted), and none of the excluded ones."""
    wanted, excluded = _split_filter(terms)
    if wanted:
        pattern = _filter_pattern(wanted)
        if not (pattern.search(article.title) or pattern.search(article.text)):
            return False
    if excluded:
        pattern = _filter_pattern(excluded)
        if pattern.search(article.title) or pattern.search(article.text):
            return False
    return True


_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _filter_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _PATTERNS.get(terms)
    if pattern is None:
        # whole words, so "ai" matches "AI chips" but not "said"; phrases match across spaces
        alternatives = (r"\s+".join(re.escape(w) for w in t.split()) for t in terms)
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)
        if len(_PATTERNS) > 256:
            _PATTERNS.clear()
        _PATTERNS[terms] = pattern
    return pattern


def _brief(store: Store, article: Article) -> Briefing:
    briefing = summarize(article.text, article.title or None, language=article.language)
    if article.id is not None:
        store.put_briefing(article.id, briefing)
    return briefing


def _titled(briefing: Briefing, article: Article) -> Briefing:
    if briefing.headline or not article.title:
        return briefing
    return Briefing(headline=article.title, bullets=briefing.bullets)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
