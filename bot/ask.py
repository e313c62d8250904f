"""`/ask`: answer a question with sentences taken word for word from stored articles.

Pipeline:

1. **Question analysis** (`_parse`): the question's content words (stopwords, question words
   and speech verbs such as *what*, *does*, *say* removed), its named entities (capitalised
   words after the first word, grouped in runs such as ``Donald Trump``) and its type: a
   definition (``what is X``, ``what does Y say X are``, ``what does X mean``), a "what does
   Y say" question, a number question (``how many``) or a time question (``when``).
2. **Statistics**: each term's document frequency comes from FTS5 itself (a ``count(*)`` of
   its matches, so the porter stemming agrees with the index), cached per store for a minute;
   IDF is the BM25 one, ``log(1 + (N - df + 0.5) / (df + 0.5))``.
3. **Retrieval** over the existing article index (no schema change), BM25 with the title
   weighted 5, top `_TOP_ARTICLES`: first every content word AND-ed (cheap, and the best
   candidates); when that finds few, a relaxed query: the entity runs AND-ed with the other
   content words OR-ed. Requiring the entities loses nothing, because an answer must mention
   them (see 5), and keeps the match set small on a large store; without entities, words found
   in more than `_COMMON_DF` of the articles are left out of the OR (they add little to BM25
   but would make FTS5 rank most of the store) and only re-ranking uses them.
4. **Re-ranking sentences**: the candidate articles are cleaned (`clean_text`), split into
   sentences with their paragraph's quote state and current speaker, and cached (LRU keyed by
   the text itself, so an edited article is never served stale). A sentence scores the share
   of the question's IDF mass it contains (stem-aware: a light suffix stripper), plus bonuses
   for a definitional shape matching a definition question (``Security guarantees are ...``),
   for a quote by the person a "say" question names, for numbers or dates when asked for,
   and small priors for the article's BM25 rank and the lead; questions and fragments are
   penalised.
5. **Abstention**: a sentence may answer only when it contains at least two of the question's
   content terms (the only one, for one-term questions), at least `_MIN_COVERAGE` of its IDF
   mass, and every entity run the question names, in the sentence itself or as the speaker of
   a quotation it belongs to (news quotes rarely repeat the speaker's name). A term no article
   contains has the largest IDF and so weighs against coverage; an entity no article contains
   ends the search at once. Nothing passes -> ``Answer(question, ())``.
6. **Selection**: at most `max_sentences` of those within `_RELATIVE_CUTOFF` of the best,
   greedily, a sentence from an article already cited losing `_SAME_ARTICLE` of its score and
   near-copies skipped, so equally good sentences from different outlets are preferred; best
   first.

Answers are verbatim: every cited sentence is a substring of its article's stored text with
whitespace runs collapsed (cleaning only ever removes whole furniture lines and labels; a
sentence that cleaning rewrote inside, e.g. by cutting a photo cue, is not cited at all).

Example:
    answer = await asyncio.to_thread(answer_question, store, "What did the council approve?")
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from bot.models import Answer, Citation, outlet_label
from bot.store import Store
from bot.summarize.clean import clean_text
from bot.summarize.sentences import split_block, split_paragraphs
from bot.text import strip_control

__all__ = ["MAX_QUESTION_CHARS", "answer_question"]

log = logging.getLogger(__name__)

# Longer input is not a question (a pasted article, a flood); it is refused, not truncated,
# because answering the first few words of it would answer something nobody asked.
MAX_QUESTION_CHARS = 500
# A question longer than this in content words is truncated to its first terms: BM25 and the
# coverage threshold both degrade gracefully, and the FTS query stays small.
_MAX_TERMS = 12

_TOP_ARTICLES = 15  # candidates re-ranked; more costs time and rarely adds an answer
_ENOUGH_STRICT = 5  # articles with every question word that make the relaxed query needless
_COMMON_DF = 0.2  # share of articles above which a word is too common to retrieve by
_MIN_COVERAGE = 0.5  # share of the question's IDF mass an answer must contain
_RELATIVE_CUTOFF = 0.7  # further answers must score this share of the best one
_SAME_ARTICLE = 0.85  # score kept by a second sentence from an already cited article
_NEAR_COPY = 0.7  # stem Jaccard at which two sentences say the same thing
_ATTRIBUTED = 0.75  # weight of an entity matched as a quotation's speaker, not in the text
_CONTEXT = 0.5  # weight of an entity matched only by the article's title or lead
_SUBJECT_WORDS = 5  # an entity among a sentence's first words is (nearly always) its subject

_DEFINITION_BONUS = 0.45
_QUOTE_BONUS = 0.1
_TYPE_BONUS = 0.1
_RANK_PRIOR = 0.05
_LEAD_PRIOR = 0.05
_QUESTION_PENALTY = 0.5
_FRAGMENT_PENALTY = 0.6
_LONG_PENALTY = 0.85
_MIN_WORDS = 6
_MAX_WORDS = 60

_STATS_TTL = 60.0  # seconds a document frequency is reused; a minute-old IDF is just as good
_STATS_SIZE = 4096
_PREPARED_SIZE = 512  # articles whose sentences are kept; ~0.5 MB of text at news sizes
_EXCERPT_CHARS = 80  # a citation's title when the article has none (the seed format)

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any anything are as at be because
    been before being below between both but by can could did do does doing done down during
    each either few for from further had has have having he her here hers herself him himself
    his how i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what whats when where which while who whom whose why will with would you your
    yours s t ll ve re d m
    say says said saying tell tells told think thinks thought believe believes believed claim
    claims claimed argue argues argued state states stated mean means meant meaning explain
    explains explained describe describes described happen happens happened happening know
    known news latest update updates please anyone someone something thing things many much
    """.split()
)
_SPEECH_WORDS = frozenset(
    "say says said tell tells told think thinks thought believe believes believed claim claims "
    "claimed argue argues argued state states stated".split()
)
_COPULAS = frozenset({"is", "are", "was", "were", "mean", "meant", "refer"})
_TITLES = frozenset(
    """
    president vice prime minister chancellor mayor governor senator sen rep representative
    secretary chief executive ceo chairman chair director general gen mr mrs ms dr prof king
    queen prince princess pope sir lord lady judge justice commissioner spokesman spokeswoman
    spokesperson
    """.split()
)

