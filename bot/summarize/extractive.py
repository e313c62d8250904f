"""Offline extractive summariser: a headline and 3-5 short, traceable bullets.

Pipeline: `clean_text` removes furniture; `split_sentences` splits; every sentence gets a score
that mixes a position prior (news puts the story first), position-aware centrality in the
manner of PacSum (Zheng & Lapata 2019: a sentence matters when what *follows* it elaborates it),
overlap with the title, names and numbers, and penalties for questions, fragments, run-on
captions and bare quotes. Sentences are picked greedily with a redundancy penalty so the
bullets cover distinct points, then put back in article order and compressed: attribution
tails (", he said"), photo cues, parentheticals and leading connectives go first, and only
then, if a bullet is still over 30 words, is it cut at a clause boundary. Quotes keep their
speaker (``Zelenskyy: 'Putin will not give us any security guarantees'``).

Weights are a handful of named constants tuned on the dev set (``benches/data/dev.jsonl``) as
a whole, never row by row.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from bot.models import Briefing, Bullet
from bot.summarize.clean import clean_text
from bot.summarize.sentences import split_block, split_paragraphs

__all__ = ["MAX_BULLET_WORDS", "MAX_HEADLINE_WORDS", "summarize"]

MAX_BULLET_WORDS = 30
MAX_HEADLINE_WORDS = 15

# Only the start of a very long text is read: news puts what matters first, and this bounds
# the quadratic centrality step (a 1 MB paste must not take seconds).
_MAX_CHARS = 60_000
_MAX_SENTENCES = 50

_REDUNDANCY = 0.15
_MIN_BULLETS = 3
_WORD_BUDGET = 50  # about the length of the dev set's reference summaries
_MIN_WORDS = 6

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours said says say told one two new
    mr mrs ms would could year years last first time people like get got
    """.split()
)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_NUMBER = re.compile(r"\d")
_OPEN_QUOTES = '"“'
_QUOTE_CHARS = '"“”'

_SAY = (
    r"(?:said|says|added|adds|noted|notes|stated|states|told|tells|explained|explains|"
    r"insisted|insists|warned|warns|claimed|claims|admitted|admits|wrote|writes|"
    r"announced|announces|confirmed|confirms|argued|argues|continued|replied|declared|"
    r"revealed|reveals|recalled|stressed|emphasised|emphasized|believes|added)"
)
_WHEN = (
    r"(?:\s+(?:on|last|this|late|early)?\s*(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|week|month|night|morning|afternoon|evening|year)|\s+yesterday|\s+today|"
    r"\s+in\s+a\s+(?:statement|interview|post|tweet|press\s+release|letter)|"
    r"\s+(?:at|during)\s+(?:a|the)\s+[\w\s-]{1,25}?(?:conference|briefing|hearing|meeting))*"
)
_NAME = r"(?:[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|von|van|der|al))*)"
_SUBJECT = (
    r"(?:he|she|they|it|we|police|officials|authorities|experts|researchers|witnesses|"
    r"(?:the|a|an|his|her|their)\s+[\w'’-]+(?:\s+[\w'’-]+){0,4}?|" + _NAME + r")"
)
# ", he said." / "' Lurie told WKYC." / ", police said in a report." / ", according to X." at
# the very end of a sentence; the tail must follow a comma or a closing quote.
_TOLD_WHOM = r"(?:\s+(?:the\s+)?[A-Z][\w.&'’-]*(?:\s+[A-Z0-9][\w.&'’-]*){0,3})?"
_ON_WHAT = (
    r"(?:\s+(?:on|in|to|via)\s+(?:a\s+|an\s+|the\s+|his\s+|her\s+|their\s+)?"
    r"[\w'’-]+(?:\s+[\w'’-]+)?)?"
)
_ATTRIBUTION_TAIL = re.compile(
    r"(?:,|(?<=[\"”’'])|(?<=[\"”’'],))\s*(?:(?:reportedly\s+)?\b"
    + _SUBJECT
    + r"\s+(?:has\s+|had\s+|have\s+|also\s+|reportedly\s+)?"
    + _SAY
    + _TOLD_WHOM
    + _ON_WHAT
    + _WHEN
    + r"|"
    + _SAY
    + r"\s+"
    + _SUBJECT
    + _WHEN
    + r"|according\s+to\s+[^,.;\"“”]{2,60})\s*(?=[.!?]?[\"”’']?\s*$)"
)
# Literal stems of the verbs in _SAY: a substring test is far cheaper than the regex.
_SAY_STEMS = (
    "said",
    "says",
    "add",
    "note",
    "state",
    "told",
    "tell",
    "explain",
    "insist",
    "warn",
    "claim",
    "admit",
    "wrote",
    "write",
    "announc",
    "confirm",
    "argu",
    "continu",
    "repli",
    "declar",
    "reveal",
    "recall",
    "stress",
    "emphasi",
    "believ",
)
# Speaker introductions that tell us who is quoted next.
_SPEAKER_COLON = re.compile(r"^(" + _NAME + r"):\s*[\"“‘']")
_SPEAKER_VERB = re.compile(
    r"(?<![\w'’])(" + _NAME + r")(?:,\s[^,]{1,60},)?\s+(?:has\s+|had\s+|also\s+|then\s+|"
    r"later\s+)*" + _SAY + r"\b"
)
_SPEAKER_INVERTED = re.compile(_SAY + r"\s+(" + _NAME + r")\b")
_TITLE_WORDS = frozenset(
    """
    president prime minister chancellor secretary senator sen governor gov mayor king queen
    prince princess pope dr mr mrs ms professor prof general gen chief judge justice officer
    detective sergeant captain coach manager director leader spokesman spokeswoman minister
    """.split()
)
_NOT_SPEAKERS = frozenset(
    "the a an it this that these those there he she they we i you police officials".split()
)

