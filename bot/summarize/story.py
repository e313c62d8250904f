"""A story's briefing from all of its reports: the best report's lead, then what others add.

Every report already has its own briefing, made once at ingest. A story told by several
outlets reads as one briefing built from those: the best report's first bullet states the
event, then the other bullets of every report compete for the remaining places. A bullet
ranks higher the earlier it sits in its report (news puts what matters first) and the more of
its words other outlets' texts use too (they confirm it belongs to the event), times how much
it adds to what the bullets chosen so far say, so a report's second bullet on the lead's topic
gives way to another outlet's new facts. The check compares stemmed content words and
numbers, not wording: at least half of what a bullet says must be new (numbers and names count
double), and its claim (without who said it: "Zelenskyy, who appeared alongside von der Leyen,
said the funding ...") must not share three fifths of the shorter claim with any chosen bullet.
So a paraphrase of the lead or a quote two outlets carry is left out, while a new figure,
speaker or reaction gets in. Each bullet names the outlet it came from, and a story of several
outlets names at least two.

The headline is the best report's title; when it has none, another report's title.

Feeds often cut a text off ("... the Port of..."); such a sentence is cut back to its last
clause boundary, or left out, so no bullet ends mid-phrase.

Only stored bullets and the start of each text are read: a story takes about a millisecond,
and a digest builds briefings only for the stories it shows.

Example:
    briefing = summarize_story(reports, [stored[a.id] for a in reports])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import Article, Briefing, Bullet
from bot.summarize.compress import (
    ATTRIBUTION_TAIL,
    NONRESTRICTIVE,
    SAY,
    compress,
    cut_to,
    finish,
)
from bot.summarize.extractive import (
    MAX_BULLET_WORDS,
    MIN_BULLET_WORDS,
    content_tokens,
    points_back,
)

__all__ = ["MAX_STORY_BULLETS", "MAX_STORY_REPORTS", "MIN_STORY_BULLETS", "summarize_story"]

# Reports a digest reads for one story's briefing: past a handful of outlets, more reports
# repeat the same facts and only cost time.
MAX_STORY_REPORTS = 8
MAX_STORY_BULLETS = 5
MIN_STORY_BULLETS = 3
# Words a story briefing aims at: five bullets of about 26 words, more than twice one report's
# briefing (about 50), since several outlets add facts, and still read in half a minute. Past
# it (with 3 bullets in), only a bullet that still fits is taken.
WORD_BUDGET = 130
# A candidate must bring at least this share of new content to count as a new fact...
MIN_NOVELTY = 0.5
# ...and must not share this much of the shorter bullet with any one chosen bullet.
MAX_OVERLAP = 0.6
# How far into each text other outlets' confirmation is looked for: the facts are at the top.
_SUPPORT_CHARS = 5000

# A sentence cut off by its feed or by compression: "... the Port of..." / "... their place …".
_CUT_OFF = re.compile(r"\s*(?:\.{3,}|…)[\"'”’)\]]*\s*$")
# A sentence that ends on a word no complete sentence ends on ("... acted lawfully and.").
_DANGLING = re.compile(
    r"\s+(?:and|or|but|nor|the|a|an|of|with|which|who|whose|its|their|than)\.$", re.IGNORECASE
)
# ", requiring all workers to ...": a participle after a comma opens a clause of its own.
_PARTICIPLE = re.compile(r",\s+(?=[a-z]{3,}ing\s)")
_SPEAKER_QUOTE = re.compile(r"^[^\s:]+(?:\s[^\s:]+)?:\s['‘\"“]")
_DOUBLE_QUOTES = '"“”'
_OPENING_QUOTES = "\"“‘'"
_SAY_WORD = re.compile(r"\b" + SAY + r"\b")
_NUMBER = re.compile(r"\d[\d,.]*")
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
# The speaker and speech verb in front of what was said: "Zelenskyy said on Sunday that ...",
# "The Ukrainian president said it was ...", "Speaking in Kyiv, Zelenskyy said ...".
_SAID_THAT = re.compile(
    r"^(?:[^.;:!?\"“”]{0,80}?\s)?" + SAY + r"(?:\s+(?:on|last|this)\s+\w+)?(?:\s+that)?\s+",
)
# "Name, a/an/the ...," after the subject: an appositive that says who the subject is.
_APPOSITIVE = re.compile(
    r"^((?:[A-Z][\w'’.-]+\s+){0,3}[A-Z][\w'’.-]+),\s+(?:a|an|the)\s[^,]{3,140},\s+"
)
# A role in front of the name that does something: "Former secretary of state and chairman of
# the Joint Chiefs of Staff Colin Powell has died ...".
_ROLE_LEAD = re.compile(
    r"^(?:[Ff]ormer|[Tt]he|[a-z])[^,]{0,100}?\s(?=(?:[A-Z][\w'’.-]+\s+){1,3}"
    r"(?:has|had|have|was|is|were|are|will|would|died|dies|said|says)\b)"
)
# A capitalised word that does not open the text: a name, for the novelty check.
_NAME = re.compile(r"(?<=\s)[A-Z][A-Za-z'’-]*")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One bullet of one report, with what ranking and the novelty check compare."""

    bullet: Bullet
    outlet: str
    report: int
    position: int
    keys: frozenset[str]  # stemmed content words and numbers ("#84")
    facts: frozenset[str]  # the numbers and names among them
    words: int
    claim: frozenset[str]  # the keys of what is reported, without who said it or where
    leans: bool  # its subject points back ("He ..."): it needs the bullet before it


