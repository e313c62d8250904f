"""The grounding check: is every sentence a language model wrote supported by its source?

A model's bullet is kept only when what it asserts can be found in the text it was given:

1. **Numbers** (with amounts and units normalised: "1.2 billion" = "1,200 million" =
   "£1.2bn", "12 per cent" = "12%", "twelve-year-old" = 12), **dates** (weekdays, months,
   years) and **quoted phrases** (word for word) must be in the source.
2. **Names** must be in the source, case-insensitively, as the article writes them or as one
   of its own aliases ("Mr Steele" for "Michael Steele", "TSA" for "Transportation Security
   Administration"). Model output is often lower-case, so a name is recognised by how the
   *source* writes the word (capitalised inside a sentence), not by the bullet's case alone.
3. **Content words** the source lacks (after stemming, irregular forms and derivations:
   "slept" = "sleep", "injury" = "injured") are new content: a bullet with more than one is
   dropped; so is one whose new word is part of a phrase of new words or of a name.
4. **Who did what**: a name or number must be stated in the source together with what the
   bullet says about it. For each one, the bullet's nearby content words must be found in a
   source sentence (or the sentence after it) that holds that name or number. "Nigel Farage
   said the idea was ..." is dropped when the source has "Joe Twyman said the idea was ...",
   and "Nigel Farage" only elsewhere.

Each kept bullet records the source sentences that support it (`Verdict.support`); each
dropped one says why (`Verdict.reason`).

Example:
    source = Source.of([("", article_text)])
    verdict = check_sentence("Mr Steele said turnout rose 12%.", source)
    verdict.ok, verdict.reason, verdict.support
"""

from __future__ import annotations

import contextlib
import itertools
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.summarize.language import STOP_WORDS as LANGUAGE_STOP_WORDS
from bot.summarize.sentences import split_sentences
from bot.text import STOP_WORDS, stem

__all__ = ["CHECK_VERSION", "Source", "Verdict", "check_sentence"]

CHECK_VERSION = 1
"""Bumped whenever the check changes what it keeps: cached model results checked by an older
version are not reused."""

