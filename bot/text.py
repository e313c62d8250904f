"""Text helpers shared by the core and the adapters: control characters, words and stems.

One tokeniser (`WORD`, and `words` on it), one stemmer (`stem`, Snowball for 25 languages) and
one stop-word list (`STOP_WORDS`) that story grouping counts with. Stages tuned on their own
dev sets keep a variant, named as such and kept here beside the shared piece, each for a
reason measured by its quality gate:

- `light_stem` and `SUMMARY_STOP_WORDS`, `SUMMARY_WORD`: English summaries (ROUGE on the
  summary dev files);
- `QUESTION_STOP_WORDS` and `TOKEN`: ``/ask`` (its questions' function and speech words; the
  tokens FTS5's ``unicode61`` splits text into, so a question's words and the index agree);
- `LETTERS`: language detection (letters only, any alphabet).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache, partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import Stemmer

V = TypeVar("V")

# Whole escape sequences first (CSI "ESC [ ... letter", OSC "ESC ] ... BEL|ST"), then any other
# C0/C1 control character: text from articles or users must not drive a terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# Bidirectional embeddings, overrides and isolates go too: U+202E can make "exe.txt" read "txt.exe"
# and turn a headline around.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# Lone surrogates (a JSON "\ud800", a terminal's undecodable bytes) and noncharacters cannot be
# stored or sent as UTF-8.
_UNENCODABLE = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """Remove terminal escape sequences, control characters and bidirectional overrides (tabs
    become spaces)."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\t", " ")))
    return text if keep_newlines else text.replace("\n", " ")


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """`text` safe to store and to send as UTF-8: what `strip_control` removes (NUL among it,
    which PostgreSQL refuses), and lone surrogates and noncharacters, are gone."""
    return strip_control(_UNENCODABLE.sub("", text), keep_newlines=keep_newlines)


_DOMAIN = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})\b", re.IGNORECASE
)


def link_label(label: str, url: str) -> str:
    """`label` for a link to `url`, unless it names another host ("evil.example", an address):
    then the link's own host, so a feed cannot label its link as someone else's."""
    try:
        host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        host = ""
    for match in _DOMAIN.finditer(label):
        named = match.group(1).lower().removeprefix("www.")
        if not host or not (host == named or host.endswith("." + named)):
            return host or "link"
    return label


# English function words (scikit-learn's list, which the TF-IDF baselines in benches/ use too)
# plus words every news report uses whatever the event: they say nothing about which event it is.
STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
    either eleven else elsewhere empty enough etc even ever every everyone everything everywhere
    except few fifteen fifty fill find fire first five for former formerly forty found four from
    front full further get give go had has hasnt have he hence her here hereafter hereby herein
    hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into
    is it its itself keep last latter latterly least less ltd made many may me meanwhile might
    mill mine more moreover most mostly move much must my myself name namely neither never
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once
    one only onto or other others otherwise our ours ourselves out over own part per perhaps
    please put rather re same see seem seemed seeming seems serious several she should show side
    since sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter
    thereby therefore therein thereupon these they thick thin third this those though three
    through throughout thru thus to together too top toward towards twelve twenty two un under
    until up upon us very via was we well were what whatever when whence whenever where
    whereafter whereby wherein whereupon wherever whether which while whither who whoever whole
    whom whose why will with within without would yet you your yours yourself yourselves
    said says say saying told according mr mrs ms new year years week
    monday tuesday wednesday thursday friday saturday sunday""".split()
)

# A word (letters, with inner apostrophes: "don't", "O'Neill") or a number with its separators.
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_WORD = WORD
# Variants. /ask and the full-text search: runs of letters and digits, as FTS5's unicode61
# tokeniser splits text. The summariser: a word of any alphabet with its inner apostrophes and
# hyphens ("well-known" is one word for it). Language detection: letters only.
TOKEN = re.compile(r"\w+")
SUMMARY_WORD = re.compile(r"[^\W_][\w'’-]*")
LETTERS = re.compile(r"[^\W\d_]+")

# The summariser's stop words: English function words, plus the verbs and fillers news
# sentences share whatever they report ("said", "according", "really"), which would otherwise
# make two unrelated sentences look alike.
SUMMARY_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours said says say told one two new
    mr mrs ms would could year years last first time people like get got
    us also really know knows knew known think thinks thought want wants wanted going go goes
    went gone make makes made take takes took taken come comes came even well still much many
    may might must shall way thing things lot just back see sees saw seen need needs use used
    whether yet ever never though although however since every another around among across
    within without via per including according adding asked ask asks tell tells let put puts
    set quite rather almost already always often perhaps maybe upon onto can't don't didn't
    won't isn't wasn't doesn't
    """.split()
)