def summarize_story(
    articles: Sequence[Article],
    briefings: Sequence[Briefing],
    *,
    max_bullets: int = MAX_STORY_BULLETS,
) -> Briefing:
    """One briefing for a story told by several reports.

    Args:
        articles: The story's reports, best first (the one whose lead states the event).
        briefings: Each report's own briefing, in the same order as `articles`.
        max_bullets: Most bullets (3-5 is the intended range).

    Returns:
        The best report's headline (its title; when it has none, another report's title, and
        failing that one derived from its lead), its lead bullet, then the
        distinct facts the reports add, at most `max_bullets` of at most 30 words, each with
        `Bullet.source` naming its outlet. A story of one report gets that report's briefing
        unchanged.

    Raises:
        ValueError: if `articles` and `briefings` differ in length.
    """
    if len(articles) != len(briefings):
        raise ValueError(f"{len(articles)} reports but {len(briefings)} briefings")
    if not articles:
        return Briefing(headline="", bullets=())
    lead, own = articles[0], briefings[0]
    headline = _headline(articles, briefings)
    if len(articles) == 1:
        return Briefing(headline=headline, bullets=own.bullets)
    try:
        pool = [
            candidate
            for report, (article, briefing) in enumerate(zip(articles, briefings, strict=True))
            for candidate in _candidates(report, article, briefing)
        ]
        chosen = _select(pool, _outlets(articles), max(1, max_bullets))
    except Exception:  # one odd report must not take a digest down: its lead report stands
        log.warning("story briefing failed, lead report's used: %s", lead.url, exc_info=True)
        chosen = []
    if not chosen:
        return Briefing(headline=headline, bullets=own.bullets)
    # Read by outlet: the lead and the rest of its report first, then each other outlet's.
    chosen.sort(key=lambda c: (c.report, c.position))
    return Briefing(headline=headline, bullets=tuple(c.bullet for c in chosen))


def _headline(articles: Sequence[Article], briefings: Sequence[Briefing]) -> str:
    """The best report's title; when it has none, the title of the first report that has one
    (an editor's headline beats one derived from a lead); failing that, the derived one."""
    lead, own = articles[0], briefings[0]
    if not lead.title.strip():
        for article, briefing in zip(articles[1:], briefings[1:], strict=True):
            if article.title.strip() and briefing.headline:
                return briefing.headline
    return own.headline or lead.title


