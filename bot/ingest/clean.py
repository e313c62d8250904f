"""The article's own text: without the furniture feeds and pages wrap around it.

Feeds end excerpts with "Continue reading…", "Read more »" or WordPress's "The post … appeared
first on …"; pages bring photo credits ("Photo: AP."), navigation ("Related Videos Related
articles More from author"), cookie notices and lone datelines ("WASHINGTON.") along with the
story. `clean_text` drops those paragraphs (and such a phrase at the end of a paragraph), so
what is stored, briefed and quoted by /ask is the story. `page_problem` tells when what is left
of a page is not an article at all.

The rules are about the shape of the furniture, in the languages of European news, not about
particular sites.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["clean_text", "normalized", "page_problem"]

_FLAGS = re.IGNORECASE | re.UNICODE

# a whole paragraph that only points elsewhere
_LINK_ONLY = re.compile(
    r"^\W*(?:continue reading|continue|read more|read the (?:full|rest of the|whole|complete) "
    r"(?:story|article|post|piece)|read full (?:story|article|topic|post)|keep reading|"
    r"full story|reply to this (?:post|topic)|table of contents|"
    r"read on|more|click here(?: to read more)?|view (?:the )?(?:full )?(?:article|post)|"
    r"(?:this|the) (?:post|article) (?:was )?(?:first )?appeared (?:first )?on .{1,120}|"
    r"leia mais|continue lendo|seguir leyendo|leer más|lire la suite|la suite|weiterlesen|"
    r"mehr lesen|continua a leggere|leggi (?:tutto|di più)|lees meer|verder lezen)"
    r"(?:\s*(?:on|at|in)\s+[^.]{1,80})?\W*$",
    _FLAGS,
)
# a pointer to another article between paragraphs: "Read more: How Europe Has Turned Against
# the U.S.", "Related: ...", "Lire aussi : ..."
_POINTER = re.compile(
    r"^\W*(?:read more|more|related|see also|also read|read also|recommended|further reading|"
    r"leia (?:também|mais)|veja também|lire aussi|à lire aussi|lea también|lee también|"
    r"leggi anche|mehr zum thema|lesen sie auch|lees ook)\s*[:»›|]\s*\S.{0,200}$"
    r"|^\W*read more (?:about|on|in|at|here)\b.{0,100}$",
    _FLAGS,
)
# the same as a button: "Read More Trump Declares …" (title case; "Read more books" is prose)
_POINTER_BUTTON = re.compile(r"^\W*(?:Read More|READ MORE|Related|RELATED)\s+[A-Z0-9“\"‘']")
# WordPress's footer: "The post <title> appeared first on <site>."
_POST_FOOTER = re.compile(
    r"(?:^|(?<=[.!?…\"”’)\]]))\s*(?:the|this) (?:post|article|entry|story)\b.{0,300}?"
    r"\b(?:appeared first|first appeared|originally appeared|was (?:first|originally) "
    r"published) (?:on|in|at)\b.{0,200}$",
    _FLAGS | re.DOTALL,
)
# the same pointers at the end of a paragraph that has text before them
_TRAILING_LINK = re.compile(
    r"(?:(?<=[.!?…\"”’)\]])\s*|\s+[\[(«»›|–—-]\s*)(?:continue reading|read more|"
    r"read the (?:full|rest of the) (?:story|article|post)|keep reading|full story|"
    r"leia mais|leer más|lire la suite|weiterlesen|mehr lesen|leggi tutto|lees meer)"
    r"\b[^.!?]{0,60}?(?:…|\.\.\.|»|›|→|>>|\]|\))?\s*$",
    _FLAGS,
)
# "…has proposed a solution in Read More…": a title-case pointer, with its ellipsis or arrow
_TRAILING_BUTTON = re.compile(
    r"\s+(?:(?:Read more|Continue reading|Keep reading)\s*(?:…|\.\.\.|»|›|→|>>)"
    r"|(?:Read More|Continue Reading|Keep Reading|READ MORE)\W{0,3})\s*$"
)
_ELLIPSIS_MARK = re.compile(r"\s*[\[(](?:…|\.\.\.|&hellip;|more…?)[\])]\s*$", _FLAGS)
# photo credits and captions: "Photo: AP.", "Foto: dpa", "© Reuters", "(AP Photo/Evan Vucci)"
_CREDIT = re.compile(
    r"^\W*(?:(?:photo|photograph|image|picture|illustration|foto|bild|imagen|immagine|"
    r"crédit|credit|crédito|credito|fuente|quelle|source)s?"
    r"(?:\s+(?:credit|by|de|di|von|par))?\s*[:/©]|©)",
    _FLAGS,
)
_AGENCY = r"(?:ap|afp|reuters|epa|getty images|getty|dpa|ansa|efe|anadolu|xinhua|pa)"
_AGENCY_ONLY = re.compile(rf"^\W*{_AGENCY}(?:\s*(?:photo|images?|/)[^)]*)?\W*$", _FLAGS)
_CREDIT_END = re.compile(
    rf"(?:\((?:[^()]{{0,40}}/)?\s*{_AGENCY}\b[^()]{{0,60}}\)"
    r"|(?:photo|foto|image|credit)\s*:\s*[^.]{1,60})\.?\s*$",
    _FLAGS,
)
# navigation and site chrome
_NAV = re.compile(
    r"related (?:videos?|articles?|stories|posts|content|topics|coverage|links)|more from\b|"
    r"most (?:read|popular|viewed|shared)|share (?:this|on)|sign up\b|subscribe\b|"
    r"newsletter|follow us|advertisement|skip to (?:main )?content|you may also like|"
    r"recommended for you|trending now|read next|top stories|back to top|all rights reserved|"
    r"leia também|veja também|lea también|lire aussi|à lire aussi|auch interessant|"
    r"mehr zum thema|leggi anche|lees ook",
    _FLAGS,
)
# cookie and consent notices, in the languages of European news: "cookie" and a word of consent
_COOKIE = re.compile(r"\bcookies?\b", _FLAGS)
_CONSENT = re.compile(
    r"consent|accept|privacy|polic|settings|browsing|website|our site|this site|navigat|"
    r"partners|analytics|personali[sz]|third.part|datenschutz|einwillig|zustimm|akzeptier|"
    r"verwenden|utilisons|tiers|politique|utilizamos|aceptar|aceit|privacidad|privacidade|"
    r"terceros|utilizziamo|usiamo|acconsent|terzi|gebruiken|toestemming",
    _FLAGS,
)
# a paragraph with no words at all ("*", "10.11.2021.", "—") or only a dateline ("WASHINGTON.")
_NO_WORDS = re.compile(r"^[\W\d_]*$", re.UNICODE)
# a byline on its own: "By Anthony Vallone.", "By: Patrik Höglund", "Por Ana Pérez"
_BYLINE = re.compile(
    r"^(?i:by|von|por|par|di|door)\s*:?\s+[A-ZÀ-Ý][\w.'’-]+(?:\s+[A-ZÀ-Ý][\w.'’-]+){1,3}\.?$"
)
_DATELINE = re.compile(r"^[A-ZÀ-Ý][A-ZÀ-Ý .,'’()/-]{1,40}[.:—–-]?$")
_SPACES = re.compile(r"\s+")


def normalized(text: str) -> str:
    """`text` lower-cased with its whitespace squashed, for comparing texts."""
    return _SPACES.sub(" ", text).strip().lower()


def _is_credit(paragraph: str) -> bool:
    if _AGENCY_ONLY.match(paragraph):
        return True
    return len(paragraph.split()) <= 15 and bool(
        _CREDIT.match(paragraph) or _CREDIT_END.search(paragraph)
    )


def _is_cookie_notice(text: str) -> bool:
    return bool(_COOKIE.search(text) and _CONSENT.search(text))


def _is_furniture(paragraph: str, captions: Collection[str]) -> bool:
    """A paragraph that is never the story: a pointer elsewhere, a caption or credit, a
    footer, a cookie notice, navigation."""
    words = paragraph.split()
    if _LINK_ONLY.match(paragraph):
        return True
    if len(words) <= 30 and (_POINTER.match(paragraph) or _POINTER_BUTTON.match(paragraph)):
        return True
    if captions and normalized(paragraph) in captions:
        return True
    if _POST_FOOTER.match(paragraph) or _is_credit(paragraph):
        return True
    if len(words) <= 80 and _is_cookie_notice(paragraph):
        return True
    # navigation is a run of short labels: "Related Videos Related articles More from author";
    # one word like "newsletter" in a sentence is not
    labels = {m.lower() for m in _NAV.findall(paragraph)}
    return bool(labels) and len(words) <= (4 if len(labels) == 1 else 4 * len(labels))


def _is_noise(paragraph: str) -> bool:
    """A paragraph with nothing to brief among other paragraphs: no words ("*", "10.11.2021."),
    a lone dateline ("WASHINGTON.") or byline ("By Anthony Vallone.")."""
    words = paragraph.split()
    if _NO_WORDS.match(paragraph):
        return True
    if len(words) <= 4 and _DATELINE.match(paragraph):
        return True
    return len(words) <= 5 and bool(_BYLINE.match(paragraph)) and not paragraph.isupper()


def clean_text(text: str, captions: Collection[str] = ()) -> str:
    """`text` without furniture paragraphs, and without a "Read more…" at a paragraph's end.

    Args:
        text: Paragraphs separated by blank lines (as `html_to_text` and trafilatura give them).
        captions: Normalised photo captions of the same entry (see `normalized`); a paragraph
            that is one of them is dropped too.

    Returns:
        The text that is left; ``""`` when all of it was furniture. Datelines, bylines and
        paragraphs without words are dropped only from among other text: a release feed's
        "3.9.0" or a podcast's "CHINA DON'T CARE." is all its entry says.
    """
    kept = []
    for paragraph in text.split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph or _is_furniture(paragraph, captions):
            continue
        paragraph = _POST_FOOTER.sub("", paragraph).strip()
        paragraph = _TRAILING_LINK.sub("", paragraph).strip()
        paragraph = _TRAILING_BUTTON.sub("", paragraph).strip()
        paragraph = _ELLIPSIS_MARK.sub(" …", paragraph).strip()
        if paragraph:
            kept.append(paragraph)
    story = [p for p in kept if not _is_noise(p)]
    return "\n\n".join(story or kept)


def page_problem(text: str, captions: Collection[str] = ()) -> str | None:
    """Why a page's extracted text is not an article, or None when it is one.

    Args:
        text: The page's main text as extracted, before `clean_text`.
        captions: Normalised photo captions the page's feed entry carried.

    Returns:
        "only a photo caption", "only navigation", "only a cookie notice", or None.
    """
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        return None
    words = sum(len(p.split()) for p in paragraphs)
    if captions and all(normalized(p) in captions for p in paragraphs):
        return "only a photo caption"
    if words <= 30 and all(_is_credit(p) or normalized(p) in captions for p in paragraphs):
        return "only a photo caption"
    if words <= 150 and _is_cookie_notice(text):
        return "only a cookie notice"
    short = sum(1 for p in paragraphs if len(p.split()) < 5 and not p.endswith((".", "!", "?")))
    if words <= 150 and (len(_NAV.findall(text)) >= 2 or short * 2 > len(paragraphs) >= 3):
        return "only navigation"
    return None
