"""`/ask`: answer a question with sentences taken word for word from stored articles.

Pipeline:

1. **Question analysis** (`_parse`): the question's content words (stop words, question words
   and speech verbs such as *what*, *does*, *say* removed) and their Snowball stems
   (`bot.text.stem`), each with its synonyms: roles (*CEO* ~ *chief executive*), irregular forms
   (*won* ~ *win*) and measures (*cost* ~ an amount of money, *hot* ~ degrees); its named
   entities (capitalised words after the first, in runs such as ``Donald Trump``); its phrases
   (neighbouring words: *Turkish President*); and what it asks for (`_Wants`): a number or an
   amount of money (*how many*, *how much*), a date or day (*when*), a person or organisation
   (*who*), a place (*where*, *what country*), a name (*which team*); or a definition (*what is
   X*) or someone's words (*what does X say*). The noun of *which team* / *what kind of craft*
   names the answer's category, which the answer seldom repeats: it weighs half.
2. **Statistics**: each term's document frequency (with its synonyms) comes from the store's
   full-text index, so the index's stemming decides what matches, cached per store for a
   minute; IDF is the BM25 one, ``log(1 + (N - df + 0.5) / (df + 0.5))``.
3. **Retrieval** over the existing article index (no schema change), BM25 with the title
   weighted 5, top `_TOP_ARTICLES`: first every content word AND-ed (cheap, and the best
   candidates); when that finds few, each entity's rarest word AND-ed and the other words only
   ranking (an article may say "defeat" where the question says "beat"). Without entities,
   words in more than `_COMMON_DF` of the articles are left out (they would make the index rank most
   of the store). A long word no article uses may be a misspelling ("Robaldinho"): the
   candidates are searched for it one typing slip away.
4. **Scoring sentences**: candidate articles are cleaned (`clean_text`), split into sentences
   with their paragraph's quote state and speaker, and cached (LRU keyed by the text itself,
   so an edited article is never served stale). A sentence earns each question word's IDF:
   in full when it says the word (or a synonym, or the word is who speaks it), in part when
   only its neighbours or the article's lead say it (news writes "the 9.8 million dollar plan"
   a sentence after naming Riverton and its bike lanes), a little when only the article does;
   for ranking, a word every sentence of the article says (its subject) counts less than one
   only a few say. Then bonuses when it holds what the question asks for and the question does
   not say itself (a number, money, a date, a name), says the question's phrases, has the
   shape of the definition asked for or is the words of the person asked about; a penalty
   when a number or date question finds none; small priors for the article's rank and lead.
5. **Abstention** ("nothing answers that"): the best sentence may answer only when it says at
   least `_MIN_OWN` of the question's IDF mass itself, and its coverage with context plus
   `_EVIDENCE_WEIGHT` times its evidence reaches `_MIN_CONFIDENCE`, with at least
   `_MIN_EVIDENCE` of evidence. Evidence is the IDF it covers minus ``log N``: about
   -log P(a random article says all of that), so a match any article of a store this size
   could make by chance is not one; holding the asked-for kind of answer and the question's
   phrases add to it. A question about a category no surface test can check (*what
   ethnicity*) also needs a sentence that says more than the names. An entity no article
   contains (and that is no misspelling) ends the search at once.
6. **Selection**: the answer first, then at most `max_sentences` - 1 more within
   `_RELATIVE_CUTOFF` of it, greedily, near-copies skipped and a sentence from an article
   already cited losing a little; a sentence that could not answer by itself may only follow
   from the answer's own article.

Measured on real questions people wrote about CNN articles (``benches/ask_quality.py``): see
``tests/test_ask_gate.py`` for the pinned figures.

Answers are verbatim: every cited sentence is a substring of its article's stored text with
whitespace runs collapsed (cleaning only ever removes whole furniture lines and labels; a
sentence that cleaning rewrote inside, e.g. by cutting a photo cue, is not cited at all).

Example:
    answer = await asyncio.to_thread(answer_question, store, "What did the council approve?")
"""

from __future__ import annotations

import enum
import logging
import math
import operator
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.models import Answer, Article, Citation
from bot.store import Match, Store, StoreError
from bot.summarize.clean import clean_text
from bot.summarize.sentences import split_block, split_paragraphs
from bot.text import QUESTION_STOP_WORDS as _STOPWORDS
from bot.text import TOKEN as _TOKEN
from bot.text import WordCache, stem, strip_control

__all__ = ["MAX_QUESTION_CHARS", "answer_question"]

log = logging.getLogger(__name__)

# Longer input is not a question (a pasted article, a flood); it is refused, not truncated,
# because answering the first few words of it would answer something nobody asked.
MAX_QUESTION_CHARS = 500
# A question longer than this in content words is truncated to its first terms: BM25 and the
# coverage threshold both degrade gracefully, and the FTS query stays small.
_MAX_TERMS = 12

# Candidates scored. With the QA set's questions among 2,903 real articles (ask_quality
# --distractors, 5 splits), 6 quote the answer as often as 10 did (61.7%), answer fewer questions
# the store cannot (15.8% against 16.3%), and cost a 10k store's worker 30% less a question.
_TOP_ARTICLES = 6
_ENOUGH_STRICT = 5  # articles with every question word that make the relaxed query needless
_COMMON_DF = 0.2  # share of articles above which a word is too common to retrieve by

# What a word is worth to a sentence, by where it is found (see 4 above).
_SYNONYM = 0.9  # said in other words: "chief executive" for "CEO"
_ATTRIBUTED = 0.75  # only as who says it ("he said" after "Whitfield said")
_NEAR = 0.5  # in the sentence before or after, or in the article's title or lead
_ARTICLE = 0.2  # anywhere else in the article
_SHARP = 0.5  # share of a word's weight in ranking that depends on how few sentences say it
_CATEGORY = 0.5  # weight of the category noun ("which *team*"), which answers seldom repeat