_PARENTHETICAL = re.compile(r"\s*\((?![^()]*\d{4}\))[^()]{1,80}\)")
_LEADING_CONNECTIVE = re.compile(
    r"^(?:however|meanwhile|moreover|furthermore|in\s+addition|additionally|also|"
    r"at\s+the\s+same\s+time|instead|still|but|and|so|now|then)\s*,?\s+(?=\S)",
    re.IGNORECASE,
)
_QUOTE_LEADING = re.compile(r"^(?:and|but|because|so|or|also)\s*,?\s+", re.IGNORECASE)
# Clause boundaries where a long sentence can be cut without changing what the first part says:
# a semicolon, a colon or a spaced dash; a comma before a new clause; or, with no comma, a
# subordinating word that starts an adverbial clause ("... was arrested after police found ...").
_CLAUSE_CUT = re.compile(
    r"\s*(?:;|:(?=\s)|\s[-–—]{1,2}\s|,\s+(?=(?:which|who|whom|whose|where|while|whilst|although|"
    r"though|but|as|after|before|when|because|since|amid|despite|including|and|with|"
    r"leaving|prompting|saying|adding|according|following|until|so|or|then|now|even|"
    r"meaning|making|sparking|forcing|causing|in|on|at|for)\b))"
    r"|\s+(?=(?:but|while|whilst|because|although|though|after|amid|despite|following|when|"
    r"before|until|prompting|leaving)\s)"
)
_PREPOSITION_CUT = re.compile(
    r"\s+(?=(?:at|in|on|during|for|by|from|over|near|into|amid|outside|inside|across|"
    r"throughout|via)\s)"
)
# A fronted adverbial clause ("After United beat Villa, Mata said ...") must not be what is
# kept when the sentence is cut; it is dropped instead and the main clause kept.
_FRONTED = re.compile(
    r"^(?:after|before|while|whilst|when|although|though|as|since|because|despite|following|"
    r"amid|if|once|until|with|in|on|at|during|speaking|having|earlier|later)\b[^,]{3,120}?,\s+"
    r"(?=[A-Z\"“‘'])",
    re.IGNORECASE,
)
_NONRESTRICTIVE = re.compile(r",\s+(?:who|which|whose|where)\s[^,;]{3,120}?,(?=\s)")
_TRAILING_JUNK = re.compile(r"[\s,;:–—-]+$")