_TOKEN = re.compile(r"\w+")
_CAPITAL_TOKEN = re.compile(r"[A-Z]|\w*[A-Z]\w*[A-Z]")  # Name, NATO, McDonald
_DIGIT = re.compile(r"\d")
_DATE_WORD = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|yesterday|today|"
    r"tomorrow|tonight|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_NUMBER_QUESTION = re.compile(
    r"\bhow\s+(?:many|much|long|far|big|large|high|old|often)\b|\bwhat\s+(?:percentage|share|"
    r"proportion|number|amount|price|cost)\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(r"^\s*when\b|\bwhat\s+(?:date|day|time|year|month)\b", re.IGNORECASE)
_DEFINE_FRONT = re.compile(r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(.+)$", re.IGNORECASE)
_DEFINE_MEAN = re.compile(r"^\s*what\s+(?:does|do|did)\s+(.+?)\s+mean\W*$", re.IGNORECASE)
_DEFINE_BACK = re.compile(
    r"\b(?:say|says|think|thinks|believe|believes|claim|claims)\s+(.+?)\s+(?:is|are|was|were|"
    r"means?|should\s+be|will\s+be)\W*$",
    re.IGNORECASE,
)

# Attribution in the unquoted part of a sentence: "Zelenskyy added", "Dana Whitfield has
# said", "said Mayor Dana Whitfield", "according to Smith". Capitalised runs only: "he said"
# keeps the current speaker, which is what it means.
_NAME = r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3}"
_SPEECH = (
    r"(?:said|says|added|adds|noted|notes|stated|states|told|tells|explained|explains|argued|"
    r"argues|insisted|insists|warned|warns|wrote|writes|asked|asks|replied|announced|"
    r"announces|claimed|claims|stressed|stresses|emphasi[sz]ed|urged|urges|believes|"
    r"acknowledged|admitted|confirmed|described|describes|went\s+on\s+to\s+explain)"
)
_SPEAKER_BEFORE = re.compile(
    rf"({_NAME})\s+(?:(?:has|had|have|also|then|later|further|again)\s+){{0,2}}{_SPEECH}\b"
)
_SPEAKER_AFTER = re.compile(rf"\b(?:{_SPEECH}|according\s+to)\s+({_NAME})")
# Cheap pre-check: most sentences have no speech verb, and the name patterns are the slow part.
_SPEECH_ANY = re.compile(rf"\b(?:{_SPEECH}|according\s+to)\b")
_ANY_QUOTE = re.compile(r'["“”]')
_SPEAKER_LABEL = re.compile(r"^(" + _NAME + r"):\s")  # clean_text turns "Quote from X:" into "X:"
_OPEN_QUOTES = '"“'
_CLOSE_QUOTES = '"”'