_MIN_OWN = 0.3  # share of the question's IDF mass the sentence itself must say
_MIN_OWN_SUPPORT = 0.1  # the same for a sentence cited after one that answers
_MIN_CONFIDENCE = 0.9  # coverage (with context) plus weighted evidence an answer needs
_EVIDENCE_WEIGHT = 0.05  # coverage one unit of evidence is worth
_NEAR_COVER = 1.0  # what a word in the context counts for when judging whether to answer
_FAR_COVER = 0.5  # the same for a word only elsewhere in the article
# Endings that make a place's name its people's or language's, as stems ("venezuela" ->
# "venezuelan", "europ" -> "european", "japan" -> "japanes").
_NAME_ENDINGS = ("n", "an", "ian", "i", "s", "es", "ese", "ean", "ns")
_MIN_TYPO = 5  # letters a word no article uses needs to be looked up as a misspelling
_MIN_EVIDENCE = 1.0  # IDF beyond chance (log N) the match must rest on; see `_judge`
_TYPE_EVIDENCE = 1.0  # what holding the asked-for kind of answer counts as evidence
_SURE_CUTOFF = 0.9  # the answer must score this share of the best sentence
_RELATIVE_CUTOFF = 0.4  # further answers must score this share of the best one
_SAME_ARTICLE = 0.95  # score kept by a second sentence from an already cited article
_NEAR_COPY = 0.7  # stem Jaccard at which two sentences say the same thing

_PHRASE_EVIDENCE = 0.5  # evidence a question's phrase said as a phrase adds (words in order)
_PHRASE_BONUS = 0.1  # ranking bonus for saying all of the question's phrases
_TYPE_BONUS = 0.15  # holds what is asked for (a number, a date, a name) that the question lacks
_TYPE_MISS = 0.75  # a number or date question, and the sentence has none
_DEFINITION_BONUS = 0.45
_QUOTE_BONUS = 0.1
_RANK_PRIOR = 0.05
_LEAD_PRIOR = 0.03
_QUESTION_PENALTY = 0.5
_FRAGMENT_PENALTY = 0.6
_LONG_PENALTY = 0.85
_MIN_WORDS = 6
_MAX_WORDS = 60

_STATS_TTL = 60.0  # seconds a document frequency is reused; a minute-old IDF is just as good
_STATS_SIZE = 4096
_PREPARED_SIZE = 512  # articles whose sentences are kept; ~0.5 MB of text at news sizes
_EXCERPT_CHARS = 80  # a citation's title when the article has none (the seed format)

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

# Synonyms of roles, irregular forms and measures: a question word on the left is also said by
# any phrase on the right (each phrase's words must all be in the sentence). Tags in angle
# brackets are measures found by `_MEASURES` ("$9.8 million", "38.9 degrees"): "how much will
# it cost" is answered by an amount of money whatever the sentence calls it. Each group is
# symmetric where the words are: "chief executive" in a question finds "CEO" too.
_SYNONYM_GROUPS = (
    "ceo | chief executive | chief executive officer | boss",
    "president | head of state",
    "pm | prime minister | premier",
    "spokesman | spokeswoman | spokesperson",
    "chairman | chairwoman | chairperson | chair",
    "lawmaker | legislator | congressman | congresswoman | senator",
    "coach | manager",
    "lawyer | attorney",
    "doctor | physician",
    "police | officers | authorities",
    "troops | soldiers | forces | military",
    "film | movie",
    "kid | child | children | son | daughter",
    "wife | husband | spouse",
    "country | nation",
    "begin | start",
    "kill | dead | die | death | toll",
    "injure | wound | hurt",
    "arrest | detain | custody",
    "jail | prison",
    "win | won | victory | beat | defeat",
    "lose | lost | defeat",
    "buy | bought | purchase | acquire",
    "sell | sold",
    "pay | paid",
    "spend | spent",
    "hold | held",
    "lead | led",
    "leave | left",
    "fall | fell",
    "rise | rose",
    "meet | met",
    "find | found",
    "give | gave",
    "take | took",
    "make | made",
    "bring | brought",
    "catch | caught",
    "fight | fought",
    "shoot | shot",
    "strike | struck",
    "steal | stole",
    "fly | flew",
    "run | ran",
    "see | saw",
    "choose | chose",
    "write | wrote",
    "born | birth",
    "temperature | temp | <degree>",
    "percentage | percent | <percent>",
    "age | aged | year old | <age>",
)
# Measures a question word asks for, one way only: "cost" is answered by "$9.8 million", but a
# sentence about money does not make a question about money words mean "cost".
_MEASURE_WORDS = {
    "<money>": "cost price pay paid spend spent worth value fine budget salary money currency fund "
    "funding raise raised earn earned revenue profit fee bail bid award compensation donate "
    "donation charge tax sell sold",
    "<distance>": "far distance long length wide width tall height high deep depth",
    "<people>": "population inhabitants residents",
    "<degree>": "hot cold warm",
}
_MEASURES = re.compile(
    r"(?P<money>[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:million|billion|trillion|m|bn)?\s*(?:dollars?|euros?|"
    r"pounds?|yen|yuan|rupees?|pesos?|francs?|rubles?|roubles?)\b|\b(?:dollars?|euros?|pesos?|"
    r"yen|yuan|rupees?|rubles?|roubles?)\b)"
    r"|(?P<degree>\bdegrees?\b|°|\bcelsius\b|\bfahrenheit\b)"
    r"|(?P<percent>\bper\s?cent\b|%)"
    r"|(?P<distance>\b\d[\d,.]*\s*(?:km|kilomet(?:re|er)s?|miles?|met(?:re|er)s?|feet|foot|"
    r"yards?|inches|cm)\b)"
    r"|(?P<age>\b\d+-year-old\b|\baged\s+\d|\bage\s+(?:of\s+)?\d)"
    r"|(?P<people>\b\d[\d,.]*\s*(?:million|billion)?\s*(?:people|residents|inhabitants)\b)",
    re.IGNORECASE,
)

# Every match of `_MEASURES` holds a digit, a currency, degree or percent sign, or one of these
# words. In ASCII text (where a case-blind match is an ASCII one) a sentence with none of them
# has no measure: these tests are some twenty times cheaper than the pattern, which still decides.
_MEASURE_SIGN = re.compile(r"[0-9$%]")
_MEASURE_KEYS = (
    "dollar euro peso yen yuan rupee ruble rouble degree celsius fahrenheit cent".split()
)


class _Wants(enum.Enum):
    """What a question asks for, as far as a sentence's surface can show it."""

    NUMBER = "number"
    MONEY = "money"
    TIME = "time"
    PERSON = "person"
    PLACE = "place"
    NAME = "name"  # which team, what company: any proper name