@dataclass(slots=True)
class _Sentence:
    """A sentence of the article with what scoring and rendering need."""

    text: str
    index: int
    paragraph: int
    tokens: list[str]
    in_quote: bool
    speaker: str | None


def _stem(word: str) -> str:
    """A tiny suffix stripper: enough to match "guarantee"/"guarantees", "talk"/"talks"."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# Lower-cased word -> content token ("" for stop words); words repeat a lot across articles,
# so this saves most of the tokenising time. Bounded so a hostile input cannot grow it forever.
_TOKEN_CACHE: dict[str, str] = {}
_TOKEN_CACHE_MAX = 200_000
_LOWER_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")


def _content_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text` without stop words."""
    out: list[str] = []
    for word in _LOWER_WORD.findall(text.lower()):
        token = _TOKEN_CACHE.get(word)
        if token is None:
            bare = word.strip("'’-")
            token = "" if len(bare) < 2 or bare in _STOPWORDS else _stem(bare)
            if len(_TOKEN_CACHE) < _TOKEN_CACHE_MAX:
                _TOKEN_CACHE[word] = token
        if token:
            out.append(token)
    return out


def _speaker_name(name: str) -> str | None:
    """Reduce "President Volodymyr Zelenskyy" to "Zelenskyy"; reject non-names."""
    words = [w.strip(".,") for w in name.split()]
    words = [w for w in words if w and w.lower() not in _TITLE_WORDS]
    if not words or words[0].lower() in _NOT_SPEAKERS:
        return None
    return words[-1]


def _find_speaker(text: str) -> str | None:
    """The named speaker a sentence introduces, if any."""
    if ":" not in text and not any(stem in text for stem in _SAY_STEMS):
        return None  # cheap pre-check: most sentences quote nobody
    for pattern in (_SPEAKER_COLON, _SPEAKER_VERB, _SPEAKER_INVERTED):
        match = pattern.search(text)
        if match:
            name = _speaker_name(match.group(1))
            if name:
                return name
    return None


def _analyse(text: str) -> list[_Sentence]:
    """Clean, split and annotate the article's sentences (quote state, current speaker)."""
    cleaned = clean_text(text[:_MAX_CHARS])
    out: list[_Sentence] = []
    speaker: str | None = None
    for p_index, paragraph in enumerate(split_paragraphs(cleaned)):
        open_quote = False
        for sentence in split_block(paragraph):
            if len(out) >= _MAX_SENTENCES:
                return out
            found = _find_speaker(sentence)
            starts_quoted = open_quote or sentence[:1] in _OPEN_QUOTES
            out.append(
                _Sentence(
                    text=sentence,
                    index=len(out),
                    paragraph=p_index,
                    tokens=_content_tokens(sentence),
                    in_quote=starts_quoted and found is None and not _SPEAKER_COLON.match(sentence),
                    speaker=found or speaker,
                )
            )
            if found:
                speaker = found
            # Straight double quotes toggle; an odd count leaves the quotation open.
            straight = sentence.count('"')
            curly_open, curly_close = sentence.count("“"), sentence.count("”")
            if straight % 2 == 1:
                open_quote = not open_quote
            elif curly_open != curly_close:
                open_quote = curly_open > curly_close
    return out


