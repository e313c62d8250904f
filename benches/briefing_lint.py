"""Count the defects a reader would notice in briefings, over every dev file, with examples.

A bullet should make sense read alone. Each rule below is a reader's check, written apart from
the summariser's own rules so that it can catch them failing:

- ``furniture``: page furniture, not news ("Sorry we are not currently accepting comments on
  this article.", "Scroll down for video", "Click here ...").
- ``bare_attribution``: who said it, without what was said ("Fanny Moizant, ..., said.", or a
  bullet that ends on the colon before the quote).
- ``glued_caption``: a photo caption run into the next sentence with no stop between them
  ("... than a colleague The cost of divorce can wreck retirement ...").
- ``unresolved_subject``: the subject is a pronoun or points back ("It ...", "They ...",
  "Others ...", "He ...", "The funding for these forces ...") and the bullet before it is not
  the sentence just before it in the article, so nothing says who or what it is.
- ``speakerless_quote``: a quotation whose speaker the bullet does not name.
- ``repeats_headline``: a bullet that says nothing its headline does not (at most one content
  word more).

Files: ``dev.jsonl``, ``summeval.jsonl``, the articles of ``headlines_dev.jsonl`` (title
dropped) and the story briefings of ``clusters_dev.jsonl`` (`bot.summarize.story`). Prints the
defects per 100 briefings for each file and kind, and a few examples of each.

Run: ``.venv/bin/python benches/briefing_lint.py [EXAMPLES]``
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.models import Briefing

KINDS = (
    "furniture",
    "bare_attribution",
    "glued_caption",
    "unresolved_subject",
    "speakerless_quote",
    "repeats_headline",
)

_FURNITURE = re.compile(
    r"""(?ix)
    accepting\s+comments | comments?\s+(?:are|is)\s+(?:closed|now\s+closed)
  | \bscroll\s+down\b | \bclick\s+here\b | \btap\s+here\b
  | \bshare\s+(?:this|on)\b | \bsign\s+up\s+(?:for|to)\s+(?:our|the)\s+newsletter
  | \bsubscribe\s+(?:to\s+our|now)\b
  | \bfollow\s+(?:us|@) | \bread\s+more\s*: | \bwatch\s+(?:the\s+)?video\b
  | \bvideo\s*:\s | \bpictured\s*:\s | \bphotos?\s*:\s | \bimage\s+copyright\b
  | \bgetty\s+images\b | \ball\s+rights\s+reserved\b | \bcopyright\s+\d{4}\b
  | \bdownload\s+(?:our|the)\s+app\b | ^advertisement\W*$ | \blast\s+updated\b
  | \bbest\s+videos\s+of\s+the\s+week\b | \bsend\s+us\s+your\b | \be-?mail\s+us\b
    """
)
_SAY = (
    r"(?:said|says|added|adds|told|explained|noted|stated|insisted|warned|claimed|admitted|"
    r"wrote|announced|confirmed|argued|replied|declared|revealed|stressed|continued|tweeted|"
    r"explains|explained|"
    r"posted|put\s+on\s+Twitter)"
)
# "Name, role of Org, said." / "A spokesman for the firm said." / "He added:" -- nothing but
# the speaker before the speech verb.
_SPEAKER_ONLY = re.compile(
    r"^(?:(?:[A-Z][\w'’.&-]*|[A-Z]{2,}|of|the|a|an|and|for|at|in|de|von|van|al|'s|"
    r"he|she|they|we|i|it|spokes(?:wo)?man|spokesperson|official|officials|source|sources|"
    r"statement|police|representative|member|director|head|chief|executive)(?:,?\s+)){1,16}"
    + _SAY
    + r"(?:\s+(?:on|in|at|to|last|this)\s+[\w\s]{1,30})?\s*[.:]?$"
)
# A caption glued to the next sentence: a word ends, and a capitalised sentence opener follows
# with no stop between them. Names that begin with "The" follow prepositions and naming verbs.
_GLUED = re.compile(
    r"(?<![A-Z])\b([a-z][\w'’]*|\d[\d,.%]*|[a-z]+\)|[A-Z][a-z]+)\s+"
    r"(The|A|An|He|She|It|They|His|Her|Their|This|These|Those)\s+"
    r"(?=[a-z])"
)
_NAMING_WORDS = frozenset(
    """
    of in at on to from by for with into called named titled like as and or than star read
    told via about over under against behind including watch watched see saw joined visit
    visited play played won win beat leave left reach reached
    """.split()
)
# "Serie A", "Plan B", "Group A": a capital letter that is part of a name.
_LETTERED = frozenset(
    """
    serie plan grade type class group section division formula league vitamin category team
    channel block platform terminal schedule exhibit appendix level wing page route company
    """.split()
)
# "It is understood that ...", "It's well known that ...": "it" stands for what follows.
_DUMMY_IT = re.compile(
    r"^It(?:'s|’s|\s+is|\s+was|\s+has\s+been|\s+will\s+be|\s+would\s+be|\s+seems|"
    r"\s+appears|\s+remains|\s+(?:also\s+)?turns\s+out|\s+emerged)(?:\s+[\w'’-]+){0,3}?\s+"
    r"(?:that|whether|to|how|why|if|when|what)\b"
)
_POINTING = re.compile(
    r"^(?:It|They|Them|Others|These|Those|He|She|His|Her|Its|Their|Both|Such)\b"
    r"|^This\s+(?!(?:year|week|month|morning|afternoon|evening|weekend|season|summer|"
    r"winter|spring|autumn|time)\b)"
    r"|^(?:\S+\s+){0,4}(?:these|those)\b",
)
_QUOTE_OPEN = "\"“‘'"
# '"Roots," the epic miniseries ...': a quoted title or term opens the sentence, not a quote.
_QUOTED_NAME = re.compile(r"^['\"“‘][^'\"“”‘’]{1,40}?[,.!?]?['\"”’](?:\s+[a-z(]|,)")
_SPEAKER_PREFIX = re.compile(r"^[^\s:'\"“]{2,}(?:\s[^\s:'\"“]+){0,3}:\s")
_SAY_ANY = re.compile(r"\b" + _SAY + r"\b|\b(?:says|say|according\s+to)\b")
_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")
_FUNCTION = frozenset(
    """
    a an the of to in on at for by with from and or but nor is are was were be been being has
    have had do does did that this these those it its as he she they them his her their we our
    you your i me my who whom which what when where how than then there so not no also about
    into over after before said says say told will would can could may might should must
    """.split()
)


@dataclass(frozen=True)
class Defect:
    """One defect: its kind, the briefing's headline and the bullet at fault."""

    kind: str
    headline: str
    bullet: str