def _candidates(report: int, article: Article, briefing: Briefing) -> list[_Candidate]:
    out = []
    for position, bullet in enumerate(briefing.bullets):
        text = _complete(bullet.text)
        if len(text.split()) > MAX_BULLET_WORDS:
            text = _complete(compress(text, MAX_BULLET_WORDS))
        keys, facts = _keys(text)
        if not keys or _speakerless(text) or len(text.split()) < MIN_BULLET_WORDS:
            continue
        attributed = Bullet(text, bullet.sentences, source=article.source or None)
        words = len(text.split())
        claim = _keys(_claim(text))[0] or keys
        out.append(
            _Candidate(
                attributed,
                article.source,
                report,
                position,
                keys,
                facts,
                words,
                claim,
                points_back(text),
            )
        )
    return out


def _speakerless(text: str) -> bool:
    """A quotation that names no speaker (its attribution was in what the feed cut off)."""
    if text[:1] not in _OPENING_QUOTES or _SPEAKER_QUOTE.match(text):
        return False
    said = _SAY_WORD.search(text)
    return said is None or not _NAME.search(text[max(0, said.start() - 40) : said.end() + 40])


def _complete(text: str) -> str:
    """`text` as a whole statement, or "" when it is a fragment that cannot be mended.

    A sentence cut off mid-word or mid-phrase ("... the Port of...", by the feed or by
    compression) is cut back to its last clause boundary; one that only ends on a stray
    conjunction ("... acted lawfully and.") loses that word. A quotation cut off mid-way is
    dropped, since its speaker's point is lost.
    """
    match = _CUT_OFF.search(text)
    cut_off = match is not None
    if match is None:
        match = _DANGLING.search(text)
        if match is None:
            return text
    head = text[: match.start()].rstrip(" ,;:–—-")
    if sum(map(head.count, _DOUBLE_QUOTES)) % 2 or _SPEAKER_QUOTE.match(head):
        return ""
    if cut_off:
        words = len(head.split())
        head = cut_to(head, max(1, words - 1), force=False, phrases=False) or next(
            (head[: m.start()] for m in reversed(list(_PARTICIPLE.finditer(head)))), ""
        )
    return finish(head) if len(head.split()) >= 6 else ""


def _claim(text: str) -> str:
    """What a bullet reports, without who reported it: "Zelenskyy, who appeared alongside von
    der Leyen, said the funding ..." -> "the funding ..."; "He was fully vaccinated, his family
    said" -> "He was fully vaccinated". Two outlets tell one fact in different frames; the fact
    is what they share."""
    text = ATTRIBUTION_TAIL.sub("", NONRESTRICTIVE.sub("", text))
    match = _SAID_THAT.match(text)
    text = text[match.end() :] if match else text
    # who the subject is, told differently by each outlet: "Colin Powell, an accomplished
    # four-star general who ..., died" / "Former secretary of state ... Colin Powell has died"
    text = _APPOSITIVE.sub(r"\1 ", text)
    return _ROLE_LEAD.sub("", text)