def _similarities(sentences: list[_Sentence]) -> list[list[float]]:
    """Cosine similarity of tf-idf vectors, idf taken within the article (as PacSum does)."""
    n = len(sentences)
    df: Counter[str] = Counter()
    for s in sentences:
        df.update(set(s.tokens))
    vectors: list[dict[str, float]] = []
    for s in sentences:
        tf = Counter(s.tokens)
        vec = {t: c * math.log((n + 1) / df[t]) for t, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({t: v / norm for t, v in vec.items()})
    # Accumulate dot products term by term (an inverted index): only sentence pairs that
    # share a word cost anything, which is far fewer than all n * n pairs.
    postings: dict[str, list[tuple[int, float]]] = {}
    for i, vec in enumerate(vectors):
        for t, v in vec.items():
            postings.setdefault(t, []).append((i, v))
    sims = [[0.0] * n for _ in range(n)]
    for plist in postings.values():
        if len(plist) < 2:
            continue
        for x, (i, vi) in enumerate(plist):
            row = sims[i]
            for j, vj in plist[x + 1 :]:
                row[j] += vi * vj
    for i in range(n):
        for j in range(i + 1, n):
            sims[j][i] = sims[i][j]
    return sims


_PRONOUN_START = re.compile(
    r"^[\"“‘']?(?:he|she|it|they|this|that|these|those|his|her|their)\b", re.IGNORECASE
)


def _features(sentences: list[_Sentence], title: str | None) -> list[tuple[float, ...]]:
    """One feature vector per sentence, in the order of `_WEIGHTS`."""
    sims = _similarities(sentences)
    n = len(sentences)
    forward = [sum(sims[i][i + 1 :]) for i in range(n)]
    backward = [sum(sims[i][:i]) for i in range(n)]
    f_top = max(forward, default=0.0) or 1.0
    b_top = max(backward, default=0.0) or 1.0
    title_tokens = set(_content_tokens(title)) if title else set()
    first_paragraph = -1
    out: list[tuple[float, ...]] = []
    for i, s in enumerate(sentences):
        words = _words(s.text)
        # The first word is capitalised anyway, hence the -1.
        entities = len(_CAPITALISED.findall(s.text)) - 1 + len(_NUMBER.findall(s.text)) / 2
        title_overlap = (
            len(title_tokens & set(s.tokens)) / len(title_tokens)
            if title_tokens and s.tokens
            else 0.0
        )
        paragraph_first = s.paragraph != first_paragraph
        first_paragraph = s.paragraph
        out.append(
            (
                1.0 / (1.0 + i),
                1.0 if i == 0 else 0.0,
                forward[i] / f_top,
                backward[i] / b_top,
                sims[0][i] if i else 1.0,
                min(words, 40) / 40,
                min(entities, 8) / 8,
                1.0 if _NUMBER.search(s.text) else 0.0,
                1.0 if s.in_quote or s.text[:1] in _OPEN_QUOTES + "‘'" else 0.0,
                1.0 if s.text.rstrip("\"”’' ").endswith("?") else 0.0,
                1.0 if _PRONOUN_START.match(s.text) else 0.0,
                1.0 if words < _MIN_WORDS else 0.0,
                1.0 if words > 50 else 0.0,
                1.0 if paragraph_first else 0.0,
                title_overlap,
            )
        )
    return out


# Weights of the features above, in order: position prior, first sentence, forward
# centrality, backward centrality, similarity to the lead, length, names/numbers, has a
# number, quotation, question, opens with a pronoun, fragment, run-on, paragraph opener,
# title overlap.
_WEIGHTS: tuple[float, ...] = (
    1.5,
    0.0,
    0.35,
    -0.1,
    0.0,
    0.0,
    0.3,
    0.0,
    -0.25,
    -0.4,
    0.0,
    -0.6,
    -0.3,
    0.0,
    0.4,
)


def _scores(sentences: list[_Sentence], title: str | None) -> list[float]:
    """Score every sentence; higher is more summary-worthy."""
    return [
        sum(w * f for w, f in zip(_WEIGHTS, feats, strict=True))
        for feats in _features(sentences, title)
    ]


def _overlap(a: list[str], b: list[str]) -> float:
    """Share of `a`'s content words that `b` also has."""
    if not a:
        return 0.0
    sb = set(b)
    return sum(1 for t in a if t in sb) / len(a)


def _select(
    sentences: list[_Sentence], scores: list[float], k: int, limit: int
) -> list[tuple[_Sentence, str]]:
    """Greedy selection with a redundancy penalty (maximal marginal relevance).

    Stops at `k` sentences, or earlier once `_MIN_BULLETS` are chosen and their bullets hold
    `_WORD_BUDGET` words together: a briefing is read in seconds, and three long bullets
    already say as much as the reference summaries do. Returns (sentence, bullet text) pairs
    in article order.
    """
    chosen: list[_Sentence] = []
    rendered: dict[int, str] = {}
    candidates = list(range(len(sentences)))
    total = 0
    while candidates and len(chosen) < k:
        if len(chosen) >= _MIN_BULLETS and total >= _WORD_BUDGET:
            break
        best, best_value = -1, -math.inf
        for i in candidates:
            redundancy = max((_overlap(sentences[i].tokens, c.tokens) for c in chosen), default=0)
            value = scores[i] - _REDUNDANCY * redundancy
            if value > best_value:
                best, best_value = i, value
        chosen.append(sentences[best])
        rendered[best] = _render(sentences[best], limit)
        total += _words(rendered[best])
        candidates.remove(best)
    return [(s, rendered[s.index]) for s in sorted(chosen, key=lambda s: s.index)]


def _words(text: str) -> int:
    return len(text.split())


def _finish(text: str) -> str:
    """Tidy a compressed sentence: no trailing comma or dash, a final full stop."""
    text = _TRAILING_JUNK.sub("", text.strip())
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"\s{2,}", " ", text)
    if text and text[-1] not in ".!?\"'”’…":
        text += "."
    return text[:1].upper() + text[1:] if text else text


