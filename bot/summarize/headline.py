"""Headlines: a title cleaned of site furniture, or one written from the lead of an untitled text.

A titled article keeps its title, without what the site adds around it (" - BBC News",
" | Reuters", "World news | The Guardian") and without an update marker ("UPDATED: ..."), which
is a flag (`split_update_marker`), not text.

An untitled article (a local file, pasted text) gets its lead sentence compressed into a
headline: a complete clause that names its subject, at most `MAX_HEADLINE_WORDS` words, never
cut mid-phrase. Only deletions: a fronted clause, the attribution ("..., police said",
"X has said that ..."), parentheses, appositives (", mother of actor Sylvester,"), a role before
a name, time adverbs ("on Friday", "last year"), and then everything after the first clause
boundary past the main verb; a phrase at the end goes only while the headline is too long.
"The firm" and its like become the name the article gives.

Measured on 1,031 BBC articles with their real headlines (``benches/headline_quality.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from bot.summarize.compress import (
    FRONTED,
    LEADING_CONNECTIVE,
    NAME,
    NONRESTRICTIVE,
    PARENTHETICAL,
    ROLE_BEFORE_NAME,
    TRAILING_JUNK,
    cut_to,
    finish,
    word_count,
)

__all__ = [
    "MAX_HEADLINE_WORDS",
    "clean_title",
    "derive_headline",
    "headline_from_title",
    "split_update_marker",
]

MAX_HEADLINE_WORDS = 12
"""Most words of a headline written from the text (real ones have about 5 to 10)."""
MAX_TITLE_WORDS = 15
"""Most words of a headline taken from a title: a title is kept whole up to this."""

# "UPDATED: ...", "Update 2: ...", "UPDATE - ...", "[Updated] ...", "(Update) ..."; a dash needs
# spaces around it so "Update-ready phones" keeps its title
_MARKER = re.compile(
    r"^\s*(?:[\[(]\s*updated?(?:\s+\d+)?\s*[\])]\s*[:|]?"
    r"|updated?(?:\s+\d+)?\s*:"
    r"|updated?(?:\s+\d+)?\s+[-–—|](?=\s))\s*",
    re.IGNORECASE,
)


def split_update_marker(title: str) -> tuple[str, bool]:
    """A title without a leading update marker, and whether it had one.

    The marker is the source's signal that the article changed, not part of its title: the
    clean title is stored, and the story is marked as an update.

    >>> split_update_marker("UPDATED: Output rose 15 percent")
    ('Output rose 15 percent', True)
    """
    match = _MARKER.match(title)
    if match is None:
        return title, False
    rest = title[match.end() :].strip()
    return (rest, True) if rest else (title, False)


# Separators sites put between a headline and their name or section.
_SITE_SEPARATOR = re.compile(r"\s+(?:\||[-–—]|·|::|»)\s+")
# A segment that names an outlet: a known word of outlet names, or a web address.
_OUTLET = re.compile(
    r"(?i)\b(?:news|times|post|guardian|reuters|bbc|cnn|ap|afp|journal|tribune|herald|"
    r"telegraph|independent|daily|mail|online|magazine|press|media|bloomberg|politico|"
    r"gazette|observer|express|mirror|sun|standard|chronicle|economist|wire|today|npr|"
    r"abc|cbs|nbc|fox|sky|itv|al\s+jazeera|pravda|euronews|dw|france\s*24|le\s+monde|"
    r"el\s+pa[ií]s|spiegel|zeit|tagesschau|corriere|repubblica|wyborcza|tass|ria|"
    r"interfax|ukrinform|kyiv|radio|tv|television|network|channel)\b"
    r"|\.(?:com|org|net|co\.uk|de|fr|es|it|pl|ua|ru|eu)\b"
)
# Section names sites append ("World news", "Opinion", "Business").
_SECTION = re.compile(
    r"(?i)^(?:(?:world|uk|us|europe|politics|business|sport|sports|tech|technology|science|"
    r"health|opinion|comment|culture|entertainment|lifestyle|travel|money|markets|economy|"
    r"environment|education|local|national|international|breaking|latest|live)\s*){1,3}"
    r"(?:news)?$"
)


def clean_title(title: str, source: str | None = None) -> tuple[str, bool]:
    """A title without site furniture around it, and whether it carried an update marker.

    >>> clean_title("UPDATED: Ad sales boost Time Warner profit - BBC News")
    ('Ad sales boost Time Warner profit', True)
    >>> clean_title("Fed holds rates | World news | The Guardian")
    ('Fed holds rates', False)

    Args:
        title: The title as the feed or page gives it.
        source: The outlet's name, when known: a segment equal to it always goes.

    Returns:
        The cleaned title (the original when cleaning would leave too little) and the flag.
    """
    text, marked = split_update_marker(" ".join(title.split()))
    parts = _SITE_SEPARATOR.split(text)
    outlet = (source or "").strip().lower()
    # Furniture sits at the ends: trailing segments first ("Title - Section - Site"), then a
    # leading one ("BBC News - Title"); the headline itself keeps at least three words.
    while len(parts) > 1 and _is_furniture(parts[-1], outlet):
        parts.pop()
    if len(parts) > 1 and _is_furniture(parts[0], outlet):
        parts.pop(0)
    cleaned = " - ".join(parts) if len(parts) > 1 else parts[0]
    if word_count(cleaned) < 2:
        return text, marked
    return cleaned, marked


def _is_furniture(segment: str, outlet: str) -> bool:
    bare = segment.strip()
    lower = bare.lower()
    if outlet and (lower == outlet or lower in {f"the {outlet}", outlet.removeprefix("the ")}):
        return True
    if word_count(bare) > 5:
        return False
    return bool(_SECTION.match(bare) or _OUTLET.search(bare))


def headline_from_title(title: str) -> str:
    """The title as a headline: cleaned, and shortened at a phrase boundary when too long."""
    source, _ = clean_title(title)
    if word_count(source) <= MAX_TITLE_WORDS:
        return source
    # Long titles usually carry a kicker after a dash, colon or pipe: keep the main part.
    for sep in (" | ", " - ", " – ", " — ", ": "):
        head = source.split(sep)[0].strip()
        if 3 <= word_count(head) <= MAX_TITLE_WORDS:
            return head
    cut = cut_to(source, MAX_TITLE_WORDS, force=False)
    if not cut:
        cut = _trim_words(source.split()[:MAX_TITLE_WORDS])
    return TRAILING_JUNK.sub("", cut).rstrip(".")


# --- headlines written from the text --------------------------------------------------------

_VERB = (
    r"(?:said|says|say|told|tells|added|adds|warned|warns|claimed|claims|reported|reports|"
    r"suggested|suggests|found|finds|revealed|reveals|announced|announces|confirmed|confirms|"
    r"insisted|insists|believes|believe|argued|argues|predicted|predicts|admitted|admits|"
    r"stated|states|urged|urges|indicated|indicates|shows|showed|shown|concluded|concludes|"
    r"estimated|estimates|disclosed|learned|understands|noted|notes|explained|explains|"
    r"report|warn|claim|suggest|show|reveal|insist|argue|predict|add)"
)
# ", a survey has found." / ", Peter Mandelson has said." / ", say researchers." /
# ", according to a TUC report." / ", Jack Straw told the Commons on Tuesday." at the end.
_TAIL = re.compile(
    r",\s+(?:according\s+to\s+[^,;]{2,80}"
    r"|(?:[\w'’.&-]+\s+){1,8}?(?:has\s+|have\s+|had\s+)?(?:also\s+)?"
    + _VERB
    + r"(?:\s+[\w'’.&-]+){0,6}"
    # up to eight words after the verb, written so that a word cannot be split between two
    # repeats ("(?:[\w...]+\s*){1,8}" took tens of milliseconds to fail on a long tail)
    r"|" + _VERB + r"\s+[\w'’.&-]+(?:\s+[\w'’.&-]+){0,7}\s*)\s*[.!]?[\"”’']?\s*$"
)
# "X has said (that) he ..." / "X says voters ..." at the start.
_LEAD_SAY = re.compile(
    r"^(?P<who>(?:[\w'’.&-]+\s+){0,7}?" + NAME + r")\s+(?:has\s+|have\s+|had\s+)?(?:also\s+)?"
    r"(?:said|says|claimed|claims|warned|warns|insisted|insists|believes|admitted|admits|"
    r"revealed|reveals|told\s+(?:[\w'’.-]+\s+){1,4}?that\s+)\s*(?:that\s+)?"
    r"(?P<pronoun>(?:he|she|it|they)\s+(?=\w))?"
)
# "Jackie Stallone, mother of actor Sylvester, has ..." -> "Jackie Stallone has ..."; and
# "The world's largest retailer, Wal-Mart, has ..." -> "Wal-Mart has ...".
_APPOSITIVE = re.compile(r"^(?P<head>[^,]{2,60}?),\s+(?P<inner>[^,]{2,120}?),\s+(?=[a-z])")
_ALL_NAME = re.compile(r"^(?:the\s+)?[A-Z][\w'’.&-]*(?:\s+(?:[A-Z][\w'’.&-]*|of|de|&))*$")
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)"
)
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TIME = re.compile(
    r"\s+(?:"
    r"(?:on|by|from|until|since|late\s+on|early\s+on)?\s*(?:(?:last|this|next)\s+)?"
    + _DAY
    + r"(?:\s+(?:night|morning|afternoon|evening))?(?:,?\s+\d{1,2}\s+"
    + _MONTH
    + r")?"
    r"|(?:earlier|later)\s+(?:this|last)\s+(?:week|month|year|season)"
    r"|(?:at|during|over|for|in)?\s*(?:last|this|next)\s+(?:week|weekend|month|year|season|"
    r"summer|winter|spring|autumn)(?:'s|’s)?"
    r"|(?:in|on|by|from|since|until)\s+(?:late\s+|early\s+|mid-)?(?:\d{1,2}\s+)?"
    + _MONTH
    + r"(?:\s+\d{1,2})?(?:,?\s+\d{4})?"
    r"|(?:in|by|since)\s+(?:late\s+|early\s+)?(?:19|20)\d\d"
    r"|yesterday|today|tonight|tomorrow|overnight|now|just|already|also|still|recently|"
    r"currently|reportedly|finally|soon|again"
    r")(?=[\s,.;:]|$)"
)
# Clause boundaries after which a headline stops: a subordinate or coordinate clause, a
# participle clause, a purpose or condition. The head before it must hold the main verb.
_HEAD_CUT = re.compile(
    r"\s*(?:;|:(?=\s)|\s[-–—]{1,2}\s|,\s+|\s+(?=(?:but|while|whilst|because|although|though|"
    r"amid|despite|when|until|if|unless|whereas|prompting|leaving|saying|in\s+a\s+bid|"
    r"as\s+part|in\s+order|thanks\s+to|due\s+to|ahead\s+of|in\s+the\s+hope|"
    r"in\s+response|who|which|whose)\b))"
)
# Where a phrase starts: a preposition, or a participle after a noun ("all cars [equipped
# with ...]", "the Super Bowl [singing a song ...]"), or a restrictive relative clause.
_PHRASE_CUT = re.compile(
    r"\s+(?=(at|in|on|during|for|by|from|over|near|into|amid|outside|inside|across|"
    r"throughout|via|after|against|under|between|among|with|to|following|before|as|of|"
    r"about|around|since|until|without|within|through|towards?|who|which|whose|where|"
    r"[a-z]+ing|[a-z]{3,}ed)\s)"
)
# Words that mean nothing without their "of ..." ("what kind [of ...]", "one [of ...]").
_BEFORE_OF = frozenset(
    """
    kind kinds number one some part lot lots type sort most many all none each both half rest
    series couple range variety group pair set total amount majority front top bottom end
    side out because instead ahead
    """.split()
)
# Nouns that say nothing without what they are about: "X does not have detailed information
# [about what was discussed]" is a fragment, not a headline.
_BEFORE_ABOUT = frozenset(
    """
    information details detail idea knowledge clue clues news word questions question evidence
    data doubts concerns fears talks decision details views opinion thoughts reports report
    """.split()
)
_FINAL_STOP = re.compile(r"\.([\"”’']?)$")
_ABOUT = frozenset({"about", "on", "of", "over", "regarding", "concerning"})
# Words after which "to" belongs to the verb ("has agreed to pay", "is to buy", "plans to").
_BEFORE_TO = frozenset(
    """
    plans plan wants want needs need hopes hope set due able likely going trying about
    expected ready bid aims aim seeks seek try tries tried agree agrees refuses refused
    decided decides vowed vows promised promises threatened threatens moved moves
    """.split()
)
_AUX = frozenset(
    """
    is are was were be been being am has have had do does did will would can could may might
    must shall should won't can't isn't aren't wasn't weren't hasn't haven't didn't doesn't
    """.split()
)
_IRREGULAR = frozenset(
    """
    won lost hit cut set put made took gave got went came rose fell grew saw told left met paid
    sold held led beat ran spent bought brought thought found became began kept struck shut
    quit won't sank stood fought drew threw wrote stole broke chose bid hung spoke swept split
    sought wins loses hits cuts sets puts makes takes gives gets goes comes rises falls grows
    sees tells leaves meets pays sells holds leads beats runs spends buys brings finds becomes
    begins keeps faces plans wants needs calls backs urges eyes joins seeks targets vows
    launches unveils names signs rejects denies attacks blocks boosts slams warns says
    """.split()
)
# A subject that only points back: the headline would not say who or what.
_POINTING = frozenset(
    "he she it they we i you this these those his her its their our such others both".split()
)
_RELATIVE = frozenset({"who", "which", "that", "whose", "whom"})
# Openers that point back to something named earlier: "The firm", "The company", ...
_GENERIC_SUBJECT = re.compile(
    r"^The\s+(firm|company|group|bank|carrier|airline|club|side|team|retailer|insurer|"
    r"giant|maker|manufacturer|operator|broadcaster|network|agency|organisation|"
    r"organization|party|band|singer|actor|actress|star|player|minister|chancellor|"
    r"president|country|government|council|union|board|watchdog|regulator|"
    r"chain|business|brand|studio|publisher|site|service|charity)\b"
)
_FUNCTION_END = frozenset(
    """
    a an the of to in on at for by with from and or but nor as than that which who whose
    whom its their his her our my your this these those is are was were be been being has
    have had do does did will would can could may might must should shall not no very more
    most into onto over under about after before between during while if so such there
    up out off down being behind beyond within without against toward towards per via
    """.split()
)


def derive_headline(sentences: Sequence[str], lead: int = 0) -> str:
    """A headline of at most `MAX_HEADLINE_WORDS` words for an untitled text.

    Args:
        sentences: The text's sentences in order, cleaned of furniture.
        lead: The index of the sentence that states the story (usually the first).

    Returns:
        A complete clause with its subject, compressed from `sentences[lead]`, or from the
        next sentence that gives one; "" when no sentence does.
    """
    if not sentences:
        return ""
    # The lead states the story; a later sentence is tried only when it gives no headline.
    order = [lead, *(i for i in range(len(sentences)) if i != lead)][:3]
    for i in order:
        headline = compress_headline(sentences[i])
        if headline:
            return _resolve(headline, sentences[: i + 1])
    return ""


def compress_headline(sentence: str) -> str:
    """Compress one sentence into a headline, or "" when it yields no whole clause."""
    text = sentence.strip()
    if word_count(text) < 6 or text.rstrip("\"”’' ").endswith("?") or text[:1] in "\"“'‘":
        return ""
    text = LEADING_CONNECTIVE.sub("", text)
    fronted = FRONTED.match(text)
    if fronted and word_count(text) - word_count(fronted.group(0)) >= 5:
        text = text[fronted.end() :]
    text = _TAIL.sub("", text)
    text = _lead_say(text)
    text = PARENTHETICAL.sub("", text)
    text = _appositive(text)
    text = NONRESTRICTIVE.sub("", text)
    text = ROLE_BEFORE_NAME.sub("", text) if ROLE_BEFORE_NAME.match(text) else text
    text = _TIME.sub("", text)
    text = " ".join(text.split()).rstrip(" .!;:,")
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    head = _first_clause(text)
    if head is None:
        return ""
    if word_count(head) > MAX_HEADLINE_WORDS:
        head = _shorten(head)
    if not head or word_count(head) < 3 or not _has_main_verb(head):
        return ""
    if _words(head)[0] in _POINTING:
        return ""
    head = _headlinese(head)
    # no full stop, not even inside a closing quote ('... discussed."' -> '... discussed"')
    head = _FINAL_STOP.sub(r"\1", finish(head))
    return head if _balanced(head) and word_count(head) >= 3 else ""


# Headline register, by deletion only: no articles ("US dollar hits record low"), "is to" as
# "to" ("BMW to recall cars"), and a perfect or passive without its auxiliary where the
# participle reads as a past tense ("Shell signed deal", "Hoddle unveiled as manager").
_ARTICLE = re.compile(r"(?:(?<=\s)|^)(?:the|a|an|The(?=\s+[a-z]))\s+(?=\S)")
_IS_TO = re.compile(r"\b(?:is|are)\s+(?=to\s)")
_HAS_BEEN = re.compile(
    r"(?<!not )(?<!to )(?<!n't )(?<!will )(?<!would )(?<!could )(?<!may )(?<!might )"
    r"(?<!must )(?<!should )(?<!also )\b(?:has|have)\s+(?:been\s+)?(?=[a-z]+ed\b)"
)


def _headlinese(text: str) -> str:
    text = _HAS_BEEN.sub("", _IS_TO.sub("", _ARTICLE.sub("", text)))
    return text[:1].upper() + text[1:]


def _lead_say(text: str) -> str:
    """ "X has said that he will ..." -> "X will ..."; "X says voters ..." -> "X: Voters ..."."""
    match = _LEAD_SAY.match(text)
    if match is None:
        return text
    rest = text[match.end() :]
    if word_count(rest) < 3:
        return text
    who = match.group("who")
    if match.group("pronoun"):
        return f"{who} {rest}"
    surname = who.split()[-1]
    return f"{surname}: {rest[:1].upper()}{rest[1:]}"


def _appositive(text: str) -> str:
    match = _APPOSITIVE.match(text)
    if match is None:
        return text
    head, inner = match.group("head"), match.group("inner")
    if _ALL_NAME.match(inner) and not _ALL_NAME.match(head):
        return f"{inner} {text[match.end() :]}"
    if head[:1].isupper() and _ALL_NAME.match(head.split(" ", 1)[-1] if " " in head else head):
        return f"{head} {text[match.end() :]}"
    return text


def _first_clause(text: str) -> str | None:
    """`text` up to the first clause boundary after its main verb (whole if it has none)."""
    for match in _HEAD_CUT.finditer(text):
        head = text[: match.start()]
        if (
            word_count(head) >= 3
            and _has_main_verb(head)
            and _ends_whole(head, before_phrase=not text.startswith(",", match.start()))
        ):
            return head
    return text if _has_main_verb(text) else None


def _shorten(text: str) -> str:
    """The longest head of `text` that fits, cut before a phrase and still holding the main
    verb; "" when there is none."""
    best = ""
    for match in _PHRASE_CUT.finditer(text):
        head = text[: match.start()]
        if word_count(head) > MAX_HEADLINE_WORDS:
            break
        if (
            _has_main_verb(head)
            and _ends_whole(head, before_phrase=True)
            and not (match.group(1) == "to" and _words(head)[-1] in _BEFORE_TO)
            and not (match.group(1) == "of" and _words(head)[-1] in _BEFORE_OF)
            and not (match.group(1) in _ABOUT and _words(head)[-1] in _BEFORE_ABOUT)
        ):
            best = head
    return best


def _words(text: str) -> list[str]:
    return [w.strip(",;:\"“”'‘’()").lower() for w in text.split()]


def _is_verb(word: str) -> bool:
    return (
        word in _AUX
        or word in _IRREGULAR
        or (len(word) > 3 and word.endswith("ed") and not word.endswith("eed"))
    )


def _has_main_verb(text: str) -> bool:
    """Whether `text` has a verb outside a relative clause (no POS tagger: word shapes)."""
    words = _words(text)
    found = 0
    relative = False
    for word in words[1:]:
        if word in _RELATIVE:
            relative = True
            continue
        if _is_verb(word):
            if not relative:
                return True
            found += 1
            relative = False  # the relative clause's own verb: the main one may follow
    return found > 1 and words[0] not in _RELATIVE


def _ends_whole(text: str, *, before_phrase: bool = False) -> bool:
    """Whether `text` can end a headline: not on a function word, nor (when a phrase followed
    it) on a participle that needed that phrase."""
    words = _words(text)
    if not words or words[-1] in _FUNCTION_END:
        return False
    last = words[-1]
    # "... pleaded not guilty Friday based [on]" -- a participle needs what followed it,
    # unless it is the verb itself ("has been arrested [for]").
    if before_phrase and last in _AUX:
        return False
    if before_phrase and last.endswith(("ed", "ing")) and len(words) > 1:
        return words[-2] in _AUX
    return True


def _balanced(text: str) -> bool:
    return (
        text.count('"') % 2 == 0
        and text.count("“") == text.count("”")
        and (text.count("(") == text.count(")"))
    )


_NAME_RUN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’&-]+(?:\s+[A-Z][\w'’&-]+)*")


def _resolve(headline: str, context: Sequence[str]) -> str:
    """ "The firm ..." -> the name the text gives it (the name it mentions most, up to here)."""
    match = _GENERIC_SUBJECT.match(headline)
    if match is None:
        return headline
    names: Counter[str] = Counter()
    for sentence in context:
        for name in _NAME_RUN.findall(sentence):
            if name not in {"The", "A", "He", "She", "It", "They"}:
                names[name] += 1
    if not names:
        return headline
    name = names.most_common(1)[0][0]
    return f"{name}{headline[match.end() :]}"


def _trim_words(words: list[str]) -> str:
    while len(words) > 3 and words[-1].lower().strip(",;:") in _FUNCTION_END:
        words.pop()
    return " ".join(words)