def answer_question(store: Store, question: str, *, max_sentences: int = 3) -> Answer:
    """Answer `question` with up to `max_sentences` cited sentences from `store`'s articles.

    Synchronous (SQLite and CPU only); async callers use ``asyncio.to_thread``. Never raises
    for any question text: empty, punctuation, FTS5 syntax or over-long input gives an
    unanswered Answer.

    Args:
        store: The article store; only read.
        question: The user's question, as typed.
        max_sentences: Most sentences to cite (3 in replies); 0 or less cites none.

    Returns:
        ``Answer(question, citations)``, best sentence first, each verbatim from its article
        with the article's title (or an excerpt), source, URL and published time; no citations
        when the stored articles do not answer the question.
    """
    asked = question.strip() if isinstance(question, str) else ""
    if max_sentences <= 0 or not asked or len(asked) > MAX_QUESTION_CHARS:
        return Answer(asked)
    parsed = _parse(asked)
    if parsed is None:
        return Answer(asked)
    try:
        citations = _answer(store, parsed, max_sentences)
    except sqlite3.OperationalError as exc:
        # Terms are quoted, so this is not the user's syntax: a locked or damaged database.
        # A reply saying "no answer" is better than a crashed command; the log says why.
        log.warning("ask: query failed for %r: %s", asked, exc)
        return Answer(asked)
    return Answer(asked, citations)


# Question analysis ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Question:
    """What re-ranking needs to know about a question."""

    terms: tuple[str, ...]  # content words as typed (lower-cased), for FTS5 to stem
    stems: tuple[str, ...]  # the same words through `_stem`, for sentence matching
    entities: tuple[tuple[int, ...], ...]  # runs of indices into `terms` of named entities
    speakers: frozenset[int]  # indices into `entities` of runs the question asks the words of
    subject: frozenset[str]  # stems of what a definition question asks to define
    wants_quote: bool  # "what does X say ..."
    wants_number: bool
    wants_time: bool


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    """A light suffix stripper: plurals, -ed, -ing, a final -e, a doubled final consonant.

    Only needs to map a question's word and a sentence's word to the same key (guarantees /
    guarantee / guaranteed -> ``guarante``, approve / approves / approved -> ``approv``); it
    is applied to both sides, so over-stemming costs nothing but rare false matches.
    """
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("es") and w[:-2].endswith(("sh", "ch", "x", "ss", "zz")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def _parse(question: str) -> _Question | None:
    """Content terms, entity runs and question type; None when there is nothing to look up."""
    text = strip_control(question, keep_newlines=False)
    terms: list[str] = []
    capital: list[bool] = []
    where: list[int] = []  # token index of each term
    speech: list[int] = []  # token indices of speech verbs ("say", "told")
    seen: set[str] = set()
    for n, match in enumerate(_TOKEN.finditer(text)):
        word = match.group()
        lower = word.lower()
        if lower in _SPEECH_WORDS:
            speech.append(n)
        if lower in _STOPWORDS or lower in seen or (word.isdigit() and len(word) < 2):
            continue
        if len(terms) >= _MAX_TERMS:
            break
        seen.add(lower)
        terms.append(lower)
        where.append(n)
        # The first word is capitalised by grammar, not because it names something, unless
        # its shape says so (NATO, McDonald); titles (President) name no one by themselves.
        is_name = bool(_CAPITAL_TOKEN.match(word)) and lower not in _TITLES
        shaped = (word.isupper() and len(word) > 1) or any(c.isupper() for c in word[1:])
        if n == 0 and not shaped:
            is_name = False
        capital.append(is_name)
    if not terms:
        return None
    entities: list[tuple[int, ...]] = []
    run: list[int] = []
    for i, is_name in enumerate(capital):
        if is_name and run and run[-1] == i - 1:
            run.append(i)
        elif is_name:
            if run:
                entities.append(tuple(run))
            run = [i]
    if run:
        entities.append(tuple(run))
    stems = tuple(_stem(t) for t in terms)
    # "What does Zelenskyy say ...": a run just before a speech verb is whose words are asked.
    speakers = frozenset(
        k for k, r in enumerate(entities) if any(0 < m - where[r[-1]] <= 3 for m in speech)
    )
    return _Question(
        terms=tuple(terms),
        stems=stems,
        entities=tuple(entities),
        speakers=speakers,
        subject=_subject(text, frozenset(stems[i] for r in entities for i in r)),
        wants_quote=any(t.lower() in _SPEECH_WORDS for t in _TOKEN.findall(text)),
        wants_number=bool(_NUMBER_QUESTION.search(text)),
        wants_time=bool(_TIME_QUESTION.search(text)),
    )


def _subject(text: str, entity_stems: frozenset[str]) -> frozenset[str]:
    """Stems of the phrase a definition question asks about; empty when it asks no definition.

    ``What does Zelenskyy say security guarantees are?`` -> {security, guarante};
    ``What is NATO?`` -> {nato}. The entity asked about is left out of a "say" definition (it
    is the speaker, not the thing defined).
    """
    for pattern, drop_entities in ((_DEFINE_BACK, True), (_DEFINE_MEAN, False)):
        match = pattern.search(text)
        if match:
            words = _content_stems(match.group(1))
            picked = words - entity_stems if drop_entities else words
            if picked:
                return picked
    match = _DEFINE_FRONT.match(text)
    if match:
        return _content_stems(match.group(1))
    return frozenset()


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _TOKEN.findall(text) if w.lower() not in _STOPWORDS)


