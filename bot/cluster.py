"""Group articles that report the same event into stories, at ingest, in near-linear time.

Reports of one event by different outlets share names, places and numbers far more than they
share sentences, so an article's signature is a small set of salient *features*: proper names
(``@zelenskyy``, ``@donald_trump``), numbers normalised to their value (``#1.2e+06``), and
lightly stemmed content words of the title and lead (``guarante``). A MinHash of its names and
numbers, cut into LSH bands, finds candidate articles through an index (``story_bands``) instead
of comparing all pairs (within the time window, in SQL); each candidate is then verified with an
exact overlap of the stored features, weighted by kind, salience and rarity among recent articles
(per-day feature counts kept by the store), and the article joins the best verified story or
starts its own.

Everything here is pure Python and stable across processes (SHAKE-128 and BLAKE2b, fixed MinHash
hash functions, never ``hash()``), so signatures stored by one process match those of another.

Example:
    stored, added = store.add_article(article, briefing)
    if added:
        story_id = assign_story(store, stored)
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.models import Article
from bot.store import Store

# --- Parameters -------------------------------------------------------------------------------
#
# Chosen on the seed reports (three outlets on one Zelenskyy press conference, plus unrelated
# stories) and on synthetic corpora of 1k-50k articles in which every event is reported by 2-6
# outlets in different words (benches/digest_scale.py prints precision/recall for them).

MAX_ENTITIES, MAX_WORDS = 30, 10
"""Keep only the most salient names/numbers and words. A long report and a short one of the
same event then have sets of similar size, so their Jaccard is not dragged down by the long
one's tail, and the per-article cost (MinHash, stored JSON, verification) is bounded. Words get
few slots: reports of different events of one kind (two court rulings) share words, not names."""

MAX_CHARS = 6000
"""Read at most this much of the text: names and numbers that matter appear early, and it bounds
the tokenising cost of very long pages."""

LEAD_SENTENCES = 3
"""The first sentences of the body weigh more, after the title (news is written top-down)."""

TITLE_WEIGHT, LEAD_WEIGHT, BODY_WEIGHT = 3.0, 2.0, 1.0
NAME_BONUS, NUMBER_BONUS = 1.5, 1.5
"""Salience = sum over occurrences of position weight x kind bonus. Names and numbers are what
outlets share, so they win ties against content words."""

BANDS, ROWS = 16, 2
"""32 MinHash values in 16 bands of 2, over the `MINHASH_ENTITIES` most salient names and numbers
(words when an article has none): with words in, topic words ("court", "profit", "dollar") made
band keys that hundreds of unrelated articles shared, flooding the verifier. The chance two
articles share a band is 1 - (1 - J^2)^16: 0.48 at J=0.2, 0.78 at J=0.3, 0.94 at J=0.4 - per
pair; a later report of an event needs to collide with only one earlier report. Measured on
6,000 built-in synthetic articles (3 days of 200 feeds) over all names and numbers, the share of
reports with an earlier report of their event among their candidates, and candidates per
article: 16x2 99.0% / 16; 32x2 99.7% / 33; 40x3 98.9% / 4.5; all features at 32x2 99.2% / 150
(the limit). With the top 8 names and numbers: 99.1% / 11, and 91% / 36 on benches/synthetic.py
(79% with the top 12). Every band is a row written per article (~25 us each in a per-article
transaction), so 16x2 is the cheapest for the recall."""

NUM_PERM = BANDS * ROWS

MINHASH_ENTITIES = 8
"""Only the most salient names and numbers go into the MinHash: those of the title and lead,
which every report of the event carries, and not the people and firms a report mentions in
passing further down (background, quotes), which differ from outlet to outlet."""

RANK_DECAY = 10.0
"""In verification a feature's weight falls with its salience rank r as 1 / (1 + r / 10), so the
title and lead decide and passing mentions lower in the text count for little."""

MIN_SIMILARITY = 0.3
"""Rarity-weighted overlap needed to call two articles one event: the weight of the shared
features over that of the lighter of the two sets, a feature weighing by kind (names and numbers
2, words 0.25), salience rank and `Rarity` (so a city in every tenth article counts for little,
a figure or a person seen nowhere else for a lot). Chosen on both generators of
benches/digest_scale.py at 3k and 10k articles (pairwise, seed 7): at 10k, 0.3 gives precision
0.991 / recall 0.975 (built-in) and 0.996 / 0.781 (benches/synthetic.py, was 0.39 with the
unweighted Jaccard); 0.25 gives 0.984 / 0.975 and 0.992 / 0.849; 0.35 at 3k 0.999 / 0.980 and
1.000 / 0.578. The weighted Jaccard instead of the lighter-set overlap gave 0.16 recall on
synthetic.py at 0.3: an article's own passing names (rare, hence heavy) swell the union. Grouping
links an article to a story through one verified pair, so a missed pair rarely splits a story,
while a false one merges two: lean to precision, hence 0.3 rather than 0.25. The seed reports of
one event pass easily; unrelated stories sharing a famous name stay apart."""

MIN_SHARED_ANCHORS = 3
"""Shared names (a multi-word name counts once) and numbers also needed: reports of one event
name the same people, places and figures, while different events of one kind share topic words
and at most a famous name ("Donald Trump" is one anchor, not three)."""

RARITY_WINDOW = timedelta(days=14)
"""Rarity counts the articles signed on the days within this time of an article's own: longer
than `WINDOW`, so that a quiet stream (benches/synthetic.py spreads its events over a year) still
has enough articles to count, and a name that was everywhere last week still counts as common."""

PRIOR_SHARE, PRIOR_ARTICLES = 0.01, 200
"""Counts are smoothed with 200 pseudo-articles in which every feature has a 1% share: with few
articles signed (a new database) every feature's rarity is near 1 and verification falls back to
salience alone; from a few hundred articles on the counts decide. Rarity = log(1/share) /
log(1/PRIOR_SHARE): about 0.26 for a feature in 30% of articles, 1 at 1%, 1.8 when unseen among
thousands."""

RARITY_FLOOR = 0.1
"""No feature weighs less than this share of a typical one."""

WINDOW = timedelta(days=3)
"""Reports of one event are published within this time of each other."""

CANDIDATE_LIMIT = 200
"""Most recent band-sharing articles examined; bounds the work per article."""

# Verification weights: a shared name or number says more about "same event" than a shared word.
_KIND_WEIGHT = {"@": 2.0, "#": 2.0}
_WORD_WEIGHT = 0.25

# MinHash with NUM_PERM independent hash functions: one SHAKE-128 call per feature gives
# NUM_PERM 32-bit values at once, which in pure Python is ~10x cheaper than NUM_PERM
# (a*h + b) mod p permutations of one hash, and as stable across processes (never hash()).
_PACK = struct.Struct(f"<{NUM_PERM}I")
_MASK32 = 0xFFFFFFFF
_EMPTY_MINHASH = _PACK.pack(*([_MASK32] * NUM_PERM))

# --- Word lists -------------------------------------------------------------------------------

_STOP = frozenset(
    """a about above after again against all almost along already also although am among an and
    another any are around as at away back be became because become been before being below
    between both but by can cannot could did do does doing done down during each either else
    enough even ever every few for from further get gets got had has have having he her here hers
    herself him himself his how however i if in into is it its itself just least less like made
    make many may me might more most much must my myself near neither never no nor not now of off
    often on once one only or other others our ours ourselves out over own per perhaps put rather
    same she should since so some still such than that the their theirs them themselves then
    there these they this those though through thus to too under until up upon us very via was
    we well were what whatever when where whether which while who whom whose why will with within
    without would yet you your yours yourself yourselves
    two three four five six seven eight nine ten first second third last next several
    s t don didn doesn isn wasn weren won wouldn can't""".split()
)