# Tuned on benches/data/factuality_dev.jsonl as a whole (benches/grounding_quality.py prints
# the figures); each is a rule a reader could apply by hand.
#
# A bullet may carry one content word its source lacks (a paraphrase: "tumbled" for "fell"),
# if the rest of it is a close rewording of one source sentence (at least `TIGHT` of its
# other content words in that sentence); a second new word is new content.
MAX_NEW_WORDS = 1
TIGHT = 0.9
# Who did what: the content words next to a name or number (this many on each side) must be
# found with it, at least `MIN_CONTEXT_SHARE` of those of one side, in a source sentence; for
# a number also in the sentence after it (a figure is often explained in the next one).
CONTEXT_WORDS = 2
MIN_CONTEXT_SHARE = 0.5
NAME_REACH = (0, 0)
NUMBER_REACH = (0, 1)
# Joins: neighbouring content words of the bullet that no source sentence holds together.
# Two joins around one word are one word out of place (a paraphrase the source has
# elsewhere); this many separate joins mean the bullet splices apart what the source says.
MAX_JOINS = 2
# A stem matches a longer one that starts with it ("quick" ~ "quicker", "injur" ~ "injuri")
# when it has at least this many letters and the longer one at most this many more.
_PREFIX_MIN, _PREFIX_EXTRA = 4, 3

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TOKEN = re.compile(
    r"(?P<num>\d+(?:[.,:]\d+)*(?:st|nd|rd|th)?)|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
)
_SCALES = {
    "hundred": 1e2, "thousand": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "m": 1e6,
    "mn": 1e6, "mln": 1e6, "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12,
    "tn": 1e12, "millionen": 1e6, "milliarde": 1e9, "milliarden": 1e9, "mio": 1e6, "mrd": 1e9,
    "millones": 1e6, "millón": 1e6, "milliards": 1e9, "milliard": 1e9, "mld": 1e9, "tys": 1e3,
    "млн": 1e6, "млрд": 1e9, "тыс": 1e3, "тис": 1e3,
}  # fmt: skip
_NUMBER_WORDS: dict[str, float] = {
    w: i
    for i, w in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
    if w != "_"
}
_NUMBER_WORDS.update(
    {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
)
_NUMBER_WORDS.update({"ninety": 90, "dozen": 12, "dozens": 12, "twice": 2, "double": 2})
_NUMBER_WORDS.update({"half": 0.5, "third": 3, "fourth": 4, "fifth": 5, "tenth": 10})
_MONTHS = frozenset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_DATES = (_MONTHS | _WEEKDAYS) - {"may", "march"}  # "may" and "march" are mostly not months
# Words a model adds that carry no claim of their own; units are part of their number.
_NEUTRAL = frozenset(
    """also just even still already really very well quite more most less least much many
    per cent percent pct km kg lb lbs mph ft cm mm pm am st nd rd th yr yrs mr mrs ms dr
    said says say told tell tells claims claimed added adds reported reportedly according
    including include includes new old year years day days time times week weeks month
    months people man woman men women one two other others last first second next""".split()
)
# Forms whose stem differs from their lemma's ("slept" ~ "sleep", "died" ~ "dead" ~ "death").
_IRREGULAR = {
    form: lemma
    for lemma, forms in {
        "be": "is are was were been being am",
        "have": "has had having",
        "do": "does did done doing",
        "go": "goes went gone going",
        "die": "dead death deaths died dying",
        "kill": "killed killing killer killers",
        "say": "said says",
        "sleep": "slept",
        "choose": "chose chosen",
        "beat": "beaten",
        "begin": "began begun",
        "bring": "brought",
        "build": "built",
        "buy": "bought",
        "catch": "caught",
        "come": "came",
        "drive": "drove driven",
        "eat": "ate eaten",
        "fall": "fell fallen",
        "feel": "felt",
        "fight": "fought",
        "find": "found",
        "fly": "flew flown flight",
        "forget": "forgot forgotten",
        "get": "got gotten",
        "give": "gave given",
        "grow": "grew grown",
        "hang": "hung",
        "hear": "heard",
        "hide": "hid hidden",
        "hold": "held",
        "keep": "kept",
        "know": "knew known",
        "lead": "led",
        "leave": "left",
        "lend": "lent",
        "lose": "lost loss losses",
        "make": "made",
        "mean": "meant",
        "meet": "met",
        "pay": "paid",
        "ride": "rode ridden",
        "rise": "rose risen",
        "run": "ran",
        "see": "saw seen",
        "seek": "sought",
        "sell": "sold",
        "send": "sent",
        "shoot": "shot",
        "sing": "sang sung",
        "sit": "sat",
        "speak": "spoke spoken speech",
        "spend": "spent",
        "stand": "stood",
        "steal": "stole stolen",
        "strike": "struck",
        "swim": "swam swum",
        "take": "took taken",
        "teach": "taught",
        "tear": "tore torn",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "wear": "wore worn",
        "win": "won",
        "write": "wrote written",
        "arrest": "arrested arresting",
        "child": "children",
        "person": "people persons",
        "man": "men",
        "woman": "women",
        "injure": "injured injury injuries",
        "marry": "married marriage",
        "bear": "born",
        "photo": "photograph photographs photos picture pictures image images",
        "bid": "bidding",
    }.items()
    for form in forms.split()
}
_QUOTE_SPANS = re.compile(
    r"“([^”]{3,400})”|\"([^\"]{3,400})\"|``\s*(.{3,400}?)\s*''|(?<![\w])[‘'`]\s?([^'’‘`]{3,400}?)\s?['’](?![\w])"
)
# An opening quote that the sentence does not close: what follows it is someone's words.
_UNCLOSED = re.compile(r"(?:“|``|(?<![\w])\")(?=\s?\S)")
_APOSTROPHE = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def _fold(text: str) -> str:
    """Lower case without accents, apostrophes unified: how the check compares words."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHE).lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def _key(word: str, language: str = "en") -> str:
    """A folded word's key: its lemma's stem (irregular forms first), possessive dropped."""
    if word.endswith("'s"):
        word = word[:-2]
    lemma = _IRREGULAR.get(word, word) if language == "en" else word
    return stem(lemma, language)


def _stop(word: str, language: str) -> bool:
    return (
        len(word) < 2
        or word in STOP_WORDS
        or word in _NEUTRAL
        or word in LANGUAGE_STOP_WORDS.get(language, frozenset())
    )


def _counts(token: _Token, language: str) -> bool:
    """Whether a token carries content: a number, a date word or a content word."""
    return bool(token.number) or token.fold in _DATES or not _stop(token.fold, language)


def _number_value(text: str) -> set[float]:
    """The values one written number can mean: "1,200" is 1200 (or 1.2 in German)."""
    text = text.rstrip("stndrh")
    values: set[float] = set()
    if ":" in text:
        return values
    plain = text.replace(",", "")
    with contextlib.suppress(ValueError):
        values.add(float(plain))
    if "," in text and text.count(",") == 1 and "." not in text:
        with contextlib.suppress(ValueError):
            values.add(float(text.replace(",", ".")))
    if "." in text and "," not in text and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        values.add(float(text.replace(".", "")))  # 1.200.000 in German
    return values


@dataclass(frozen=True, slots=True)
class _Token:
    text: str  # as written
    fold: str  # folded
    key: str  # stem key, or "#value" for a number
    start: int
    number: frozenset[float] = frozenset()
    raw: str = ""  # a number's digits as written ("8:30", "1-1")


def _tokens(text: str, language: str) -> list[_Token]:
    """Words and numbers of `text`, numbers with their scale ("£1.2bn" -> 1.2e9)."""
    found = list(_TOKEN.finditer(text))
    out: list[_Token] = []
    skip = -1
    for i, match in enumerate(found):
        if i <= skip:
            continue
        written = match.group(0)
        fold = _fold(written)
        if match.group("num"):
            values = _number_value(fold)
            following = found[i + 1] if i + 1 < len(found) else None
            if following is not None and following.group("word"):
                scale = _SCALES.get(_fold(following.group(0)))
                gap = text[match.end() : following.start()]
                if scale and len(gap) <= 1 and gap.strip() in ("", "-"):
                    values = {v * scale for v in values} | values
                    skip = i + 1
            out.append(_Token(written, fold, _number_key(values, fold), match.start(),
                              frozenset(values), fold))  # fmt: skip
            continue
        number = _NUMBER_WORDS.get(fold)
        if number is not None:
            out.append(_Token(written, fold, f"#{number:g}", match.start(),
                              frozenset({float(number)}), fold))  # fmt: skip
            continue
        out.append(_Token(written, fold, _key(fold, language), match.start()))
    return out


def _number_key(values: set[float], fold: str) -> str:
    return f"#{min(values):g}" if values else f"#{fold}"


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    keys: frozenset[str]
    label: str


@dataclass(slots=True)
class Source:
    """What a model was given, indexed once for checking every sentence it wrote.

    Build it with `Source.of`; `label` of each part is returned with the sentences that
    support a bullet (an outlet, a citation number).
    """

    sentences: list[_Sentence] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    """Key -> the sentences (indexes) that have it."""
    folds: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    sorted_keys: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    raw_numbers: set[str] = field(default_factory=set)
    flat: str = " "
    language: str = "en"
    _capital: set[str] = field(default_factory=set)
    _lower: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, parts: Iterable[tuple[str, str]], language: str | None = None) -> Source:
        """Index `parts`, each ``(label, text)``: an article, or the reports of a story."""
        lang = (language or "en")[:2].lower()
        source = cls(language=lang)
        words: list[str] = []
        for label, text in parts:
            for sentence in split_sentences(text):
                tokens = _tokens(sentence, lang)
                keys = {t.key for t in tokens if _counts(t, lang)}
                keys |= source._index(tokens)
                for key in keys:
                    source.postings.setdefault(key, []).append(len(source.sentences))
                source.sentences.append(_Sentence(sentence, frozenset(keys), label))
                words.extend(t.fold for t in tokens)
                words.append("|")
        source.flat = " " + " ".join(words) + " "
        source.sorted_keys = sorted(source.keys)
        # a name is written with a capital inside a sentence, and never without one
        source.names = source._capital - source._lower
        return source

    def _index(self, tokens: list[_Token]) -> set[str]:
        """Add one sentence's words; returns the aliases (acronyms) its names make."""
        made: set[str] = set()
        run: list[str] = []
        for n, token in enumerate(tokens):
            self.folds.add(token.fold)
            self.keys.add(token.key)
            if token.number:
                self.numbers.update(token.number)
                self.raw_numbers.add(token.raw)
                continue
            if token.text[:1].isupper():
                if n > 0:
                    self._capital.add(token.fold)
                run.append(token.fold)
                continue
            if token.text[:1].islower():
                self._lower.add(token.fold)
            made |= _acronym(run)
            run = []
        made |= _acronym(run)
        self.aliases |= made
        return made

    def has_word(self, token: _Token) -> bool:
        """Whether the source has `token`'s word in some form."""
        if token.fold in self.folds or token.key in self.keys or token.fold in self.aliases:
            return True
        return self._prefix_match(token.key)

    def _prefix_match(self, key: str) -> bool:
        if len(key) < _PREFIX_MIN:
            return False
        # a longer key starting with this one ("quick" -> "quicker")
        at = bisect_left(self.sorted_keys, key)
        if at < len(self.sorted_keys):
            other = self.sorted_keys[at]
            if other.startswith(key) and len(other) - len(key) <= _PREFIX_EXTRA:
                return True
        # a shorter key this one starts with ("injuri" -> "injur")
        for cut in range(max(_PREFIX_MIN, len(key) - _PREFIX_EXTRA), len(key)):
            if key[:cut] in self.keys:
                return True
        return False

    def has_number(self, token: _Token) -> bool:
        if token.raw and token.raw in self.raw_numbers:
            return True
        return any(_close(v, self.numbers) for v in token.number)

    def has_phrase(self, words: Sequence[str]) -> bool:
        return (" " + " ".join(words) + " ") in self.flat


def _acronym(run: list[str]) -> set[str]:
    """The initials of a capitalised run ("Transportation Security Administration" ->
    "tsa"): an alias the source may go by."""
    significant = [w for w in run if w not in STOP_WORDS]
    if len(significant) >= 2:
        return {"".join(w[0] for w in significant)}
    return set()


def _close(value: float, values: set[float]) -> bool:
    if value in values:
        return True
    # rounding of large amounts: "1.23 million" may be written "1.2 million" (never a year,
    # an age or a count: 2027 is not 2026)
    return value >= 100_000 and any(abs(value - v) <= 0.05 * v for v in values if v >= 100_000)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a sentence is supported, why not, and which source sentences support it."""

    ok: bool
    reason: str = ""
    support: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


def check_sentence(text: str, source: Source) -> Verdict:
    """Check one model-written sentence against `source`.

    Returns:
        ``Verdict(ok=True, support=...)`` with the source sentences that support it, or
        ``Verdict(ok=False, reason=...)`` naming the first thing the source does not support.
    """
    lang = source.language
    tokens = _tokens(text, lang)
    if not any(t.fold.isalpha() or t.number for t in tokens):
        return Verdict(False, "no words")
    reason, spans = _quotes(text, source)
    if reason:
        return Verdict(False, reason)
    content = [(n, t) for n, t in enumerate(tokens) if _counts(t, lang)]
    new: list[int] = []
    for n, token in content:
        if token.number:
            if not source.has_number(token):
                return Verdict(False, f'number "{token.text}" is not in the source')
            continue
        if token.fold in _DATES:
            if token.fold not in source.folds:
                return Verdict(False, f'date "{token.text}" is not in the source')
            continue
        if source.has_word(token):
            continue
        if _name_like(tokens, n, source):
            return Verdict(False, f'name "{token.text}" is not in the source')
        new.append(n)
    if len(new) > MAX_NEW_WORDS or (new and _loose(content, new, source)):
        shown = ", ".join(tokens[n].text for n in new)
        return Verdict(False, f"says what the source does not: {shown}")
    quoted = {n for n, t in enumerate(tokens) if any(a <= t.start < b for a, b in spans)}
    reason = _context(content, source, quoted)
    if reason:
        return Verdict(False, reason)
    reason = _pairs(content, source)
    if reason:
        return Verdict(False, reason)
    support = _support(tokens, content, source)
    return Verdict(
        True, support=tuple(s.text for s in support), labels=tuple(s.label for s in support)
    )


def _loose(content: list[tuple[int, _Token]], new: list[int], source: Source) -> bool:
    """Whether a sentence with a new word is not a close rewording of one source sentence:
    less than `TIGHT` of its other content words are in the sentence that has the most."""
    wanted = {t.key for n, t in content if n not in new}
    if not wanted:
        return True
    best = max((len(s.keys & wanted) for s in source.sentences), default=0)
    return best < TIGHT * len(wanted)


def _name_like(tokens: list[_Token], n: int, source: Source) -> bool:
    """Whether the unsupported word at `n` is (part of) a name: written with a capital inside
    the sentence or in capitals, or next to a name the source has."""
    token = tokens[n]
    if n > 0 and token.text[:1].isupper():
        return True
    return bool(len(token.text) > 1 and token.text.isupper())


def _quotes(text: str, source: Source) -> tuple[str, list[tuple[int, int]]]:
    """Why a quoted phrase is not the source's words ("" when every one is), and where the
    quotes are in `text`."""
    spans: list[tuple[int, int]] = []
    for match in _QUOTE_SPANS.finditer(text):
        quoted = next(g for g in match.groups() if g is not None)
        words = [_fold(w) for w in _WORD.findall(quoted)]
        if len(words) < 2:
            continue
        if not source.has_phrase(words):
            return f"quote not in the source: “{quoted.strip()}”", spans
        spans.append(match.span())
    opened = _UNCLOSED.search(text)
    if opened and not any(a <= opened.start() < b for a, b in spans):
        spans.append((opened.start(), len(text)))
    return "", spans


def _anchors(content: list[tuple[int, _Token]], source: Source) -> list[list[int]]:
    """Positions (in `content`) of each number, and of each run of consecutive name words
    ("nigel farage"): what must be stated with its context."""
    groups: list[list[int]] = []
    i = 0
    while i < len(content):
        token = content[i][1]
        if token.number:
            groups.append([i])
        elif _is_name(token, source):
            run = [i]
            while (
                run[-1] + 1 < len(content)
                and content[run[-1] + 1][0] == content[run[-1]][0] + 1
                and _is_name(content[run[-1] + 1][1], source)
            ):
                run.append(run[-1] + 1)
            groups.append(run)
            i = run[-1]
        i += 1
    return groups


def _is_name(token: _Token, source: Source) -> bool:
    return token.fold in source.names or token.fold in source.aliases


def _context(content: list[tuple[int, _Token]], source: Source, quoted: set[int]) -> str:
    """Why a name or number is not stated in the source with what the bullet says of it.

    The content words just before and just after it (outside quotes, which are checked word
    for word) are looked for in each source sentence that holds it, with the sentences
    after it for a number (`NUMBER_REACH`); one side found is enough, since one side may
    belong to another clause.
    """
    keys = [t.key for _, t in content]
    for group in _anchors(content, source):
        anchor = {keys[i] for i in group}

        def side(positions: range, anchor: set[str] = anchor) -> list[str]:
            return [
                keys[j]
                for j in positions
                if keys[j] not in anchor and keys[j] in source.keys and content[j][0] not in quoted
            ]

        sides = [
            s
            for s in (
                side(range(max(0, group[0] - CONTEXT_WORDS), group[0])),
                side(range(group[-1] + 1, min(len(keys), group[-1] + CONTEXT_WORDS + 1))),
            )
            if s
        ]
        if not sides:
            continue
        best = 0.0
        holding = sorted({at for key in anchor for at in source.postings.get(key, ())})
        for at in holding:
            sentence = source.sentences[at]
            window = set(sentence.keys)
            reach = NUMBER_REACH if all(content[i][1].number for i in group) else NAME_REACH
            for near in range(max(0, at - reach[0]), min(len(source.sentences), at + reach[1] + 1)):
                window |= source.sentences[near].keys
            shares = [sum(1 for k in words if k in window) / len(words) for words in sides]
            best = max(best, *shares)
        if best < MIN_CONTEXT_SHARE:
            word = " ".join(content[i][1].text for i in group)
            said = ", ".join(
                content[j][1].text for j in range(len(content)) if any(keys[j] in s for s in sides)
            )
            return f'the source does not say "{word}" with "{said}"'
    return ""


def _pairs(content: list[tuple[int, _Token]], source: Source) -> str:
    """Why the sentence joins what the source says apart: `MAX_JOINS` or more pairs of
    neighbouring content words that no source sentence has together."""
    found = [t for _, t in content if t.key in source.keys]
    splices: list[str] = []
    joints = 0
    last = -2
    for at, (a, b) in enumerate(itertools.pairwise(found)):
        if a.key == b.key:
            continue
        if not _together(a.key, b.key, source):
            splices.append(f"{a.text} … {b.text}")
            # two splices around one word are one word out of place (a paraphrase the
            # source has elsewhere), not two joins
            if at != last + 1:
                joints += 1
            last = at
    if joints >= MAX_JOINS:
        return "joins what the source says apart: " + "; ".join(splices)
    return ""


def _together(a: str, b: str, source: Source) -> bool:
    """Whether one source sentence has both keys."""
    first, second = source.postings.get(a, ()), source.postings.get(b, ())
    return not set(first).isdisjoint(second)


def _support(
    tokens: list[_Token], content: list[tuple[int, _Token]], source: Source
) -> list[_Sentence]:
    """The few source sentences that together hold most of the bullet's content words."""
    wanted = {t.key for _, t in content}
    chosen: list[_Sentence] = []
    while wanted and len(chosen) < 3:
        best = max(source.sentences, key=lambda s: len(s.keys & wanted), default=None)
        if best is None or len(best.keys & wanted) < max(1, len(wanted) // 4 if chosen else 1):
            break
        chosen.append(best)
        wanted -= best.keys
    order = {id(s): n for n, s in enumerate(source.sentences)}
    return sorted(chosen, key=lambda s: order[id(s)])