# Term statistics -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    """Per-store document frequencies with their age; bounded, oldest dropped first."""

    total: tuple[float, int] = (0.0, 0)  # (fetched at, article count)
    df: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)


# Keyed by the Store object itself, so two stores (or a test's many) never share numbers and a
# closed store's entry goes with it.
_STATS: weakref.WeakKeyDictionary[Store, _Stats] = weakref.WeakKeyDictionary()


def _fts_phrase(term: str) -> str:
    """One term as an FTS5 string: quoted, so ``NEAR``, ``OR``, ``*`` and ``"`` are literal."""
    return '"' + term.replace('"', '""') + '"'


# /ask runs in worker threads, several at once under load: the shared cache takes turns
_STATS_LOCK = threading.Lock()


def _document_frequencies(store: Store, terms: Sequence[str]) -> tuple[int, list[int]]:
    """The article count and each term's document frequency, from FTS5 (so stemmed alike)."""
    with _STATS_LOCK:
        return _frequencies_locked(store, terms)


def _frequencies_locked(store: Store, terms: Sequence[str]) -> tuple[int, list[int]]:
    stats = _STATS.get(store)
    if stats is None:
        stats = _STATS[store] = _Stats()
    now = time.monotonic()
    if now - stats.total[0] > _STATS_TTL:
        count = int(store.conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        stats.total = (now, count)
    freqs: list[int] = []
    for term in terms:
        cached = stats.df.get(term)
        if cached is not None and now - cached[0] <= _STATS_TTL:
            stats.df.move_to_end(term)
            freqs.append(cached[1])
            continue
        row = store.conn.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (_fts_phrase(term),)
        ).fetchone()
        df = int(row[0])
        stats.df[term] = (now, df)
        stats.df.move_to_end(term)
        if len(stats.df) > _STATS_SIZE:
            stats.df.popitem(last=False)
        freqs.append(df)
    # A term can be in more articles than the (older) cached count; IDF must stay defined.
    return max(stats.total[1], *freqs, 1), freqs


def _idf(total: int, df: int) -> float:
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


# Sentences of an article -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sentence:
    """One citable sentence and what scoring needs about it."""

    text: str  # verbatim from the article (whitespace collapsed)
    position: int  # index among the article's sentences
    stems: frozenset[str]
    head: tuple[str, ...]  # first stems in order, for the definitional shape
    speaker: frozenset[str]  # stems of who says it: a quote's speaker, "X said" in it
    quoted: bool
    words: int
    is_question: bool