# /ask's stop words: function words, plus what questions wrap around the thing they ask about
# ("what does X say", "tell me the latest news about"): none of it is looked for in the
# articles.
QUESTION_STOP_WORDS = frozenset(
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
    name names named called kind type sort get gets got
    """.split()
)


def light_stem(word: str) -> str:
    """A tiny suffix stripper for English summaries: "talks" -> "talk", "cities" -> "city".

    The summariser's tuned variant of `stem`: on the summary dev files Snowball's stems merge
    words the reference summaries keep apart ("guarantee" and "guaranteeing" both become
    "guarante", "news" and "new" meet) and cost ROUGE; this one only takes off plural and tense
    endings. Lower-case `word` expected.
    """
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# Snowball's algorithms (PyStemmer: the Snowball project's own C code) by the ISO 639-1 codes
# articles carry; anything else is stemmed as English, which leaves most foreign words as they are.
_LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "fa": "persian",
    "fi": "finnish", "fr": "french", "hu": "hungarian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "tr": "turkish",
}  # fmt: skip


@lru_cache(maxsize=32)
def _stemmer(language: str) -> Any:
    return Stemmer.Stemmer(_LANGUAGES.get(language[:2].lower(), "english"))


@lru_cache(maxsize=200_000)
def stem(word: str, language: str = "en") -> str:
    """The Snowball stem of a lower-case `word`: "guarantees" and "guaranteed" -> "guarante"."""
    return str(_stemmer(language).stemWord(word))


class WordCache(dict[str, V]):
    """Word (as written) -> ``compute(word)``, kept for the words seen. Words repeat a lot
    across articles, so this saves most of the time per word, and ``map(cache.__getitem__,
    words)`` keeps the per-word work in C. Bounded: past `size` words it computes without
    keeping, so hostile input cannot grow it forever.

    Example:
        stems = list(map(WordCache(stem).__getitem__, ["guarantees", "said"]))
    """

    def __init__(self, compute: Callable[[str], V], size: int = 200_000) -> None:
        super().__init__()
        self._compute = compute
        self._size = size

    def __missing__(self, word: str) -> V:
        value = self._compute(word)
        if len(self) < self._size:
            self[word] = value
        return value


def words(text: str, language: str | None = None) -> list[str]:
    """Content words of `text` in order: lower-cased, stemmed, stop words and one-letter words
    dropped, possessive "'s" removed; numbers kept without thousands separators ("1,200" and
    "1200" agree)."""
    found = _content_words(language or "en")
    return [word for word in map(found.__getitem__, _WORD.findall(text)) if word is not None]


@cache
def _content_words(language: str) -> WordCache[str | None]:
    return WordCache(partial(_content_word, language=language))


def _content_word(token: str, language: str) -> str | None:
    """A token's content word in `language`, None for a stop word (see `words`)."""
    if token[0].isdigit():
        return token.replace(",", "") if "," in token else token
    lower = token.lower()
    if lower.endswith(("'s", "’s")):
        lower = lower[:-2]
    return stem(lower, language) if len(lower) > 1 and lower not in STOP_WORDS else None
