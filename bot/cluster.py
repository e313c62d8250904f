"""Group reports of one event into stories, at ingest, one pass per article.

Reports of one event by different outlets share the event's rare words (the people, places and
numbers, and what happened: "qualified immunity", "Colonial Pipeline") in their titles and
leads, in different wording; different events of one week share common ones ("Biden", "Supreme
Court", "vaccine"). So an article is a TF-IDF vector over the stemmed content words of its title
(weighted) and lead, with document frequencies counted by the store per day over the recent
weeks (a name in every other article this month weighs little, a place named nowhere else a
lot). It is compared with each nearby story as a whole, by *average link*: its mean cosine with
the story's reports, which is its dot product with the story's centroid (the sum of their
vectors) over their number. Single link (the nearest report decides) chains unrelated events
through one similar pair; the cosine with the centroid lets a loose story absorb anything near
one of its threads; the mean asks the article to fit all of the story.

Time counts too, as in the classic event-detection systems (Yang, Pierce and Carbonell 1998):
reports of one event come out within hours of each other, different events on one subject days
apart, so the similarity halves with each `HALF_LIFE` between the article and the story, and
stories more than `WINDOW` away are not considered.

Candidates come from an inverted index kept by the store (each story's most weighty terms, by
day), so an article is compared with the few dozen stories that share a rare word with it, not
with every story of the window. The article joins the most similar story at or above
`MIN_SIMILARITY`, whose centroid then takes its vector, or starts its own story.

Every constant below was chosen on ``benches/data/clusters_dev.jsonl`` (505 real events told
by left, centre and right outlets) with ``benches/story_grouping.py``, which prints the figures
beside a TF-IDF single-link baseline; the grouping gate in ``make test`` pins them. The figures
are flat around each chosen value (within about 0.01 pair F1), so none is fitted to a corner.

Example:
    stored, added = store.add_article(article, briefing)
    if added:
        story_id = assign_story(store, stored)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from bot.models import Article, StoryCentroid
from bot.store import Store
from bot.store.rows import to_day
from bot.text import words

TITLE_WEIGHT = 3.0
"""A title word counts as three words of the lead: the title names the event (2 to 4 are all
within 0.005 pair F1 on the dev file; 1 loses 0.02)."""

LEAD_CHARS = 1000
"""Only the title and the first characters of the text are read: the lead says what happened,
while the rest of a long report (background, reactions, quotes) differs from outlet to outlet
and would dilute what reports share. A full article and a feed's teaser then weigh alike.
(400 to 1000 are within 0.01 on the dev file, whose texts are leads of about 570 characters.)"""

WINDOW = timedelta(days=3)
"""Stories more than this before or after an article are not candidates."""

HALF_LIFE = timedelta(days=1)
"""The similarity is halved for each day between the article and the nearest report of the
story: a report of the next day must be twice as close to join it. On the dev file, pair F1
(mean of three stream orders) is 0.73 with no decay (the baseline: 0.68), 0.90 with a half-life
of half a day, 0.88 with one day and 0.85 with a day and a half. One day is the middle ground:
the dev file dates every report of an event on one day, which rewards ever steeper decays,
while real follow-ups come a day or two later."""

MIN_SIMILARITY = 0.18
"""Decayed mean cosine with a story's reports needed to join it. On the dev file 0.16 gives
pair F1 0.88 at precision 0.90, 0.18 gives 0.88 at 0.92, 0.20 gives 0.86 at 0.93. The dev file
is a sparse stream (about 8 reports a day); packed ten times denser (the benchmark's "dense"
line), where more events of one subject fall on one day, 0.16 drops to precision 0.53 and 0.18
keeps more: hence 0.18, which costs the sparse stream almost nothing."""

IDF_DAYS = 30
"""Document frequencies are counted over the articles of this many days before an article."""

PRIOR_ARTICLES, PRIOR_DF = 200.0, 1.0
"""idf = log((N + 200) / (df + 1)): 200 pseudo-articles smooth the counts, so a new database
(a handful of articles) weighs every word about alike instead of zeroing the words its first
reports share; from a few hundred articles on the counts decide."""

INDEX_TERMS = 16
"""Each member adds its most weighty terms to its story's entry in the candidate index, and an
article looks up its own: 16 finds the same stories as comparing with all of them did on the
dev file (8 loses 0.005 pair F1, 5 loses 0.04)."""

CENTROID_TERMS = 60
"""A story's centroid keeps its heaviest terms only: what its reports share, not each one's
own tail. That also keeps a story of hundreds of reports small and a comparison cheap. On the
dev file 200, 100 and 60 terms give pair F1 0.876, 0.876 and 0.878 (precision 0.924 to 0.938),
40 drops recall (0.865); on the dense line 0.68, 0.69 and 0.70."""

CANDIDATE_LIMIT = 20
"""Most stories compared per article: those sharing the most index terms with it (5 to 50 give
the same figures on the dev file and on the dense line)."""

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
"""Dates before this (Hugo's "0001-01-01" for undated posts) or more than a day after the
article was fetched are not believed: grouping uses the fetch time instead."""


def terms(title: str, text: str, language: str | None = None) -> dict[str, float]:
    """The weighted counts of the content words of the title and lead: what a vector is built
    from, and what the store counts document frequencies of."""
    found: dict[str, float] = {}
    for word in words(title, language):
        found[word] = found.get(word, 0.0) + TITLE_WEIGHT
    # counted in C, then added in order of first use (as one at a time would add them)
    for word, count in Counter(words(text[:LEAD_CHARS], language)).items():
        found[word] = found.get(word, 0.0) + count
    return found


def vector(counts: Mapping[str, float], idf: Callable[[str], float]) -> dict[str, float]:
    """A unit-length TF-IDF vector: (1 + log tf) x idf, normalised."""
    if isinstance(idf, Idf):
        weights = idf.weights(counts)
    else:
        weights = {t: (1.0 + math.log(c)) * idf(t) for t, c in counts.items() if c >= 1.0}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    if norm == 0.0:
        return {}
    return {t: w / norm for t, w in weights.items()}


def dot(left: Mapping[str, float], right: Mapping[str, float]) -> float:
    """The dot product of two sparse vectors."""
    if len(left) > len(right):
        left, right = right, left
    # only the shared terms add anything (most are not shared): the same sum, in the same
    # order, as over every term with 0.0 for a missing one
    return sum(w * right[t] for t, w in left.items() if t in right)


def decay(gap: timedelta) -> float:
    """How much of the similarity survives `gap` between an article and a story."""
    return float(0.5 ** (abs(gap) / HALF_LIFE))


def top_terms(vec: Mapping[str, float], count: int) -> list[str]:
    """The `count` heaviest terms of a vector, heaviest first (ties by term, for stability)."""
    return sorted(vec, key=lambda t: (-vec[t], t))[:count]


class _Window:
    """Document counts over one span of days: articles in all, and per term read so far."""

    __slots__ = ("counts", "known", "total")

    def __init__(self) -> None:
        self.total = 0
        self.counts: dict[str, int] = {}
        self.known: set[str] = set()


class BatchCounts:
    """The document counts grouping reads and writes during one ingest batch (one transaction).

    The articles of a batch share most of their days and words: each reads only the terms the
    batch has not met yet, and their counts are added up here and written once, at `flush`,
    instead of a row per term and article. What `Idf` reads stays what the store would say:
    its counts plus those not written yet.

    Only valid inside the transaction it was made for; `flush` before it commits. On SQLite
    no one else writes meanwhile; on PostgreSQL another replica's batch committed meanwhile is
    seen from the next batch on (its articles are missing from these counts until then, which
    moves an idf by a fraction of a percent).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._windows: dict[tuple[str, str], _Window] = {}
        self._pending: dict[str, dict[str, int]] = {}

    def window(self, first: str, last: str) -> _Window:
        return self._windows.setdefault((first, last), _Window())

    def pending(self, found: Iterable[str]) -> list[str]:
        """Those of `found` with counts not written yet."""
        waiting = self._pending
        return [term for term in found if term in waiting]

    def unwritten(self, term: str, first: str, last: str) -> int:
        """Articles counted for `term` on the days `first` to `last` but not written yet."""
        days = self._pending.get(term)
        return sum(n for day, n in days.items() if first <= day <= last) if days else 0

    def filed(self, day: str, features: Iterable[str], first_of_day: bool) -> None:
        """An article with `features` was grouped on `day`; `first_of_day`: the store forgot
        the counts of days long past on the way, so they are forgotten here too."""
        unique = set(features)
        for term in unique:
            days = self._pending.setdefault(term, {})
            days[day] = days.get(day, 0) + 1
        if first_of_day:
            # counts not written yet of the days just forgotten must go too
            self.flush()
            self._store.prune_features(day)
            self._windows.clear()
            return
        for (first, last), window in self._windows.items():
            if first <= day <= last:
                window.total += 1
                for term in unique & window.known:
                    window.counts[term] = window.counts.get(term, 0) + 1

    def flush(self) -> None:
        """Write the counts added up so far."""
        rows = [(t, d, n) for t, days in self._pending.items() for d, n in days.items()]
        self._store.add_feature_counts(sorted(rows))
        self._pending.clear()


class Idf:
    """Inverse document frequencies around one moment, from the store's per-day counts."""

    def __init__(self, store: Store, moment: datetime, batch: BatchCounts | None = None) -> None:
        self._store = store
        self._batch = batch
        self._since, self._until = moment - timedelta(days=IDF_DAYS), moment
        self._span = (to_day(self._since), to_day(self._until))
        self._counts = batch.window(*self._span) if batch is not None else _Window()

    def load(self, found: Iterable[str]) -> None:
        """Read the counts of the terms not read yet (one query per 500)."""
        window = self._counts
        missing = [t for t in dict.fromkeys(found) if t not in window.known]
        if not missing:
            return
        total, counts = self._store.feature_stats(missing, since=self._since, until=self._until)
        if self._batch is not None:
            batch = self._batch
            for term in batch.pending(missing):
                extra = batch.unwritten(term, *self._span)
                if extra:
                    counts[term] = counts.get(term, 0) + extra
        window.total = total
        window.counts.update(counts)
        window.known.update(missing)

    def __call__(self, term: str) -> float:
        df = self._counts.counts.get(term, 0)
        return math.log((self._counts.total + PRIOR_ARTICLES) / (df + PRIOR_DF))

    def weights(self, counts: Mapping[str, float]) -> dict[str, float]:
        """(1 + log tf) x idf of each term counted at least once: `vector` before it is
        normalised, with the lookups of ``__call__`` hoisted out of the loop."""
        known, log = self._counts.counts.get, math.log
        articles = self._counts.total + PRIOR_ARTICLES
        return {
            t: (1.0 + log(c)) * log(articles / (known(t, 0) + PRIOR_DF))
            for t, c in counts.items()
            if c >= 1.0
        }


def assign_story(
    store: Store,
    article: Article,
    counts: Mapping[str, float] | None = None,
    batch: BatchCounts | None = None,
    *,
    fresh: bool = False,
) -> int:
    """Put a stored article into a story, and record what later articles compare against.

    The article joins the nearby story whose centroid is most similar (decayed by time) if that
    is at least `MIN_SIMILARITY`, else starts its own story, whose id is its own id. Calling it
    again for the same article changes nothing.

    Args:
        counts: the article's `terms`, when they were computed already (bot/ingest/prepare.py).
        batch: the counts of the articles grouped before it in this transaction, which
            also adds up this one's (see `BatchCounts`).
        fresh: the article was stored just now and never grouped (as ingest knows): the
            checks for an earlier grouping are skipped.

    Raises:
        ValueError: `article` has no id (it was not stored).
    """
    if article.id is None:
        raise ValueError("assign_story needs a stored article (with an id)")
    if not fresh and store.has_signature(article.id):
        return store.story_ids([article.id]).get(article.id, article.id)
    moment = grouping_time(article)
    if counts is None:
        counts = terms(article.title, article.text, article.language)
    idf = Idf(store, moment, batch)
    idf.load(counts)
    vec = vector(counts, idf)
    heaviest = top_terms(vec, INDEX_TERMS)
    story_id = _best_story(store, article.id, moment, vec, heaviest)
    first_of_day = store.join_story(
        article.id,
        story_id,
        moment=moment,
        terms=list(counts),
        vector=vec,
        index_terms=heaviest,
        centroid_terms=CENTROID_TERMS,
        count_terms=batch is None,
        fresh=fresh,
    )
    if batch is not None:
        batch.filed(to_day(moment), counts, first_of_day)
    return story_id


def _best_story(
    store: Store, article_id: int, moment: datetime, vec: dict[str, float], heaviest: list[str]
) -> int:
    if not vec:
        return article_id
    candidates = store.story_candidates(
        heaviest,
        since=moment - WINDOW,
        until=moment + WINDOW,
        limit=CANDIDATE_LIMIT,
    )
    best: tuple[float, int] | None = None
    for story in candidates:
        if story.story_id == article_id:
            continue
        score = similarity(vec, story, moment)
        # best score first; ties go to the older story
        if score >= MIN_SIMILARITY and (best is None or (score, -story.story_id) > best):
            best = (score, -story.story_id)
    return article_id if best is None else -best[1]


def similarity(vec: Mapping[str, float], story: StoryCentroid, moment: datetime) -> float:
    """The time-decayed average link of an article's unit vector with a story: its mean cosine
    with the story's reports (0 outside the window)."""
    if story.first_at <= moment <= story.last_at:
        gap = timedelta(0)
    else:
        gap = min(abs(moment - story.first_at), abs(moment - story.last_at))
    if gap > WINDOW or story.size < 1:
        return 0.0
    return dot(vec, story.centroid) / story.size * decay(gap)


def grouping_time(article: Article) -> datetime:
    """When the article happened, for grouping: its published time when believable, else the
    time it was fetched (always timezone-aware)."""
    fetched = _aware(article.fetched_at)
    if article.published is not None:
        published = _aware(article.published)
        if EARLIEST <= published <= fetched + timedelta(days=1):
            return published
    return fetched


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