_PLACE_NOUNS = (
    "countr(?:y|ies)|cit(?:y|ies)|towns?|states?|nations?|regions?|provinces?|places?|"
    "villages?|islands?|continents?"
)
_NAME_NOUNS = (
    "teams?|compan(?:y|ies)|clubs?|part(?:y|ies)|groups?|organi[sz]ations?|firms?|airlines?|"
    "newspapers?|networks?|channels?|agenc(?:y|ies)|bands?|movies?|films?|shows?|books?|songs?|"
    "albums?|universit(?:y|ies)|schools?|hospitals?|brands?|characters?|m[ae]n|wom[ae]n|"
    "persons?|people|players?|officials?|leaders?"
)
# The first match in this order decides: "how much" before "who" ("Who paid how much?" asks
# for the amount), "when" before "where".
_WANTS_PATTERNS = (
    (
        _Wants.NUMBER,
        re.compile(
            r"\bhow\s+(?:many|much|long|far|big|large|high|old|often|tall|deep|fast|heavy|hot|"
            r"cold|warm)\b|"
            r"\bwhat\s+(?:percentage|percent|share|proportion|number|amount|price|cost|age|"
            r"score|toll|rate|temperature|total)\b|\bby\s+how\b"
        ),
    ),
    (
        _Wants.TIME,
        re.compile(r"\bwhen\b|\b(?:what|which)\s+(?:date|day|time|year|month|season|decade)\b"),
    ),
    (_Wants.PLACE, re.compile(rf"\bwhere\b|\b(?:what|which|whose)\s+(?:{_PLACE_NOUNS})\b")),
    (_Wants.PERSON, re.compile(r"\bwho(?:m|se)?\b|\bname\s+of\b|\b(?:his|her)\s+name\b")),
    (_Wants.NAME, re.compile(rf"\b(?:what|which)\s+(?:{_NAME_NOUNS})\b")),
)
# "Which team", "what kind of craft", "what flower do ...": a noun naming the answer's category.
# After a bare "what" the word must be followed by an auxiliary, or it is the question's verb
# ("What caused the collapse?").
_CATEGORY_NOUN = re.compile(
    r"^\W*(?:which\s+([a-z][\w'-]*)|(?:what|which)\s+(?:kind|type|sort|form)s?\s+of\s+([a-z][\w'-]*)"
    r"|what\s+([a-z][\w'-]*)\s+(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could)\b)",
    re.IGNORECASE,
)
_AUXILIARIES = frozenset(
    "is are was were do does did has have had will would can could should may might must "
    "must been being be".split()
)
_MONEY_QUESTION = re.compile(r"\bhow\s+much\s+(?:money|cash)\b|\bwhat\s+(?:price|cost)\b")

_WORD = re.compile(r"\b(?:[A-Z]\.){2,}|\w+")
_CAPITAL_TOKEN = re.compile(r"[A-Z]|\w*[A-Z]\w*[A-Z]")  # Name, NATO, McDonald
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|"
    r"half|third|quarter|twice|double|triple)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|"
    r"aug|sep|sept|oct|nov|dec|yesterday|today|tomorrow|tonight|overnight|ago|(?:1[5-9]|20)\d\d|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:last|next|this|earlier|later)\s+(?:week|month|year|"
    r"spring|summer|fall|autumn|winter|night|morning|evening)|century|decade|\d+s)\b",
    re.IGNORECASE,
)
# A proper name in running text: a capitalised word that is not the sentence's first (grammar
# capitalises that one) unless another capitalised word follows it ("Manchester United beat").
_PROPER = re.compile(r"(?<![\w'’])[A-Z][\w'’.-]*")
_NOT_NAMES = frozenset(
    """
    i the a an he she it they we you his her its their our this that these those there but and
    or if in on at by for from to of with as when while after before since however mr mrs ms
    dr cnn said says
    """.split()
)

_DEFINE_FRONT = re.compile(r"^\s*(?:what|who)\s+(?:is|are|was|were)\s+(.+)$", re.IGNORECASE)
# "What is the name of the Pope?" asks for a name, not what "the Pope" is.
_NAME_OF = re.compile(r"^(?:(?:the|his|her|its|their)\s+)?names?\b", re.IGNORECASE)
_RELATION = re.compile(
    r"\b(?:of|in|on|at|for|from|with|by|between|about|to|after|before|during)\b", re.IGNORECASE
)
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
# The words a match of `_SPEECH_ANY` starts with: a sentence none of whose words is one has none.
_SPEECH_FIRST = frozenset(
    "said says added adds noted notes stated states told tells explained explains argued argues "
    "insisted insists warned warns wrote writes asked asks replied announced announces claimed "
    "claims stressed stresses emphasised emphasized urged urges believes acknowledged admitted "
    "confirmed described describes went according".split()
)
_SPEAKER_LABEL = re.compile(r"^(" + _NAME + r"):\s")  # clean_text turns "Quote from X:" into "X:"
_OPEN_QUOTES = '"“'
_CLOSE_QUOTES = '"”'


def answer_question(store: Store, question: str, *, max_sentences: int = 3) -> Answer:
    """Answer `question` with up to `max_sentences` cited sentences from `store`'s articles.

    Synchronous (SQLite and CPU only); async callers use ``asyncio.to_thread``. Never raises
    for any question text: empty, punctuation, search syntax or over-long input gives an
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
    except StoreError as exc:
        # The store renders the query itself, so this is not the user's syntax: a locked,
        # damaged or unreachable database.
        # A reply saying "no answer" is better than a crashed command; the log says why.
        log.warning("ask: query failed for %r: %s", asked, exc)
        return Answer(asked)
    return Answer(asked, citations)


# Question analysis ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Question:
    """What scoring needs to know about a question."""

    terms: tuple[str, ...]  # content words as typed (lower-cased), for the index to stem
    stems: tuple[str, ...]  # the same words' Snowball stems, for sentence matching
    synonyms: tuple[tuple[tuple[str, ...], ...], ...]  # per term: other phrases that say it
    searches: tuple[tuple[str, ...], ...]  # per term: it and its synonyms, any of them
    entities: tuple[tuple[int, ...], ...]  # runs of indices into `terms` of named entities
    speakers: frozenset[int]  # indices into `entities` of runs the question asks the words of
    category: int | None  # index of the term naming the answer's category ("which team")
    subject: frozenset[str]  # stems of what a definition question asks to define
    numbers: frozenset[str]  # numbers the question itself gives (an answer must add one)
    pairs: tuple[tuple[str, str], ...]  # stems of consecutive words: the question's phrases
    wants: _Wants | None
    wants_quote: bool  # "what does X say ..."


def _words(text: str) -> list[str]:
    """Words as written, dotted acronyms as one ("U.S." -> "US", so a question's "US" finds
    them) and a possessive's "s" left out."""
    return [w.replace(".", "") for w in _WORD.findall(text) if w != "s" and w != "S"]