def _cut_to(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` words, preferring the last clause boundary that fits."""
    if _words(text) <= limit:
        return text
    best = None
    for match in _CLAUSE_CUT.finditer(text):
        head = text[: match.start()]
        if _words(head) > limit:
            break
        if _words(head) >= max(6, limit // 3):
            best = head
    if best is not None:
        return best
    # No clause boundary fits: drop a trailing prepositional phrase ("... were discussed by X
    # at Y" -> "... were discussed"), then the last comma, and only then cut at a word.
    for match in _PREPOSITION_CUT.finditer(text):
        head = text[: match.start()]
        if _words(head) > limit:
            break
        if _words(head) >= (limit * 3) // 5:
            best = head
    if best is not None:
        return best
    words = text.split()
    head = " ".join(words[:limit])
    comma = head.rfind(",")
    if comma > 0 and _words(head[:comma]) >= limit // 2:
        return head[:comma]
    return " ".join(words[: limit - 1]) + " …"


def _compress(text: str, limit: int) -> str:
    """Shorten a sentence by dropping what carries little, then cut at a clause if needed.

    A sentence that fits is kept whole: on the dev set even attribution tails ("police said")
    tend to be in the reference bullets, so they go only when the sentence is too long.
    """
    text = _LEADING_CONNECTIVE.sub("", text)
    if _words(text) > limit:
        text = _ATTRIBUTION_TAIL.sub("", text)
    if _words(text) > limit:
        text = _PARENTHETICAL.sub("", text)
    if _words(text) > limit:
        text = _NONRESTRICTIVE.sub("", text)
    if _words(text) > limit:
        fronted = _FRONTED.match(text)
        if fronted and _words(text) - _words(fronted.group(0)) >= 8:
            text = text[fronted.end() :]
    return _finish(_cut_to(text, limit))


def _quote_body(text: str) -> str:
    """The words of a quoted sentence without quote marks, attribution or a leading 'And'."""
    text = _ATTRIBUTION_TAIL.sub("", text)
    text = _SPEAKER_COLON.sub("", text) if _SPEAKER_COLON.match(text) else text
    text = text.strip().strip(_QUOTE_CHARS + "'‘’ ").strip()
    text = re.sub(r"^[^\"“”]*?[:,]\s*[\"“]", "", text) if text[:1] not in _QUOTE_CHARS else text
    text = _QUOTE_LEADING.sub("", text)
    text = text.rstrip(".,;: ").strip(_QUOTE_CHARS + " ")
    return text[:1].upper() + text[1:]


def _render(sentence: _Sentence, limit: int) -> str:
    """Turn a selected sentence into bullet text of at most `limit` words."""
    text = sentence.text
    quoted_whole = sentence.in_quote or bool(_SPEAKER_COLON.match(text))
    has_tail = bool(_ATTRIBUTION_TAIL.search(text)) and text[:1] in _OPEN_QUOTES
    if sentence.speaker and (quoted_whole or has_tail):
        body = _quote_body(text)
        if body:
            prefix = f"{sentence.speaker}: '"
            room = limit - _words(prefix)
            body = _cut_to(body, room)
            body = _TRAILING_JUNK.sub("", body).rstrip(".")
            return f"{prefix}{body}'"
    return _compress(text, limit)


def _headline(title: str | None, first: str) -> str:
    """The title shortened to at most 15 words, or the top sentence cut at a clause."""
    source = " ".join((title or "").split())
    if not source:
        source = _compress(first, MAX_HEADLINE_WORDS) if first else ""
        return source.rstrip(".")
    if _words(source) <= MAX_HEADLINE_WORDS:
        return source
    # Long titles usually carry a kicker after a dash, colon or pipe: keep the main part.
    for sep in (" | ", " - ", " – ", " — ", ": "):
        head = source.split(sep)[0].strip()
        if 3 <= _words(head) <= MAX_HEADLINE_WORDS:
            return head
    return _cut_to(source, MAX_HEADLINE_WORDS).rstrip(" ,;:").rstrip(".")


def _fallback(text: str, title: str | None, max_bullets: int) -> Briefing:
    """Last resort when analysis fails: the first words, cut to size, still traceable."""
    flat = " ".join(text.split())[:2000]
    if not flat:
        return Briefing(headline=(title or "").strip(), bullets=())
    words = flat.split()
    bullets = []
    for i in range(0, min(len(words), MAX_BULLET_WORDS * max_bullets), MAX_BULLET_WORDS):
        chunk = " ".join(words[i : i + MAX_BULLET_WORDS])
        bullets.append(Bullet(chunk, (chunk,)))
    headline = _headline(title, " ".join(words[:MAX_HEADLINE_WORDS]))
    return Briefing(headline=headline, bullets=tuple(bullets[:max_bullets]))


def summarize(
    text: str,
    title: str | None = None,
    *,
    max_bullets: int = 4,
    max_words: int = MAX_BULLET_WORDS,
) -> Briefing:
    """Summarise an article into a headline and a few bullets taken from its sentences.

    Never raises on bad input: empty text gives a briefing with no bullets, text without any
    punctuation, HTML, very long or non-English text all give a best-effort briefing.

    Args:
        text: The article body (plain text; leftover HTML and boilerplate are removed).
        title: The article's title, used for the headline and to score sentences.
        max_bullets: Most bullets to return (3-5 is the intended range).
        max_words: Most words in one bullet.

    Returns:
        A `Briefing` whose bullets are in article order; each bullet keeps the sentence it was
        built from in `Bullet.sentences`.
    """
    try:
        return _summarize(text or "", title, max(1, max_bullets), max(8, max_words))
    except Exception:  # a briefing must never take the caller down
        return _fallback(text or "", title, max(1, max_bullets))


def _summarize(text: str, title: str | None, max_bullets: int, limit: int) -> Briefing:
    sentences = _analyse(text)
    if not sentences:
        return Briefing(headline=_headline(title, ""), bullets=())
    scores = _scores(sentences, title)
    chosen = _select(sentences, scores, max_bullets, limit)
    bullets = [Bullet(rendered, (s.text,)) for s, rendered in chosen if rendered]
    top = max(range(len(sentences)), key=lambda i: scores[i])
    return Briefing(headline=_headline(title, sentences[top].text), bullets=tuple(bullets))