def _strip_unbalanced_quotes(sentence: str) -> str:
    """Drop a quote mark the splitter left on one end (``"Security guarantees are ...``).

    The sentence stays a substring of the article; a lone mark only looks like a typo.
    """
    if not _ANY_QUOTE.search(sentence):
        return sentence
    opens = sum(sentence.count(c) for c in "“")
    closes = sum(sentence.count(c) for c in "”")
    straight = sentence.count('"')
    if straight % 2 == 1 or opens != closes:
        if sentence[:1] in _OPEN_QUOTES and (straight % 2 == 1 or opens > closes):
            sentence = sentence[1:].lstrip()
        elif sentence[-1:] in _CLOSE_QUOTES and (straight % 2 == 1 or closes > opens):
            sentence = sentence[:-1].rstrip()
    return sentence


def _name_stems(name: str) -> frozenset[str]:
    words = (w.lower() for w in _TOKEN.findall(name))
    return frozenset(_stem(w) for w in words if w not in _TITLES and w not in _STOPWORDS)


def _unquoted(sentence: str, inside: bool) -> tuple[str, bool]:
    """The parts of `sentence` outside quotation marks, and whether a quote is open after it."""
    if not _ANY_QUOTE.search(sentence):
        return ("" if inside else sentence), inside
    out: list[str] = []
    start = 0
    for mark in _ANY_QUOTE.finditer(sentence):
        if not inside:
            out.append(sentence[start : mark.start()])
        char = mark.group()
        inside = (not inside) if char == '"' else char == "“"
        start = mark.end()
    if not inside:
        out.append(sentence[start:])
    return " ".join(out), inside


@lru_cache(maxsize=_PREPARED_SIZE)
def _prepare(text: str) -> tuple[_Sentence, ...]:
    """Clean and split an article, tracking quotations and who speaks them.

    Cached on the text itself: the same article asked about again costs a dictionary lookup,
    and an article whose text changed is simply a new key.
    """
    flat = " ".join(text.split())
    sentences: list[_Sentence] = []
    speaker: frozenset[str] = frozenset()
    position = 0
    for paragraph in split_paragraphs(clean_text(text)):
        inside = False
        label = _SPEAKER_LABEL.match(paragraph)
        for raw in split_block(paragraph):
            outside, after = _unquoted(raw, inside)
            quoted = inside or raw[:1] in _OPEN_QUOTES
            found = None
            if outside and _SPEECH_ANY.search(outside):
                found = _SPEAKER_BEFORE.search(outside) or _SPEAKER_AFTER.search(outside)
            if label and raw.startswith(label.group(0)):
                found = label
            named = _name_stems(found.group(1)) if found else frozenset()
            if named:
                speaker = named
            inside = after
            display = raw
            if label and display.startswith(label.group(0)) and display not in flat:
                # "Quote from X:" was shortened to "X:" by cleaning; cite what the article says.
                display = display[label.end() :]
            display = _strip_unbalanced_quotes(display)
            position += 1
            if len(display) < 2 or display not in flat:
                continue  # cleaning rewrote it inside: not verbatim, never cited
            tokens = [_stem(w) for w in _TOKEN.findall(display.lower())]
            sentences.append(
                _Sentence(
                    text=display,
                    position=position - 1,
                    stems=frozenset(tokens),
                    head=tuple(tokens[:14]),
                    speaker=speaker if named or quoted or '"' in raw or "“" in raw else named,
                    quoted=quoted,
                    words=len(tokens),
                    is_question=display.rstrip("\"'”’)").endswith("?"),
                )
            )
    return tuple(sentences)


# Retrieval and re-ranking ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    sentence: _Sentence
    article_id: int
    rank: int


def _answer(store: Store, q: _Question, max_sentences: int) -> tuple[Citation, ...]:
    total, dfs = _document_frequencies(store, q.terms)
    idf = [_idf(total, df) for df in dfs]
    present = [df > 0 for df in dfs]
    # An entity run none of whose words any article contains cannot be answered about.
    runs = [tuple(i for i in run if present[i]) for run in q.entities]
    if any(not run for run in runs):
        return ()
    if sum(present) < min(2, len(q.terms)):
        return ()
    rows = _retrieve(store, q, runs, dfs, total)
    # The key of each entity run: its rarest word (a surname, rarer than the first name).
    keys = [min(run, key=lambda i: dfs[i]) for run in runs]
    mass = sum(idf)
    candidates: list[_Candidate] = []
    for rank, row in enumerate(rows):
        sentences = _prepare(row["text"])
        # What the article is about: its title and lead name the entity later sentences
        # leave out ("Construction is due to start in March" in the Riverton story).
        context = frozenset(_stem(w) for w in _TOKEN.findall(row["title"] or ""))
        if sentences:
            context |= sentences[0].stems
        for sentence in sentences:
            score = _score(q, sentence, idf, keys, context, mass, rank, len(rows))
            if score is not None:
                candidates.append(_Candidate(score, sentence, int(row["id"]), rank))
    picked = _select(candidates, max_sentences)
    by_id = {int(row["id"]): row for row in rows}
    return tuple(_citation(c, by_id[c.article_id]) for c in picked)