def _content(text: str) -> set[str]:
    words = (w.strip("'’-") for w in _WORD.findall(text.lower().replace(",", "")))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words} - _FUNCTION


def _flat(text: str) -> str:
    return " ".join(text.split())


def is_furniture(bullet: str) -> bool:
    """Page furniture rather than news."""
    return _FURNITURE.search(bullet) is not None


def is_bare_attribution(bullet: str) -> bool:
    """Only who spoke, not what they said."""
    text = bullet.strip()
    return text.endswith(":") or _SPEAKER_ONLY.match(text) is not None


def has_glued_caption(bullet: str) -> bool:
    """A caption run into the next sentence without a stop."""
    for match in _GLUED.finditer(bullet):
        before = match.group(1).lower()
        if before in _NAMING_WORDS:
            continue
        if match.group(2) == "A" and before in _LETTERED:
            continue
        return True
    return False


def points_back(bullet: str) -> bool:
    """The bullet's subject is a pronoun or a phrase pointing to an earlier sentence."""
    return _POINTING.search(bullet) is not None and _DUMMY_IT.match(bullet) is None


def is_speakerless_quote(bullet: str, source: str, texts: Sequence[str]) -> bool:
    """A quotation that does not say who is speaking.

    A bullet that opens with a quote mark, or whose sentence sits inside a quotation opened
    earlier in its paragraph, is a quotation; it names its speaker with "Name: '...'" or a
    speech verb ("..., he said" counts only with a name: "he" says nothing alone).
    """
    text = bullet.strip()
    if _SPEAKER_PREFIX.match(text):
        return False
    quoted = text[:1] in _QUOTE_OPEN and not _QUOTED_NAME.match(text)
    if not quoted:
        quoted = _inside_quote(source, texts)
    if not quoted:
        return False
    said = _SAY_ANY.search(text)
    if said is None:
        return True
    rest = text[said.start() - 40 if said.start() > 40 else 0 : said.end() + 40]
    return re.search(r"(?<![.!?]\s)\b[A-Z][a-z'’-]+", rest[1:]) is None