def _keys(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Stemmed content words and numbers of `text`; and the numbers and names among them."""
    numbers = _numbers(text)
    names = content_tokens(" ".join(_NAME.findall(text)))
    return frozenset(content_tokens(text) | numbers), frozenset(numbers | names)


def _numbers(text: str) -> set[str]:
    """Numbers as digits, so "two" and "2", "1,500" and "1500" are one number ("#2")."""
    found = {"#" + n.rstrip(".,").replace(",", "") for n in _NUMBER.findall(text)}
    found.update("#" + _NUMBER_WORDS[w.lower()] for w in _NUMBER_WORD.findall(text))
    return found


def _outlets(articles: Sequence[Article]) -> dict[str, frozenset[str]]:
    """The keys each outlet's reports use (their titles and the start of their texts)."""
    found: dict[str, set[str]] = {}
    for article in articles:
        text = article.title + "\n" + article.text[:_SUPPORT_CHARS]
        found.setdefault(article.source, set()).update(content_tokens(text), _numbers(text))
    return {source: frozenset(keys) for source, keys in found.items()}


def _novelty(candidate: _Candidate, said: set[str]) -> float:
    """Share of what `candidate` says that is not said yet; numbers and names weigh double."""
    total = new = 0
    for key in candidate.keys:
        weight = 2 if key in candidate.facts else 1
        total += weight
        if key not in said:
            new += weight
    return new / total


def _resolved(candidate: _Candidate, chosen: Sequence[_Candidate]) -> bool:
    """A bullet whose subject points back is read right after the bullet before it in its
    report (bullets are shown report by report), or not at all."""
    return not candidate.leans or any(
        c.report == candidate.report and c.position == candidate.position - 1 for c in chosen
    )


def _gain(candidate: _Candidate, said: set[str]) -> float:
    """How much `candidate` adds to what is said: its new keys, numbers and names double."""
    return float(
        sum(2 if key in candidate.facts else 1 for key in candidate.keys if key not in said)
    )


def _overlap(a: _Candidate, b: _Candidate) -> float:
    """How much of the shorter of two bullets the other holds (the overlap coefficient), in
    all their words or in their claims alone (who said it left out of both), whichever is more:
    two outlets framing one fact differently share its claim, not their framing."""
    whole = len(a.keys & b.keys) / min(len(a.keys), len(b.keys))
    return max(whole, len(a.claim & b.claim) / min(len(a.claim), len(b.claim)))


def _select(pool: list[_Candidate], outlets: dict[str, frozenset[str]], k: int) -> list[_Candidate]:
    """The lead, then the best-ranked candidates that add a fact, within the word budget.

    A candidate ranks by its place in its report (the first bullets carry the news) plus the
    share of its words other outlets' texts use too (what they confirm belongs to the event).
    """
    if not pool:
        return []
    others = {
        source: frozenset().union(*(keys for name, keys in outlets.items() if name != source))
        for source in outlets
    }

    def rank(c: _Candidate) -> float:
        confirmed = len(c.keys & others[c.outlet]) / len(c.keys)
        return 1.0 / (1 + c.position) + confirmed

    # The lead is the best report's first whole bullet (or, failing that, any report's).
    lead = min(pool, key=lambda c: (c.report, c.position))
    chosen = [lead]
    said = set(lead.keys)
    total = lead.words
    rest = [c for c in pool if c is not lead]
    while rest and len(chosen) < k:
        # each pick weighs how much a candidate adds to what is already said, so a report's
        # second bullet about the lead's topic gives way to another outlet's new facts
        fits = [
            c
            for c in rest
            if (len(chosen) < MIN_STORY_BULLETS or total + c.words <= WORD_BUDGET)
            and _novelty(c, said) >= MIN_NOVELTY
            and not any(_overlap(c, other) >= MAX_OVERLAP for other in chosen)
            and _resolved(c, chosen)
        ]
        if not fits:
            break
        best = max(fits, key=lambda c: (rank(c) * _gain(c, said), -c.report, -c.position))
        rest.remove(best)
        chosen.append(best)
        said |= best.keys
        total += best.words
    while len(chosen) < min(k, MIN_STORY_BULLETS):
        # too few new facts for a briefing: what adds most, short of saying a bullet again
        said = set().union(*(c.keys for c in chosen))
        spare = [
            c
            for c in pool
            if c not in chosen
            and not any(_overlap(c, kept) >= MAX_OVERLAP for kept in chosen)
            and _resolved(c, chosen)
        ]
        if not spare:
            break
        chosen.append(max(spare, key=lambda c: (rank(c) * _gain(c, said), -c.report)))
    if len({c.outlet for c in chosen}) == 1 and len(chosen) > 1:
        # a story told by several outlets names at least two: the last pick gives its place to
        # what another outlet adds most (when they all tell the same facts, less than a new
        # fact: still not a bullet already chosen said again)
        said = set().union(*(c.keys for c in chosen[:-1]))
        other = [
            c
            for c in pool
            if c.outlet != lead.outlet
            and not any(_overlap(c, kept) >= MAX_OVERLAP for kept in chosen[:-1])
            and _resolved(c, chosen[:-1])
        ]
        if other:
            chosen[-1] = max(other, key=lambda c: (rank(c) * _gain(c, said), -c.report))
    return chosen