def _search(store: Store, match: str) -> list[sqlite3.Row]:
    """The best `_TOP_ARTICLES` articles for an FTS5 expression, BM25 with the title at 5.

    Ranked in a subquery on the index alone, so only the winners' texts are read.
    """
    return store.conn.execute(
        "SELECT a.id, a.title, a.source, a.url, a.published, a.text FROM ("
        " SELECT rowid AS id, bm25(articles_fts, 5.0, 1.0) AS score FROM articles_fts"
        " WHERE articles_fts MATCH ? ORDER BY score LIMIT ?"
        ") AS hit JOIN articles a ON a.id = hit.id ORDER BY hit.score",
        (match, _TOP_ARTICLES),
    ).fetchall()


def _retrieve(
    store: Store, q: _Question, runs: Sequence[tuple[int, ...]], dfs: Sequence[int], total: int
) -> list[sqlite3.Row]:
    """Candidate articles: those with every question word first, then the relaxed query's.

    The strict AND is cheap (FTS5 intersects by skipping through the rarest word's list) and
    its hits are the best candidates anyway; the relaxed query ranks a far larger union and
    runs only when the strict one finds fewer than `_ENOUGH_STRICT` articles.
    """
    found = [i for i, df in enumerate(dfs) if df > 0]
    strict = " AND ".join(_fts_phrase(q.terms[i]) for i in found)
    rows = _search(store, strict) if strict else []
    if len(rows) >= _ENOUGH_STRICT:
        return rows
    relaxed = _match_expression(q, runs, dfs, total)
    if not relaxed or relaxed == strict:
        return rows
    have = {int(row["id"]) for row in rows}
    more = (row for row in _search(store, relaxed) if int(row["id"]) not in have)
    return (rows + list(more))[:_TOP_ARTICLES]


def _match_expression(
    q: _Question, runs: Sequence[tuple[int, ...]], dfs: Sequence[int], total: int
) -> str:
    """FTS5 query: entity runs AND-ed (a run's words too), other words OR-ed after them.

    A run's words are AND-ed because articles name a person in full at least once ("Ines
    Weber"), while either name alone matches every other Ines and Weber in the store.
    """
    in_runs = {i for run in runs for i in run}
    others = [i for i, term in enumerate(q.terms) if dfs[i] > 0 and i not in in_runs]
    rare = [i for i in others if dfs[i] <= _COMMON_DF * total]
    # Without an entity to AND on, common words would make FTS5 rank most of the store; they
    # are dropped when something rarer is left to find articles by. With one, the AND already
    # bounds the work and the common words still help BM25 order the candidates.
    if rare and not runs:
        others = rare
    parts = ["(" + " AND ".join(_fts_phrase(q.terms[i]) for i in run) + ")" for run in runs]
    if others:
        parts.append("(" + " OR ".join(_fts_phrase(q.terms[i]) for i in others) + ")")
    return " AND ".join(parts)