def _inside_quote(source: str, texts: Sequence[str]) -> bool:
    """Whether `source` continues a quotation opened before it in its paragraph."""
    flat = _flat(source)
    for text in texts:
        for paragraph in re.split(r"\n\s*\n", text):
            para = _flat(paragraph)
            at = para.find(flat)
            if at < 0:
                continue
            before = para[:at]
            straight = before.count('"')
            return straight % 2 == 1 or before.count("“") > before.count("”")
    return False


def _adjacent(previous: str, current: str, texts: Sequence[str]) -> bool:
    """Whether `current` follows `previous` directly in one of `texts`."""
    prev, cur = _flat(previous), _flat(current)
    for text in texts:
        flat = _flat(text)
        at = flat.find(prev)
        while at >= 0:
            after = flat[at + len(prev) :].lstrip(" \"'”’")
            if after.startswith(cur) or after.startswith(cur[:40]):
                return True
            at = flat.find(prev, at + 1)
    return False


def repeats(headline: str, bullet: str) -> bool:
    """The bullet says at most one content word its headline does not."""
    head = _content(headline)
    return bool(head) and len(_content(bullet) - head) <= 1


def lint(briefing: Briefing, texts: Sequence[str]) -> list[Defect]:
    """Every defect of one briefing; `texts` are the article(s) it was built from."""
    found: list[Defect] = []
    headline = briefing.headline

    def add(kind: str, bullet: str) -> None:
        found.append(Defect(kind, headline, bullet))

    for i, bullet in enumerate(briefing.bullets):
        text = bullet.text
        source = bullet.sentences[0] if bullet.sentences else text
        if is_furniture(text):
            add("furniture", text)
        if is_bare_attribution(text):
            add("bare_attribution", text)
        if has_glued_caption(text):
            add("glued_caption", text)
        if points_back(text):
            previous = briefing.bullets[i - 1] if i else None
            prev_source = previous.sentences[-1] if previous and previous.sentences else None
            if prev_source is None or not _adjacent(prev_source, source, texts):
                add("unresolved_subject", text)
        if is_speakerless_quote(text, source, texts):
            add("speakerless_quote", text)
        if headline and repeats(headline, text):
            add("repeats_headline", text)
    return found


def _dev_briefings() -> Iterable[tuple[str, Briefing, list[str]]]:
    from benches.evaluation import load_dev, load_headlines, load_summeval
    from benches.stories_eval import brief, load_events, reports, story_briefing
    from bot.summarize import summarize

    for row in load_dev():
        yield "dev.jsonl", summarize(row.article), [row.article]
    for row in load_summeval():
        yield "summeval.jsonl", summarize(row.article), [row.article]
    for h in load_headlines():
        yield "headlines_dev.jsonl", summarize(h.article), [h.article]
    for event in load_events():
        ordered = reports(event)
        for article in ordered:
            brief(article)
        yield "clusters_dev.jsonl (stories)", story_briefing(event), [a.text for a in ordered]


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    counts: dict[str, Counter[str]] = {}
    briefings: Counter[str] = Counter()
    shown: dict[str, list[Defect]] = {kind: [] for kind in KINDS}
    for name, briefing, texts in _dev_briefings():
        briefings[name] += 1
        tally = counts.setdefault(name, Counter())
        for defect in lint(briefing, texts):
            tally[defect.kind] += 1
            if len(shown[defect.kind]) < examples:
                shown[defect.kind].append(defect)
    print("defects per 100 briefings (goal: 0 of each kind)")
    print(f"{'file':<30} {'n':>5} " + " ".join(f"{k[:12]:>12}" for k in KINDS))
    for name, n in briefings.items():
        row = " ".join(f"{100 * counts[name][k] / n:12.1f}" for k in KINDS)
        print(f"{name:<30} {n:5d} {row}")
    for kind in KINDS:
        if shown[kind]:
            print(f"\n{kind}:")
            for defect in shown[kind]:
                print(f"  [{defect.headline[:60]}]\n    - {defect.bullet}")


if __name__ == "__main__":
    main()