# Words every news report uses whatever the event: they say nothing about which event it is.
_GENERIC = frozenset(
    """said say says saying told tell tells telling according report reports reported reporting
    reporter reporters news statement statements added adding asked announced announcement
    comment comments commented noted explained stated claimed confirmed described called
    spokesman spokeswoman spokesperson official officials source sources update updated
    today yesterday tomorrow tonight morning afternoon evening night week weeks weekend month
    months year years day days time times ago earlier later recent recently currently late
    early new news people percent per cent number numbers part parts way ways thing things lot
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    mr mrs ms dr""".split()
)

# Role words that precede names ("US President Donald Trump"): they split a run of capitalised
# words instead of becoming part of a name, so "President Trump" and "Trump" agree.
_ROLES = frozenset(
    """president presidents vice prime minister ministers chancellor secretary chief executive
    ceo chair chairman chairwoman mayor governor senator senators representative rep sen
    congressman congresswoman king queen prince princess pope general gen lt col sgt
    commissioner director leader leaders judge justice ambassador spokesman spokeswoman
    mr mrs ms dr sir dame lord lady professor prof the a an""".split()
)

# Lower-case particles inside names ("Ursula von der Leyen", "Bank of England").
_CONNECTORS = frozenset("von van der den de del della da di du la le al bin ibn of".split())