def _score(
    q: _Question,
    s: _Sentence,
    idf: Sequence[float],
    keys: Sequence[int],
    context: frozenset[str],
    mass: float,
    rank: int,
    ranked: int,
) -> float | None:
    """A sentence's score as an answer to `q`, or None when it does not answer it (see 5).

    Each entity the question names must be in the sentence, be who says it, or (at half
    weight, and only when another question word is in the sentence itself) be what the
    article's title or lead is about. An entity whose words are asked about ("what does X
    say") must be who says it or the subject of an unattributed sentence.
    """
    weights = [0.0] * len(q.stems)
    from_context = False
    for k, key in enumerate(keys):
        stem = q.stems[key]
        if stem in s.speaker:
            weights[key] = 1.0 if stem in s.stems else _ATTRIBUTED
        elif k in q.speakers and (s.speaker or stem not in s.head[:_SUBJECT_WORDS]):
            # Asked what X says: a sentence someone else says, or one that only mentions X
            # ("... after Trump met Putin"), is not X's word. The outlet's own sentence with X
            # as its subject ("Corvid raised its forecast") is.
            return None
        elif stem in s.stems:
            weights[key] = 1.0
        elif stem in context:
            for i in q.entities[k]:
                if q.stems[i] in context:
                    weights[i] = _CONTEXT
            from_context = True
        else:
            return None
    for i, stem in enumerate(q.stems):
        if weights[i] != 1.0 and stem in s.stems:
            weights[i] = 1.0
    matched = sum(1 for w in weights if w)
    covered = sum(w * v for w, v in zip(weights, idf, strict=True))
    coverage = covered / mass if mass > 0 else 0.0
    if matched < min(2, len(q.terms)) or coverage < _MIN_COVERAGE:
        return None
    in_runs = {i for run in q.entities for i in run}
    if from_context and not any(w == 1.0 and i not in in_runs for i, w in enumerate(weights)):
        return None
    definition = _definition_shape(q.subject, s.head) if q.subject else 0.0
    if len(q.terms) == 1 and q.subject and definition == 0.0:
        return None  # "What is NATO?" is not answered by any sentence that says "NATO"
    score = coverage + _DEFINITION_BONUS * definition
    if q.wants_quote and s.speaker and any(q.stems[k] in s.speaker for k in keys):
        score += _QUOTE_BONUS
    # Checked here, on the few sentences that pass, not for every sentence prepared.
    if (q.wants_number and _DIGIT.search(s.text)) or (q.wants_time and _DATE_WORD.search(s.text)):
        score += _TYPE_BONUS
    score += _RANK_PRIOR * (1.0 - rank / max(ranked, 1))
    if s.position < 3:
        score += _LEAD_PRIOR
    if s.is_question:
        score *= _QUESTION_PENALTY
    if s.words < _MIN_WORDS:
        score *= _FRAGMENT_PENALTY
    elif s.words > _MAX_WORDS:
        score *= _LONG_PENALTY
    return score


def _definition_shape(subject: frozenset[str], head: Sequence[str]) -> float:
    """How much `head` reads as a definition of `subject`: "<subject> are/means ...".

    The share of the subject's words before an early copula; a reversed definition ("That is
    a security guarantee") counts at 60%, the subject's words just after the copula.
    """
    for i, stem in enumerate(head[:9]):
        if stem in _COPULAS:
            before = len(subject.intersection(head[:i])) / len(subject)
            after = len(subject.intersection(head[i + 1 : i + 5])) / len(subject)
            return max(before, 0.6 * after)
    return 0.0


def _select(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """Greedy pick: best first, other articles preferred, near-copies skipped."""
    if not candidates:
        return []
    candidates.sort(key=lambda c: (-c.score, c.rank, c.sentence.position))
    floor = _RELATIVE_CUTOFF * candidates[0].score
    pool = [c for c in candidates if c.score >= floor]
    picked: list[_Candidate] = []
    while pool and len(picked) < limit:
        cited = {c.article_id for c in picked}

        def effective(c: _Candidate, cited: set[int] = cited) -> float:
            return c.score * (_SAME_ARTICLE if c.article_id in cited else 1.0)

        best = max(pool, key=effective)
        pool.remove(best)
        if any(_jaccard(best.sentence.stems, p.sentence.stems) >= _NEAR_COPY for p in picked):
            continue
        if picked and effective(best) < floor:
            break
        picked.append(best)
    return picked


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _citation(c: _Candidate, row: sqlite3.Row) -> Citation:
    title = str(row["title"] or "").strip()
    if not title:
        title = _excerpt(str(row["text"]))
    published = row["published"]
    return Citation(
        sentence=c.sentence.text,
        article_id=c.article_id,
        title=title,
        source=outlet_label(str(row["source"]), str(row["url"])),
        url=str(row["url"]),
        published=datetime.fromisoformat(published) if published else None,
    )


def _excerpt(text: str) -> str:
    """The article's first sentence, cut at a word boundary to `_EXCERPT_CHARS`."""
    sentences = _prepare(text)
    first = sentences[0].text if sentences else " ".join(text.split())
    if len(first) <= _EXCERPT_CHARS:
        return first
    cut = first[:_EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