# A dotted acronym needs two capitals with their dots: without them `_words` is the plain words.
_ACRONYM_HINT = re.compile(r"[A-Z]\.[A-Z]\.")


def _plain_words(text: str) -> list[str]:
    """`_words(text)` for a text without dotted acronyms (no match of `_ACRONYM_HINT`)."""
    words = _TOKEN.findall(text)
    if "s" in words or "S" in words:
        return [w for w in words if w != "s" and w != "S"]
    return words


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return stem(word.lower())


# `_stem` of words as written, for the sentences `_prepare` splits: a dict lookup costs half
# of `_stem`'s cache's, per word.
_STEMS = WordCache(_stem, size=50_000)


def _stems(words: list[str]) -> list[str]:
    """`_stem` of each of `words`, in order."""
    return list(map(_STEMS.__getitem__, words))


def _phrase(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.startswith("<"):
        return (text,)
    return tuple(_stem(w) for w in _TOKEN.findall(text))


def _synonym_tables() -> tuple[dict[str, tuple[tuple[str, ...], ...]], dict[str, tuple[str, ...]]]:
    """Stem -> the phrases that say it too, as stems for matching sentences and as words for
    the full-text index (measures have no words to search by); see `_SYNONYM_GROUPS`,
    `_MEASURE_WORDS`."""
    table: dict[str, list[tuple[str, ...]]] = {}
    spoken: dict[str, list[str]] = {}
    for line in _SYNONYM_GROUPS:
        phrases = [(_phrase(p), p.strip()) for p in line.split("|")]
        for phrase, _ in phrases:
            if len(phrase) != 1 or phrase[0].startswith("<"):
                continue  # a question term is one word; measures are never asked by name
            others = [(p, words) for p, words in phrases if p != phrase]
            table.setdefault(phrase[0], []).extend(p for p, _ in others)
            spoken.setdefault(phrase[0], []).extend(w for _, w in others if w[0] != "<")
    for tag, asked_by in _MEASURE_WORDS.items():
        for word in asked_by.split():
            table.setdefault(_stem(word), []).append((tag,))
    return (
        {key: tuple(dict.fromkeys(value)) for key, value in table.items()},
        {key: tuple(dict.fromkeys(value)) for key, value in spoken.items()},
    )


_SYNONYMS, _SPOKEN = _synonym_tables()


def _parse(question: str) -> _Question | None:
    """Content terms, entity runs and question type; None when there is nothing to look up."""
    text = strip_control(question, keep_newlines=False)
    lower = text.lower()
    terms: list[str] = []
    capital: list[bool] = []
    where: list[int] = []  # token index of each term
    speech: list[int] = []  # token indices of speech verbs ("say", "told")
    seen: set[str] = set()
    acronyms: list[bool] = []
    tokens = _words(text)
    for n, word in enumerate(tokens):
        low = word.lower()
        if low in _SPEECH_WORDS:
            speech.append(n)
        if low in _STOPWORDS or low in seen or (word.isdigit() and len(word) < 2):
            continue
        if len(terms) >= _MAX_TERMS:
            break
        seen.add(low)
        terms.append(low)
        acronyms.append(word.isupper() and 2 <= len(word) <= 3 and word.isalpha())
        where.append(n)
        # The first word is capitalised by grammar, not because it names something, unless
        # its shape says so (NATO, McDonald); titles (President) name no one by themselves.
        is_name = bool(_CAPITAL_TOKEN.match(word)) and low not in _TITLES
        shaped = (word.isupper() and len(word) > 1) or any(c.isupper() for c in word[1:])
        if n == 0 and not shaped:
            is_name = False
        capital.append(is_name)
    if not terms:
        return None
    entities: list[tuple[int, ...]] = []
    run: list[int] = []
    for i, is_name in enumerate(capital):
        # A run is consecutive words: "Americans think of the Tax Reform" names two things.
        if is_name and run and run[-1] == i - 1 and where[i] == where[i - 1] + 1:
            run.append(i)
        elif is_name:
            if run:
                entities.append(tuple(run))
            run = [i]
    if run:
        entities.append(tuple(run))
    stems = tuple(_stem(t) for t in terms)
    # "What does Zelenskyy say ...": a run just before a speech verb is whose words are asked.
    # "What did the Venezuelan president say": a role names the speaker, not the run before it.
    speakers = frozenset(
        k
        for k, r in enumerate(entities)
        if any(
            0 < m - where[r[-1]] <= 3
            and not any(w.lower() in _TITLES for w in tokens[where[r[-1]] + 1 : m])
            for m in speech
        )
    )
    wants = next((kind for kind, pattern in _WANTS_PATTERNS if pattern.search(lower)), None)
    if wants is _Wants.NUMBER and (
        _MONEY_QUESTION.search(lower)
        or ("much" in lower.split() and any(("<money>",) in _SYNONYMS.get(s, ()) for s in stems))
    ):
        wants = _Wants.MONEY
    # "Turkish President", "president of Toyota": words at most one word apart are a phrase
    pairs = tuple(
        (stems[i - 1], stems[i]) for i in range(1, len(terms)) if where[i] - where[i - 1] <= 2
    )
    return _Question(
        terms=tuple(terms),
        stems=stems,
        synonyms=tuple(_SYNONYMS.get(s, ()) for s in stems),
        searches=tuple(
            _any_of([t, *_SPOKEN.get(s, ())], acronym=a)
            for t, s, a in zip(terms, stems, acronyms, strict=True)
        ),
        entities=tuple(entities),
        speakers=speakers,
        category=_category(lower, terms, capital),
        subject=_subject(text, frozenset(stems[i] for r in entities for i in r)),
        numbers=frozenset(_number_key(m) for m in _NUMBER.findall(text)),
        pairs=pairs,
        wants=wants,
        wants_quote=bool(speech),
    )


def _category(lower: str, terms: Sequence[str], capital: Sequence[bool]) -> int | None:
    """The index of the term right after "what"/"which" when it names a category, not a verb."""
    match = _CATEGORY_NOUN.match(lower)
    word = match and (match.group(1) or match.group(2) or match.group(3))
    if not word or word in _AUXILIARIES:
        return None
    if word in terms:
        i = terms.index(word)
        # "What Ministry of Defense says ..." names something; "what team" asks for a name
        return None if capital[i] else i
    return None


def _subject(text: str, entity_stems: frozenset[str]) -> frozenset[str]:
    """Stems of the phrase a definition question asks about; empty when it asks no definition.

    ``What does Zelenskyy say security guarantees are?`` -> {secur, guarante};
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
    # "What is the score in the match ..." asks for a fact about a thing, not what it is.
    if match and not _NAME_OF.match(match.group(1)) and not _RELATION.search(match.group(1)):
        return _content_stems(match.group(1))
    return frozenset()


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _TOKEN.findall(text) if w.lower() not in _STOPWORDS)


def _number_key(token: str) -> str:
    return token.lower().replace(",", "").rstrip(".")


# Term statistics -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    """Per-store document frequencies with their age; bounded, oldest dropped first."""

    total: tuple[float, int] = (0.0, 0)  # (fetched at, article count)
    df: OrderedDict[tuple[str, ...], tuple[float, int]] = field(default_factory=OrderedDict)


# Keyed by the Store object itself, so two stores (or a test's many) never share numbers and a
# closed store's entry goes with it.
_STATS: weakref.WeakKeyDictionary[Store, _Stats] = weakref.WeakKeyDictionary()
# /ask runs in worker threads, several at once under load: the shared cache takes turns
_STATS_LOCK = threading.Lock()


def _any_of(phrases: Sequence[str], *, acronym: bool = False) -> tuple[str, ...]:
    """Any of `phrases` (a term and its synonyms): one group of a store `Match`.

    An acronym ("US") is also looked up letter by letter, as the index holds "U.S.".
    """
    return (*phrases, " ".join(phrases[0])) if acronym else tuple(phrases)


def _document_frequencies(store: Store, terms: Sequence[tuple[str, ...]]) -> tuple[int, list[int]]:
    """The article count and the document frequency of each term (any of it and its
    synonyms), from the store's index, so the index's stemming decides what matches."""
    with _STATS_LOCK:
        return _frequencies_locked(store, terms)


def _frequencies_locked(store: Store, terms: Sequence[tuple[str, ...]]) -> tuple[int, list[int]]:
    stats = _STATS.get(store)
    if stats is None:
        stats = _STATS[store] = _Stats()
    now = time.monotonic()
    if now - stats.total[0] > _STATS_TTL:
        stats.total = (now, store.count_articles())
    freqs: list[int] = []
    for term in terms:
        cached = stats.df.get(term)
        if cached is not None and now - cached[0] <= _STATS_TTL:
            stats.df.move_to_end(term)
            freqs.append(cached[1])
            continue
        df = store.count_matching((term,))
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
    stems: frozenset[str]  # its words' stems
    tokens: tuple[str, ...]  # every word's stem in order (a possessive's "s" left out)
    speaker: frozenset[str]  # stems of who says it: a quote's speaker, "X said" in it
    quoted: bool
    words: int
    is_question: bool


@dataclass(frozen=True, slots=True)
class _Document:
    """An article's citable sentences and every stem it uses."""

    sentences: tuple[_Sentence, ...]
    vocabulary: frozenset[str]


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


@lru_cache(maxsize=4096)
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


@lru_cache(maxsize=8192)
def _measures(sentence: str) -> frozenset[str]:
    """The measure tags a sentence gives ("<money>" for "$9.8 million"), for synonym matching.

    Only asked for when a question's word is a measure ("cost"): the pattern is slow to run
    on every sentence of every candidate article.
    """
    if sentence.isascii() and not _MEASURE_SIGN.search(sentence):
        lower = sentence.lower()
        if not any(word in lower for word in _MEASURE_KEYS):
            return frozenset()
    return frozenset(f"<{m.lastgroup}>" for m in _MEASURES.finditer(sentence) if m.lastgroup)


@lru_cache(maxsize=_PREPARED_SIZE)
def _prepare(text: str) -> _Document:
    """Clean and split an article, tracking quotations and who speaks them.

    Cached on the text itself: the same article asked about again costs a dictionary lookup,
    and an article whose text changed is simply a new key.
    """
    flat = " ".join(text.split())
    sentences: list[_Sentence] = []
    vocabulary: set[str] = set()
    speaker: frozenset[str] = frozenset()
    position = 0
    at = 0  # where the last sentence was found in `flat`: the next one is usually after it
    for paragraph in split_paragraphs(clean_text(text)):
        inside = False
        label = _SPEAKER_LABEL.match(paragraph)
        # nearly every paragraph has no dotted acronym, and then neither has any of its sentences
        split_words = _words if _ACRONYM_HINT.search(paragraph) else _plain_words
        for raw in split_block(paragraph):
            marked = '"' in raw or "“" in raw or "”" in raw
            if marked:
                outside, after = _unquoted(raw, inside)
            else:
                outside, after = ("" if inside else raw), inside
            quoted = inside or raw[:1] in _OPEN_QUOTES
            words = split_words(raw)
            found = None
            # Both speaker patterns need a speech verb, a word of the sentence (of its unquoted
            # part: with quotation marks, the verb pattern tells): most sentences have none,
            # and the set test is far cheaper than the patterns.
            if (
                outside
                and not _SPEECH_FIRST.isdisjoint(words)
                and (not marked or _SPEECH_ANY.search(outside))
            ):
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
            if marked:
                display = _strip_unbalanced_quotes(display)
            position += 1
            if len(display) < 2:
                continue
            where = flat.find(display, at)
            if where < 0 and display not in flat:
                continue  # cleaning rewrote it inside: not verbatim, never cited
            if where >= 0:
                at = where + len(display)
            if display is not raw:
                words = split_words(display)
            tokens = _stems(words)
            stems = frozenset(tokens)
            vocabulary |= stems
            sentences.append(
                _Sentence(  # by position: keywords cost a third more, per sentence
                    display,  # text
                    position - 1,  # position
                    stems,  # stems
                    tuple(tokens),  # tokens
                    speaker if named or quoted or '"' in raw or "“" in raw else named,  # speaker
                    quoted,  # quoted
                    len(tokens),  # words
                    display.rstrip("\"'”’)").endswith("?"),  # is_question
                )
            )
    return _Document(tuple(sentences), frozenset(vocabulary))


# What a sentence offers as an answer ------------------------------------------------------------


# Each kind is looked for only when a question asks for it (and only in finalists), and cached.


@lru_cache(maxsize=8192)
def _offered_names(text: str) -> frozenset[str]:
    """Stems of the proper names in a sentence (its first word only when the next is one too)."""
    names: set[str] = set()
    tokens = list(_TOKEN.finditer(text))
    starts = {m.start(): i for i, m in enumerate(tokens)}
    for match in _PROPER.finditer(text):
        word = match.group().rstrip(".'’-")
        low = word.lower()
        i = starts.get(match.start())
        if i is None or low in _NOT_NAMES or low in _STOPWORDS:
            continue
        if i == 0 and not (len(tokens) > 1 and tokens[1].group()[:1].isupper()):
            continue
        key = _stem(_TOKEN.findall(low)[0]) if _TOKEN.search(low) else low
        names.add(key)
    return frozenset(names)


@lru_cache(maxsize=8192)
def _offered_numbers(text: str) -> frozenset[str]:
    return frozenset(_number_key(m) for m in _NUMBER.findall(text))


@lru_cache(maxsize=8192)
def _offers_time(text: str) -> bool:
    return bool(_DATE.search(text))


def _type_match(q: _Question, s: _Sentence) -> bool | None:
    """Whether `s` holds what `q` asks for and does not say itself; None when it asks nothing
    a sentence's surface can show."""
    if q.wants is None:
        return None
    if q.wants is _Wants.MONEY:
        return "<money>" in _measures(s.text)
    if q.wants is _Wants.NUMBER:
        return bool(_offered_numbers(s.text) - q.numbers)
    if q.wants is _Wants.TIME:
        return _offers_time(s.text)
    names = _offered_names(s.text) - set(q.stems)
    if q.wants is _Wants.PLACE:
        # News names a place by its name, after "in" or "at" or not ("Chile's Gonzalez"); a
        # name that is only who speaks is not where.
        return bool(names - s.speaker)
    return bool(names)


# Retrieval and scoring -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    sentence: _Sentence
    article: Article
    rank: int
    sure: bool  # may answer by itself; otherwise it may only follow one that does


@dataclass(frozen=True, slots=True)
class _Scoring:
    """A question with its term weights for one store, shared by every article scored."""

    q: _Question
    idf: tuple[float, ...]
    mass: float  # the question's IDF mass
    chance: float  # log(1 + N): the IDF mass a match needs before it is more than chance
    keys: tuple[int, ...]  # each entity run's rarest word
    unknown: frozenset[int]  # words no article uses that may be misspelt


def _answer(store: Store, q: _Question, max_sentences: int) -> tuple[Citation, ...]:
    total, dfs = _document_frequencies(store, q.searches)
    # A word no stored article uses gets the highest IDF: the surest sign the question is
    # about something not stored (or misspelt).
    idf = [_idf(total, df) for df in dfs]
    if q.category is not None:
        idf[q.category] *= _CATEGORY
    present = [df > 0 for df in dfs]
    # A long word no article uses may be misspelt ("Robaldinho"): candidate articles are
    # searched for it one typing slip away. Shorter ones are taken as written.
    unknown = frozenset(
        i for i, t in enumerate(q.terms) if not present[i] and len(t) >= _MIN_TYPO and t.isalpha()
    )
    found = [tuple(i for i in run if present[i]) for run in q.entities]
    # An entity run none of whose words any article contains cannot be answered about, unless
    # it is a misspelling; then it cannot help find articles either.
    if any(
        not run and not set(whole) <= unknown for run, whole in zip(found, q.entities, strict=True)
    ):
        return ()
    # A measure ("cost", "hot") may be said only by a figure ("$9.8 million", "38.9C"), which
    # the index cannot count: it may still be there.
    measurable = [any(way[0].startswith("<") for way in ways) for ways in q.synonyms]
    if sum(map(operator.or_, present, measurable)) < min(2, len(q.terms)):
        return ()
    articles = _retrieve(store, q, [run for run in found if run], dfs, total)
    scoring = _Scoring(
        q=q,
        idf=tuple(idf),
        mass=sum(idf),
        chance=math.log(1.0 + total),
        # The key of each entity run: its rarest word (a surname, rarer than the first name).
        keys=tuple(
            _rarest(run, dfs) if run else max(whole, key=lambda i: len(q.terms[i]))
            for run, whole in zip(found, q.entities, strict=True)
        ),
        unknown=unknown,
    )
    candidates: list[_Candidate] = []
    for rank, article in enumerate(articles):
        candidates.extend(_score_article(scoring, article, rank, len(articles)))
    picked = _select(candidates, max_sentences)
    return tuple(_citation(c) for c in picked)


def _rarest(run: Sequence[int], dfs: Sequence[int]) -> int:
    """A name's rarest word; the last of equally rare ones, since names end in the surname."""
    return min(reversed(run), key=lambda i: dfs[i])


def _misspellings(word: str, words: Iterable[str]) -> list[str]:
    """The words of `words` one typing slip from `word`: a letter wrong, missing, added, or
    two letters swapped ("Robaldinho" / "Ronaldinho", "headquaters", "theif")."""
    found = []
    for other in words:
        if abs(len(other) - len(word)) <= 1 and other != word and _one_slip(word, other):
            found.append(other)
    return found


def _one_slip(a: str, b: str) -> bool:
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:
            return True  # one letter wrong
        swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
        return swapped and a[i + 2 :] == b[i + 2 :]
    return a[i:] == b[i + 1 :]  # one letter added


def _related(stem_: str, vocabulary: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    """Words of the article that are a name's other form: "Venezuelan" for "Venezuela",
    "Israel" for "Israeli" (stems: "isra"), "European" for "Europe"."""
    if len(stem_) < 4 or not stem_.isalpha():
        return ()
    forms = {stem_ + ending for ending in _NAME_ENDINGS}
    forms.update(stem_[:-k] for k in (1, 2, 3) if len(stem_) - k >= 4)
    return tuple((form,) for form in sorted(forms & vocabulary))


def _score_article(scoring: _Scoring, article: Article, rank: int, ranked: int) -> list[_Candidate]:
    """The sentences of one article that may answer the question, scored (see 4 and 5 above)."""
    q, idf, keys, mass = scoring.q, scoring.idf, scoring.keys, scoring.mass
    doc = _prepare(article.text)
    if not doc.sentences or mass <= 0:
        return []
    title = frozenset(_stem(w) for w in _TOKEN.findall(article.title.lower()))
    vocabulary = doc.vocabulary | title
    in_runs = {i for run in q.entities for i in run}
    # Each term's ways of being said here: itself, its synonyms, and for names the forms this
    # article uses ("Venezuelan"); computed once per article, not per sentence.
    ways = [
        ((q.stems[i],), *q.synonyms[i], *(_related(q.stems[i], vocabulary) if i in in_runs else ()))
        for i in range(len(q.stems))
    ]
    if scoring.unknown:
        spelt = frozenset(_TOKEN.findall(article.text.lower()))
        for i in scoring.unknown:
            ways[i] = (*ways[i], *((_stem(w),) for w in _misspellings(q.terms[i], spelt)))
    # An entity the article never names: no sentence of it is about that entity.
    for key in keys:
        if not any(all(w in vocabulary for w in way) for way in ways[key]):
            return []
    sentences = doc.sentences
    # Most sentences say none of the question's words: one set test skips them.
    wanted = {w for term in ways for way in term for w in way}
    measured = any(w.startswith("<") for w in wanted)
    nothing = [0.0] * len(ways)
    # A sentence that says none of the words says a term only by a measure ("$9.8 million"),
    # and only when it gives one.
    # A term said in its own word is said in full (`_says`'s first test, done here without
    # the call); only a term with other ways of saying it needs `_says` otherwise.
    terms = [(term[0][0], len(term) > 1, term) for term in ways]
    said = [
        [
            1.0 if first in s.stems else _says(s, term) if others else 0.0
            for first, others, term in terms
        ]
        if not s.stems.isdisjoint(wanted) or (measured and _measures(s.text))
        else nothing
        for s in sentences
    ]
    lead = sentences[0].stems | title
    in_lead = [any(all(w in lead for w in way) for way in term) for term in ways]
    # How many sentences say each term: within the article, a word every sentence says (the
    # story's subject) tells less about which sentence answers than one only a few say, the
    # way BM25 over sentences weighs it. Ranking uses it; abstention does not.
    saying = [row for row in said if row is not nothing]
    spread = [sum(1 for row in saying if row[i]) for i in range(len(ways))]
    anywhere = [spread[i] > 0 or q.stems[i] in title for i in range(len(ways))]
    scale = math.log(1.0 + len(sentences))
    sharp = [
        idf[i] * ((1.0 - _SHARP) + _SHARP * math.log(1.0 + len(sentences) / spread[i]) / scale)
        if spread[i]
        else idf[i]
        for i in range(len(ways))
    ]
    sharp_mass = sum(sharp)
    plain = [i for i in range(len(ways)) if i not in in_runs]  # what is asked about the names
    out: list[_Candidate] = []
    for j, s in enumerate(sentences):
        row = said[j]
        if not any(row):
            continue
        own = near = far = 0.0  # IDF mass said by the sentence, its context, the article
        ranked_mass = 0.0
        if s.speaker:
            # a word only the speaker's name says: "he said" after "Whitfield said"
            row = [
                w or (_ATTRIBUTED if q.stems[i] in s.speaker else 0.0) for i, w in enumerate(row)
            ]
        for i, weight in enumerate(row):
            value = idf[i]
            if weight:
                if i == q.category:
                    near += weight * value
                else:
                    own += weight * value
                ranked_mass += weight * sharp[i]
                continue
            if i == q.category:
                continue  # "which team": the team is named where the answer is, or nowhere
            close = (j > 0 and said[j - 1][i]) or (j + 1 < len(said) and said[j + 1][i])
            if close or in_lead[i]:
                near += value
                ranked_mass += _NEAR * sharp[i]
            elif anywhere[i]:
                far += value
                ranked_mass += _ARTICLE * sharp[i]
        match = _Match(
            own=own / mass,
            near=near / mass,
            far=far / mass,
            ranked=ranked_mass / sharp_mass,
            focus=any(row[i] for i in plain),
        )
        judged = _judge(scoring, s, match)
        if judged is None:
            continue
        score, sure = judged
        score += _RANK_PRIOR * (1.0 - rank / max(ranked, 1))
        if s.position < 3:
            score += _LEAD_PRIOR
        out.append(_Candidate(score, s, article, rank, sure))
    return out


def _says(s: _Sentence, ways: Sequence[tuple[str, ...]]) -> float:
    """How fully `s` says a term: 1 in its own words, `_SYNONYM` in others, 0 not at all."""
    if ways[0][0] in s.stems:
        return 1.0
    for way in ways[1:]:
        if way[0][0] == "<":
            if way[0] in _measures(s.text):
                return _SYNONYM
        elif all(w in s.stems for w in way):
            return _SYNONYM
    return 0.0


@dataclass(frozen=True, slots=True)
class _Match:
    """How much of the question one sentence says: shares of the question's IDF mass."""

    own: float  # said by the sentence itself (or by who speaks it)
    near: float  # said only by its neighbours or the article's lead
    far: float  # said only elsewhere in the article
    ranked: float  # coverage with each word weighed by how few of the article's sentences say it
    focus: bool  # says one of the question's words that are not part of a name


def _judge(scoring: _Scoring, s: _Sentence, m: _Match) -> tuple[float, bool] | None:
    """A sentence's score and whether it may answer by itself; None when it cannot even
    follow an answer (see 5 above)."""
    q, keys = scoring.q, scoring.keys
    own, near, far, ranked = m.own, m.near, m.far, m.ranked
    if own < _MIN_OWN_SUPPORT:
        return None
    for k, key in enumerate(keys):
        stem_ = q.stems[key]
        if k in q.speakers and stem_ not in s.speaker and (s.speaker or stem_ not in s.tokens[:5]):
            # Asked what X says: a sentence someone else says, or one that only mentions X
            # ("... after Trump met Putin"), is not X's word. The outlet's own sentence with X
            # as its subject ("Corvid raised its forecast") is.
            return None
    definition = _definition_shape(q.subject, s.tokens[:14]) if q.subject else 0.0
    if len(q.terms) == 1 and q.subject and definition == 0.0:
        return None  # "What is NATO?" is not answered by any sentence that says "NATO"
    match = _type_match(q, s)
    phrases = _phrases(q.pairs, s.tokens, s.stems) if q.pairs else 0
    cover = own + _NEAR_COVER * near + _FAR_COVER * far
    # The IDF the match rests on is about -log P(a random article says all of it): below
    # log N, some article of a store this size would say as much by chance. Holding what is
    # asked for (a number, a name, a definition) and saying the question's phrases as phrases
    # are evidence too, and chance gives them far more rarely than the words alone.
    evidence = (
        cover * scoring.mass
        - scoring.chance
        + (_TYPE_EVIDENCE if match or definition >= 0.5 else 0.0)
        + _PHRASE_EVIDENCE * phrases
    )
    # Coverage and evidence make up for each other a little: a long, specific question
    # answered by a sentence that leaves out one of its words is still answered.
    sure = (
        own >= _MIN_OWN
        and evidence >= _MIN_EVIDENCE
        and cover + _EVIDENCE_WEIGHT * evidence >= _MIN_CONFIDENCE
        # "What ethnicity is Ed Royce?": no surface test tells an ethnicity (a number, a name,
        # a place can be seen), so a sentence that only names Ed Royce does not answer; one
        # that also says the category, or another of the question's words, may.
        and (q.category is None or q.wants is not None or m.focus)
    )
    score = ranked + _DEFINITION_BONUS * definition
    if q.pairs:
        score += _PHRASE_BONUS * phrases / len(q.pairs)
    if q.wants_quote and s.speaker and any(q.stems[k] in s.speaker for k in keys):
        score += _QUOTE_BONUS
    if match:
        score += _TYPE_BONUS
    elif match is False and q.wants in (_Wants.NUMBER, _Wants.MONEY, _Wants.TIME):
        score *= _TYPE_MISS
    if s.is_question:
        score *= _QUESTION_PENALTY
    if s.words < _MIN_WORDS:
        score *= _FRAGMENT_PENALTY
    elif s.words > _MAX_WORDS:
        score *= _LONG_PENALTY
    return score, sure


def _phrases(pairs: Sequence[tuple[str, str]], tokens: Sequence[str], stems: frozenset[str]) -> int:
    """How many of the question's phrases the sentence says: the two words in order, at most
    two words apart ("Turkish President", "president of Toyota"). `stems` are the tokens'."""
    found = 0
    for first, second in pairs:
        if first not in stems or second not in stems:
            continue  # a phrase needs both of its words
        for i, token in enumerate(tokens):
            if token == first and second in tokens[i + 1 : i + 4]:
                found += 1
                break
    return found


def _definition_shape(subject: frozenset[str], head: Sequence[str]) -> float:
    """How much `head` reads as a definition of `subject`: "<subject> are/means ...".

    The share of the subject's words before an early copula; a reversed definition ("That is
    a security guarantee") counts at 60%, the subject's words just after the copula.
    """
    for i, stem_ in enumerate(head[:9]):
        if stem_ in _COPULAS:
            before = len(subject.intersection(head[:i])) / len(subject)
            after = len(subject.intersection(head[i + 1 : i + 5])) / len(subject)
            return max(before, 0.6 * after)
    return 0.0


def _retrieve(
    store: Store, q: _Question, runs: Sequence[tuple[int, ...]], dfs: Sequence[int], total: int
) -> list[Article]:
    """Candidate articles: those with every question word first, then the relaxed query's.

    The strict AND is cheap (the index intersects by skipping through the rarest word's list) and
    its hits are the best candidates anyway; the relaxed query ranks a far larger union and
    runs only when the strict one finds fewer than `_ENOUGH_STRICT` articles.
    """
    found = [i for i, df in enumerate(dfs) if df > 0]
    strict: Match = tuple(q.searches[i] for i in found)
    rows = store.match_articles(strict, _TOP_ARTICLES) if strict else []
    if len(rows) >= _ENOUGH_STRICT:
        return rows
    relaxed = _match_expression(q, runs, dfs, total)
    if not relaxed or relaxed == strict:
        return rows
    have = {a.id for a in rows}
    more = (a for a in store.match_articles(relaxed, _TOP_ARTICLES) if a.id not in have)
    return (rows + list(more))[:_TOP_ARTICLES]


def _match_expression(
    q: _Question, runs: Sequence[tuple[int, ...]], dfs: Sequence[int], total: int
) -> Match:
    """The relaxed query: entity runs AND-ed (a run's words too), other words OR-ed after
    them.

    A run's words are AND-ed because articles name a person in full at least once ("Ines
    Weber"), while either name alone matches every other Ines and Weber in the store.
    """
    in_runs = {i for run in runs for i in run}
    others = [i for i, term in enumerate(q.terms) if dfs[i] > 0 and i not in in_runs]
    rare = [i for i in others if dfs[i] <= _COMMON_DF * total]
    # Without an entity to AND on, common words would make the index rank most of the store; they
    # are dropped when something rarer is left to find articles by. With one, the AND already
    # bounds the work and the common words still help BM25 order the candidates.
    if rare and not runs:
        others = rare
    parts = [q.searches[_rarest(run, dfs)] for run in runs]
    others += [i for run in runs for i in run if i != _rarest(run, dfs)]
    if others and runs:
        # The other words only rank: an article may name the entity and say "defeat" where
        # the question says "beat". The entity's own term inside the OR keeps every article
        # that names it in the match set.
        anchor = _rarest(runs[0], dfs)
        words = [anchor, *others]
        parts.append(tuple(p for i in words for p in q.searches[i]))
    elif others:
        parts.append(tuple(p for i in others for p in q.searches[i]))
    return tuple(parts)


def _select(candidates: list[_Candidate], limit: int) -> list[_Candidate]:
    """Greedy pick: best first, other articles preferred, near-copies skipped."""
    if not candidates:
        return []
    top = max(c.score for c in candidates)
    # The answer must be among the best matches: a sure sentence far below a better one that
    # is not sure answers some other question the store happens to hold.
    sure = [c for c in candidates if c.sure and c.score >= _SURE_CUTOFF * top]
    if not sure:
        return []
    first = max(sure, key=lambda c: (c.score, -c.rank, -c.sentence.position))
    candidates.sort(key=lambda c: (-c.score, c.rank, c.sentence.position))
    floor = _RELATIVE_CUTOFF * first.score
    # A sentence that could not answer by itself may follow from the answer's own article
    # (the next sentence of the account), never from another.
    pool = [
        c
        for c in candidates
        if c.score >= floor and c is not first and (c.sure or c.article.id == first.article.id)
    ]
    picked: list[_Candidate] = [first]
    while pool and len(picked) < limit:
        cited = {c.article.id for c in picked}

        def effective(c: _Candidate, cited: set[int | None] = cited) -> float:
            return c.score * (_SAME_ARTICLE if c.article.id in cited else 1.0)

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


def _citation(c: _Candidate) -> Citation:
    article = c.article
    title = article.title.strip() or _excerpt(article.text)
    return Citation(
        sentence=c.sentence.text,
        article_id=article.id or 0,
        title=title,
        source=article.label,
        url=article.url,
        published=article.published,
    )


def _excerpt(text: str) -> str:
    """The article's first sentence, cut at a word boundary to `_EXCERPT_CHARS`."""
    sentences = _prepare(text).sentences
    first = sentences[0].text if sentences else " ".join(text.split())
    if len(first) <= _EXCERPT_CHARS:
        return first
    cut = first[:_EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