# Scale words after a number, and short forms glued to it ("$9.8m", "6bn").
_SCALE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}

# A number (with thousands separators, decimals and an optional scale), or a word (letters, with
# inner apostrophes for possessives and contractions). Hyphens split words: "Trump-Putin".
_TOKEN = re.compile(
    r"(?P<num>\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mn|tn|k|m|b)\b)?"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|\n\s*")


@dataclass(frozen=True, slots=True)
class Signature:
    """What grouping needs of one article, computed once at ingest and stored.

    Attributes:
        features: the salient features, most salient first: ``@name``, ``#number``, or a
            stemmed content word.
        minhash: ``NUM_PERM`` unsigned 32-bit MinHash values, little-endian.
        band_keys: one signed 64-bit LSH key per band (SQLite INTEGER).
    """

    features: tuple[str, ...]
    minhash: bytes
    band_keys: tuple[int, ...]


def signature(article: Article) -> Signature:
    """The grouping signature of `article`: features, MinHash and LSH band keys.

    Deterministic: the same article gives the same bytes in any process.
    """
    return _signature(features(article.title, article.text))


def _signature(found: tuple[str, ...]) -> Signature:
    if not found:
        return Signature((), _EMPTY_MINHASH, ())
    entities = [f for f in found if f[0] in _KIND_WEIGHT][:MINHASH_ENTITIES]
    values = minhash(entities or found[:MINHASH_ENTITIES])
    return Signature(found, _PACK.pack(*values), band_keys(values))


def features(title: str, text: str) -> tuple[str, ...]:
    """The most salient names, numbers and content words, most salient first."""
    sentences = [s for s in _SENTENCE_END.split(text[:MAX_CHARS]) if s]
    parsed = [_tokens(s) for s in sentences]
    title_tokens = _tokens(title) if title else []
    # A capitalised word is a name when seen capitalised mid-sentence somewhere in the body;
    # that rescues names at the start of a sentence and in Title Case headlines.
    known = {t[0] for toks in parsed for t in toks[1:] if t[1] == 1}
    score: dict[str, float] = {}
    order: dict[str, int] = {}
    if title_tokens:
        _score_sentence(title_tokens, TITLE_WEIGHT, known, score, order, words=True, title=True)
    for index, toks in enumerate(parsed):
        lead = index < LEAD_SENTENCES
        weight = LEAD_WEIGHT if lead else BODY_WEIGHT
        _score_sentence(toks, weight, known, score, order, words=lead, title=False)
    ranked = sorted(score, key=lambda f: (-score[f], order[f]))
    # Names and numbers are capped apart from words, so a wordy lead cannot crowd them out and
    # words shared by every story of a kind ("court", "profit") stay a minority of the set.
    entities = [f for f in ranked if f[0] in _KIND_WEIGHT][:MAX_ENTITIES]
    words = [f for f in ranked if f[0] not in _KIND_WEIGHT][:MAX_WORDS]
    keep = set(entities) | set(words)
    return tuple(f for f in ranked if f in keep)


def minhash(found: Iterable[str]) -> list[int]:
    """`NUM_PERM` MinHash values (unsigned 32-bit) of a feature set.

    Value i is the least of hash function i over the features; hash function i is the i-th
    32-bit word of the feature's SHAKE-128 output.
    """
    rows = [_PACK.unpack(hashlib.shake_128(f.encode()).digest(_PACK.size)) for f in found]
    if not rows:
        return [_MASK32] * NUM_PERM
    return list(map(min, zip(*rows, strict=True)))


def band_keys(values: Sequence[int]) -> tuple[int, ...]:
    """One signed 64-bit key per LSH band; the band index is hashed in so bands never mix."""
    keys = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS]
        data = struct.pack(f"<I{ROWS}I", band, *chunk)
        digest = hashlib.blake2b(data, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def similarity(
    left: Sequence[str], right: Sequence[str], rarity: Callable[[str], float] | None = None
) -> tuple[float, int]:
    """Weighted overlap of two feature sets, and how many anchors (names, numbers) they share.

    A feature weighs by kind, salience rank and (given `rarity`) how rare it is lately; the
    overlap is the weight of the shared features over the weight of the lighter set (with
    `rarity`), or the weighted Jaccard (without).

    A shared multi-word name (``@donald_trump``) is one anchor, its parts none; a shared part
    of names that differ (``@province``) is one.
    """
    shared = set(left) & set(right)
    if not shared:
        return 0.0, 0
    a, b = _ranked_weights(left, rarity), _ranked_weights(right, rarity)
    inter = sum(min(a[f], b[f]) for f in shared)
    if rarity is not None:
        score = inter / min(sum(a.values()), sum(b.values()))
    else:
        score = inter / (sum(a.values()) + sum(b.values()) - inter)
    return score, _anchors(shared)


def _anchors(shared: set[str]) -> int:
    joined = [f for f in shared if f[0] == "@" and "_" in f]
    parts = {"@" + p for f in joined for p in f[1:].split("_")}
    return len(joined) + sum(
        1 for f in shared if f[0] in _KIND_WEIGHT and "_" not in f and f not in parts
    )


def _ranked_weights(
    found: Sequence[str], rarity: Callable[[str], float] | None = None
) -> dict[str, float]:
    """Each feature's weight: by kind, falling with its salience rank, and by its rarity."""
    if rarity is None:
        return {f: _weight(f) / (1.0 + rank / RANK_DECAY) for rank, f in enumerate(found)}
    return {f: _weight(f) * rarity(f) / (1.0 + rank / RANK_DECAY) for rank, f in enumerate(found)}


class Rarity:
    """How rare features are among the articles signed around one moment, from the store's
    per-day feature counts, read in one query per batch of features and cached.

    The rarity of a feature is its inverse document frequency over the days within
    `RARITY_WINDOW` of the moment, divided by that of the prior share `PRIOR_SHARE` (1.0 is
    typical); the counts are smoothed with `PRIOR_ARTICLES` pseudo-articles at that share, so
    with few articles signed every feature is near 1.0 and grouping falls back to salience.
    """

    def __init__(self, store: Store, moment: datetime) -> None:
        self._store = store
        self._since, self._until = moment - RARITY_WINDOW, moment + RARITY_WINDOW
        self._total = 0
        self._counts: dict[str, int] = {}
        self._known: set[str] = set()
        self._scale = 1.0 / math.log(1.0 / PRIOR_SHARE)

    def load(self, found: Iterable[str]) -> None:
        """Read the counts of the features not read yet (one query)."""
        missing = [f for f in dict.fromkeys(found) if f not in self._known]
        if not missing:
            return
        total, counts = self._store.feature_stats(missing, since=self._since, until=self._until)
        self._total = total
        self._counts.update(counts)
        self._known.update(missing)

    def __call__(self, feature: str) -> float:
        df = self._counts.get(feature, 0)
        share = (df + PRIOR_ARTICLES * PRIOR_SHARE) / (self._total + PRIOR_ARTICLES)
        return max(RARITY_FLOOR, math.log(1.0 / share) * self._scale)


def assign_story(store: Store, article: Article) -> int:
    """Put a stored article into a story and store its signature; returns the story id.

    The article joins the story of the most similar verified candidate (sharing an LSH band,
    published within `WINDOW`, similar enough with enough shared anchors), else starts its own
    story, whose id is its own id. Calling it again for the same article changes nothing.

    Raises:
        ValueError: `article` has no id (it was not stored).
    """
    if article.id is None:
        raise ValueError("assign_story needs a stored article (with an id)")
    if store.has_signature(article.id):
        return store.story_ids([article.id]).get(article.id, article.id)
    moment = _moment(article)
    found = features(article.title, article.text)
    sig = _signature(found)
    story_id = _best_story(store, article.id, moment, sig)
    store.put_signature(
        article.id, sig.features, sig.minhash, sig.band_keys, story_id, moment=moment
    )
    return story_id


def _best_story(store: Store, article_id: int, moment: datetime, sig: Signature) -> int:
    if not sig.band_keys:
        return article_id
    candidates = store.story_candidates(
        sig.band_keys, since=moment - WINDOW, until=moment + WINDOW, limit=CANDIDATE_LIMIT
    )
    mine = set(sig.features)
    # the anchor rule needs no counts: only the candidates passing it are weighed
    anchored = [
        (other_id, story_id, other)
        for other_id, story_id, other, _ in candidates
        if other_id != article_id and _anchors(mine.intersection(other)) >= MIN_SHARED_ANCHORS
    ]
    if not anchored:
        return article_id
    # every feature a verification can weigh: one query for the counts of all of them
    rarity = Rarity(store, moment)
    rarity.load(itertools.chain(sig.features, *(other for _, _, other in anchored)))
    best: tuple[float, int] | None = None
    for _other_id, story_id, other in anchored:
        score, _ = similarity(sig.features, other, rarity)
        # best score first; ties go to the older story
        if score >= MIN_SIMILARITY and (best is None or (score, -story_id) > best):
            best = (score, -story_id)
    return article_id if best is None else -best[1]


def _moment(article: Article) -> datetime:
    moment = article.published or article.fetched_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _weight(feature: str) -> float:
    return _KIND_WEIGHT.get(feature[0], _WORD_WEIGHT)


# A token: its text, its kind (0 lower-case word, 1 capitalised word, 2 normalised number), and
# whether only spaces separate it from the one before (a name runs on only across spaces, so
# "Harbour Road, Mill Street" is two names and "Trump-Putin" two).
_Token = tuple[str, int, bool]


def _tokens(sentence: str) -> list[_Token]:
    out: list[_Token] = []
    end = 0
    for match in _TOKEN.finditer(sentence):
        glued = sentence[end : match.start()].isspace()
        end = match.end()
        word = match.group("word")
        if word is None:
            number = _number(match.group("num"), match.group("scale"))
            if number:
                out.append((number, 2, glued))
            continue
        if word[-2:] in ("'s", "’s"):
            word = word[:-2]
        out.append((word, 1 if word[0].isupper() else 0, glued))
    return out


def _number(digits: str, scale: str | None) -> str:
    """``#value`` with 4 significant digits, or "" for numbers that identify nothing.

    "1.2 billion", "1,200,000,000" and "1.2bn" all become ``#1.2e+09``. Small counts (under
    10) and bare years of this era are dropped: every story has them.
    """
    plain = digits.replace(",", "")
    try:
        value = float(plain)
    except ValueError:
        return ""
    if scale:
        value *= _SCALE[scale.lower()]
    elif value < 10 or (len(plain) == 4 and plain.isdigit() and 1990 <= value <= 2100):
        return ""
    return f"#{value:.4g}"


def _stem(word: str) -> str:
    """Light suffix stripping, so "guarantee", "guarantees" and "guaranteed" agree."""
    if len(word) > 5 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _score_sentence(
    toks: list[_Token],
    weight: float,
    known: set[str],
    score: dict[str, float],
    order: dict[str, int],
    *,
    words: bool,
    title: bool,
) -> None:
    """Add the features of one sentence to `score` (and first-seen order to `order`)."""

    def add(feature: str, value: float) -> None:
        if feature not in score:
            score[feature] = 0.0
            order[feature] = len(order)
        score[feature] += value

    def flush(run: list[str]) -> None:
        # connectors only count between two capitalised words
        while run and run[-1] in _CONNECTORS:
            run.pop()
        if len(run) > 1:
            add("@" + "_".join(run), weight * NAME_BONUS)
        run.clear()

    run: list[str] = []
    name_bonus = weight * NAME_BONUS
    last = len(toks) - 1
    for index, (tok, kind, glued) in enumerate(toks):
        if not glued:
            flush(run)
        if kind == 2:
            flush(run)
            add(tok, weight * NUMBER_BONUS)
            continue
        lower = tok.lower()
        if kind == 1:
            # The first word of a sentence, or any word of a headline, is a name only when seen
            # capitalised mid-sentence, or when a capitalised word follows it ("Volodymyr
            # Zelenskyy on Sunday..."); otherwise it is an ordinary word that happens to lead.
            is_name = (
                (index > 0 and not title)
                or tok in known
                or (index < last and toks[index + 1][1] == 1 and toks[index + 1][2])
            )
            # "US" is a name, "Us" and "The" are not
            common = lower in _STOP and not (len(tok) > 1 and tok.isupper())
            if is_name and not common and lower not in _ROLES and lower not in _GENERIC:
                run.append(lower)
                add("@" + lower, name_bonus)
                continue
            flush(run)
            if lower in _ROLES:
                continue  # "President", "Minister": every political story has them
        elif run and lower in _CONNECTORS:
            run.append(lower)
            continue
        else:
            flush(run)
        if words and len(lower) > 2 and lower not in _STOP and lower not in _GENERIC:
            add(_stem(lower), weight)
    flush(run)
