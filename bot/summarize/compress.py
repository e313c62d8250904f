"""Sentence compression for bullets and headlines: drop what carries little, cut at clauses.

Shared by the one-article summariser (`bot.summarize.extractive`), headlines
(`bot.summarize.headline`) and story briefings (`bot.summarize.story`). Every rule only
removes words, so a compressed sentence can still be traced to the article.
"""

from __future__ import annotations

import re

__all__ = ["compress", "cut_to", "finish", "word_count"]

SAY = (
    r"(?:said|says|added|adds|noted|notes|stated|states|told|tells|explained|explains|"
    r"insisted|insists|warned|warns|claimed|claims|admitted|admits|wrote|writes|"
    r"announced|announces|confirmed|confirms|argued|argues|continued|replied|declared|"
    r"revealed|reveals|recalled|stressed|emphasised|emphasized|believes|added)"
)
WHEN = (
    r"(?:\s+(?:on|last|this|late|early)?\s*(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|week|month|night|morning|afternoon|evening|year)|\s+yesterday|\s+today|"
    r"\s+in\s+a\s+(?:statement|interview|post|tweet|press\s+release|letter)|"
    r"\s+(?:at|during)\s+(?:a|the)\s+[\w\s-]{1,25}?(?:conference|briefing|hearing|meeting))*"
)
NAME = r"(?:[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|von|van|der|al))*)"
_SUBJECT = (
    r"(?:he|she|they|it|we|police|officials|authorities|experts|researchers|witnesses|"
    r"(?:the|a|an|his|her|their)\s+[\w'’-]+(?:\s+[\w'’-]+){0,4}?|" + NAME + r")"
)
# ", he said." / "' Lurie told WKYC." / ", police said in a report." / ", according to X." at
# the very end of a sentence; the tail must follow a comma or a closing quote.
_TOLD_WHOM = r"(?:\s+(?:the\s+)?[A-Z][\w.&'’-]*(?:\s+[A-Z0-9][\w.&'’-]*){0,3})?"
_ON_WHAT = (
    r"(?:\s+(?:on|in|to|via)\s+(?:a\s+|an\s+|the\s+|his\s+|her\s+|their\s+)?"
    r"[\w'’-]+(?:\s+[\w'’-]+)?)?"
)
ATTRIBUTION_TAIL = re.compile(
    r"(?:,|(?<=[\"”’'])|(?<=[\"”’'],))\s*(?:(?:reportedly\s+)?\b"
    + _SUBJECT
    + r"\s+(?:has\s+|had\s+|have\s+|also\s+|reportedly\s+)?"
    + SAY
    + _TOLD_WHOM
    + _ON_WHAT
    + WHEN
    + r"|"
    + SAY
    + r"\s+"
    + _SUBJECT
    + WHEN
    + r"|according\s+to\s+[^,.;\"“”]{2,60})\s*(?=[.!?]?[\"”’']?\s*$)"
)
PARENTHETICAL = re.compile(r"\s*\((?![^()]*\d{4}\))[^()]{1,80}\)")
LEADING_CONNECTIVE = re.compile(
    r"^(?:however|meanwhile|moreover|furthermore|in\s+addition|additionally|also|"
    r"at\s+the\s+same\s+time|instead|still|but|and|so|now|then)\s*,?\s+(?=\S)",
    re.IGNORECASE,
)
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
    # "... must take into account the line of contact and that he will ...": a second clause
    r"|\s+(?=and\s+(?:that|whether)\s)"
)
_PREPOSITION_CUT = re.compile(
    r"\s+(?=(?:at|in|on|during|for|by|from|over|near|into|amid|outside|inside|across|"
    r"throughout|via)\s)"
)
# A fronted adverbial clause ("After United beat Villa, Mata said ...") must not be what is
# kept when the sentence is cut; it is dropped instead and the main clause kept.
FRONTED = re.compile(
    r"^(?:after|before|while|whilst|when|although|though|as|since|because|despite|following|"
    r"amid|if|once|until|with|in|on|at|during|speaking|having|earlier|later)\b[^,]{3,120}?,\s+"
    r"(?=[A-Z\"“‘'])",
    re.IGNORECASE,
)
# A role in front of a full name ("US President Donald Trump", "Kremlin leader Vladimir Putin"):
# the name alone says who it is.
_ROLE_MODIFIERS = (
    "former|then|prime|foreign|deputy|vice|finance|defence|defense|interior|home|health|"
    "justice|education|culture|trade|economy|opposition|party|team|club|ex"
)
# The whole role goes or none of it: a match may not start inside it ("former prime minister
# Tony Blair" must not lose only "minister").
ROLE_BEFORE_NAME = re.compile(
    "".join(f"(?<!{m} )" for m in [*_ROLE_MODIFIERS.split("|"), "the", "The"])
    + r"\b(?:[Tt]he\s+)?(?:(?:[A-Z][A-Za-z.]*|"
    + _ROLE_MODIFIERS
    + r")\s+){0,3}(?:President|Prime\s+Minister|Chancellor|"
    r"Secretary|Minister|Governor|Senator|Mayor|leader|president|minister|chief|spokesman|"
    r"spokeswoman|chairman|chairwoman)\s+(?=[A-Z][\w'’-]+\s+(?:[a-z]{2,3}\s+)*[A-Z][\w'’-]+)"
)
NONRESTRICTIVE = re.compile(r",\s+(?:who|which|whose|where)\s[^,;]{3,120}?,(?=\s)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
TRAILING_JUNK = re.compile(r"[\s,;:–—-]+$")
# A head that cannot end there: a verb or adverb still waiting for its complement ("... last
# summer was always" before "on the cards").
_NEEDS_MORE = re.compile(
    r"\b(?:is|was|are|were|be|been|being|am|has|had|have|will|would|can|could|may|might|must|"
    r"should|always|never|still|also|not|just|only|even|very|so|too|quite|put|get|got|take|took|"
    r"come|came|go|went)$|ly$",
    re.IGNORECASE,
)
# "... decided to let him leave, and" before "following the World Cup, ...": a conjunction
# left at the end of a cut joins nothing.
_DANGLING_AND = re.compile(r"[\s,;]+(?:and|or|but|nor|yet|so)$", re.IGNORECASE)


def word_count(text: str) -> int:
    return len(text.split())


def finish(text: str) -> str:
    """Tidy a compressed sentence: no trailing comma or dash, a final full stop."""
    text = TRAILING_JUNK.sub("", text.strip())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    if "  " in text:
        text = " ".join(text.split())
    if text and text[-1] not in ".!?\"'”’…":
        text += "."
    return text[:1].upper() + text[1:] if text else text


def cut_to(text: str, limit: int, *, force: bool = True, phrases: bool = True) -> str:
    """Cut `text` to at most `limit` words, preferring the last clause boundary that fits.

    With `phrases=False` only clause boundaries are used; with `force=False`, returns "" rather
    than cut mid-phrase.
    """
    if word_count(text) <= limit:
        return text
    best = None
    for match in _CLAUSE_CUT.finditer(text):
        head = text[: match.start()]
        if word_count(head) > limit:
            break
        if word_count(head) >= max(6, limit // 3):
            best = head
    if best is not None or not phrases:
        return _DANGLING_AND.sub("", best) if best else ""
    # No clause boundary fits: drop a trailing prepositional phrase ("... were discussed by X
    # at Y" -> "... were discussed"), then the last comma, and only then cut at a word.
    for match in _PREPOSITION_CUT.finditer(text):
        head = text[: match.start()]
        if word_count(head) > limit:
            break
        if word_count(head) >= (limit * 3) // 5 and not _NEEDS_MORE.search(head):
            best = head
    if best is not None:
        return best
    if not force:
        return ""
    words = text.split()
    head = " ".join(words[:limit])
    comma = head.rfind(",")
    if comma > 0 and word_count(head[:comma]) >= limit // 2:
        return head[:comma]
    return " ".join(words[: limit - 1]) + " …"


def compress(text: str, limit: int) -> str:
    """Shorten a sentence by dropping what carries little, then cut at a clause if needed.

    A sentence that fits is kept whole: on the dev set even attribution tails ("police said")
    tend to be in the reference bullets, so they go only when the sentence is too long.
    """
    text = LEADING_CONNECTIVE.sub("", text)
    if word_count(text) > limit:
        text = ATTRIBUTION_TAIL.sub("", text)
    if word_count(text) > limit:
        text = PARENTHETICAL.sub("", text)
    if word_count(text) > limit:
        text = NONRESTRICTIVE.sub("", text)
    if word_count(text) > limit:
        fronted = FRONTED.match(text)
        if fronted and word_count(text) - word_count(fronted.group(0)) >= 8:
            text = text[fronted.end() :]
    return finish(cut_to(text, limit))
