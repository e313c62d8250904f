"""Remove what is not news from article text before it is split and scored.

Feeds and scraped pages leave furniture in the body: bylines and time stamps, "Scroll down for
video", "Click here ...", share/subscribe prompts, photo credits, wire datelines such as
``(CNN)`` or ``WASHINGTON (Reuters) -``, HTML tags and entities, and (in the Ukrainska Pravda
style of the seed articles) a ``date YYYY-MM-DD`` prefix, a ``Source:`` line and paragraph
labels (``Details:``, ``Background:``, ``Quote from X:``). None of it belongs in a bullet, and
left in, it both wastes the 30-word budget and breaks sentence splitting.

Everything here is a compiled regular expression applied once, so cleaning costs little next
to splitting.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_text", "strip_html"]

_TAG_BLOCK = re.compile(
    r"<(script|style|noscript|template|svg|head)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# Tags that end a block of text become line breaks so paragraphs survive tag removal.
_BLOCK_TAG = re.compile(
    r"<\s*(?:br|/p|p|/div|div|/li|li|/h[1-6]|h[1-6]|/tr|/blockquote|blockquote|/section|"
    r"/article|hr)\b[^>]*>",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"</?[A-Za-z][^<>]{0,500}>")
_LOOKS_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?>|&(?:[a-z]+|#\d+);")

_DATE_PREFIX = re.compile(r"^\s*date\s+\d{4}-\d{2}-\d{2}\b[ \t]*", re.IGNORECASE)

# Whole lines (paragraphs) that are furniture, not news.
_BOILERPLATE_LINE = re.compile(
    r"""^\s*(?:
        source\s*:.*
      | (?:photo|image|picture|video|graphic)s?\s*(?:credit|copyright|:).*
      | (?:image|photo)\s+(?:copyright|caption|source)\b.*
      | (?:getty\s+images|reuters|ap\s+photo|afp|epa|shutterstock)\s*$
      | (?:share|tweet|email|e-mail|print|comments?|listen|watch)\s*$
      | (?:share\s+(?:this|on|via)|subscribe\s+(?:to|now|for|here)|sign\s+up\s+(?:for|to|here)
         |follow\s+us|like\s+us\s+on|join\s+us\s+on|download\s+our)\b.*
      | (?:click|tap)\s+here\b.*
      | (?:read|see)\s+(?:more|also)\s*:.*
      | (?:related|advertisement|sponsored|most\s+read|recommended)\s*:?\s*$
      | (?:related\s+(?:articles?|stories|coverage)|more\s+on\s+this\s+story)\b.*
      | (?:published|updated|last\s+updated|posted)\s*(?::|\s(?:at\s+)?\d{1,2}[:.]\d{2}).*
      | copyright\s+.*|©.*|all\s+rights\s+reserved.*
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)

# Bylines: "By Jane Smith", "By Jane Smith, BBC News", "By . Jane Smith ." (case matters:
# "By then, ..." and "By Friday, ..." are news).
_BYLINE = re.compile(
    r"^By\s+\.?\s*[A-Z][\w'’-]+(?:\s+(?:[A-Z][\w.'’-]*|de|van|von|and|\.)){1,5}\s*\.?"
    r"\s*(?:(?:,|\||[-–—]|for)\s*(?:\S+\s*){0,6})?$"
)

# Furniture that sits inside a line (CNN/Daily Mail bodies come as one long line). Each
# pattern runs only on lines that contain its literal key: scanning a long line costs far more
# than the substring test, and most lines contain none of the keys.
_INLINE_BOILERPLATE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (key, re.compile(pattern))
    for key, pattern in (
        ("PUBLISHED", r"PUBLISHED\s*:.*?(?:UPDATED\s*:\s*[^|\n]*?\d{4}\b|$)"),
        ("UPDATED", r"\bUPDATED\s*:\s*\d[^|\n]*?\d{4}\b"),
        ("Last", r"\bLast\s+updated\s+at\s+[^|\n]*?\d{4}\b"),
        ("|", r"\|\s*"),
        ("By", r"\bBy\s+\.\s+[A-Z][^.]{0,60}\s+\.\s+"),
        ("READ", r"\bREAD\s+MORE\s*:[^\n]*?(?=\s[A-Z][a-z]|$)"),
        ("click", r"\bclick\s+here\s+(?:for|to)\b[^.!?\n]*[.!?]?"),
        ("tap", r"\btap\s+here\s+(?:for|to)\b[^.!?\n]*[.!?]?"),
        ("Share", r"\bShare\s+(?:this|to\s+our)\s+(?:article|story|newsletter)\b[.:]?"),
        ("Subscribe", r"\bSubscribe\s+(?:this|to\s+our)\s+(?:article|story|newsletter)\b[.:]?"),
        ("Follow", r"\bFollow\s+us\s+on\s+(?:Twitter|Facebook|Instagram)\b[^.!?\n]*[.!?]?"),
        (
            "Sorry",
            r"(?:\bSorry,?\s+)?\bwe\s+are\s+not\s+currently\s+accepting\s+comments\b"
            r"[^.!?\n]*[.!?]?",
        ),
        ("These are the best", r"\bThese\s+are\s+the\s+best\s+videos\s+of\s+the\s+week\.?"),
    )
)
# Whether a line has any of those keys, tested first: one scan of the line instead of a search
# per key. The keys but "click" and "tap" open with rare characters, which the engine skips to;
# those two are plain substring tests.
_INLINE_KEY = re.compile(
    "|".join(re.escape(key) for key, _ in _INLINE_BOILERPLATE if key not in {"click", "tap"})
)
_SCROLL = re.compile(
    r"\bscroll\s+down\s+(?:for|to\s+see)\s+(?:the\s+)?(?:video|videos|more|pictures)\b[.:]?",
    re.IGNORECASE,
)

# Wire datelines: "(CNN)", "WASHINGTON (Reuters) -", "LONDON, England (CNN) --", "CNN —".
_DATELINE = re.compile(
    r"""^\s*(?:
        (?:[A-Z][A-Z .'-]{1,40}(?:,\s*[A-Z][\w .'-]{1,30})?\s*)?
        \((?:CNN|Reuters|AP|AFP|UPI|Bloomberg|BBC|CNN\s+Student\s+News|EW\.com|CNNMoney|
             Mashable|The\s+Hollywood\s+Reporter|Rolling\s+Stone)\)\s*(?:[-–—]+|:)?\s*
      | (?:CNN|Reuters|AP)\s*[-–—]+\s*
      | [A-Z][A-Z .'-]{2,40},\s+[A-Z][\w .'-]{1,30}\s*[-–—]+\s+
    )""",
    re.VERBOSE,
)

# Photo cues inside sentences: "(pictured)", "(left)", ", pictured," -- the image is not there.
_PHOTO_CUE = re.compile(
    r"\((?:pictured|picture|photo|photographed|above|below|left|right|centre|center|"
    r"top|bottom|inset|file|file\s+photo|in\s+the\s+picture|seen\s+here|second\s+left|"
    r"second\s+right|far\s+left|far\s+right|front|back|main|top\s+left|top\s+right|"
    r"bottom\s+left|bottom\s+right)(?:[,\s]+(?:left|right|above|below|centre|center|"
    r"top|bottom|inset|with\s+[^()]{0,40}|in\s+[^()]{0,40}))*\)",
    re.IGNORECASE,
)
_PHOTO_COMMA = re.compile(
    r",\s*(?:pictured|above|below)(?:\s+(?:left|right|above|below|here))?\s*(?:,(?=\s)|(?=[.;]))",
    re.IGNORECASE,
)

# Paragraph labels of the seed outlet. "Quote from X:" keeps its speaker as "X:".
_QUOTE_LABEL = re.compile(
    r"^(?:direct\s+)?(?:quote|quotes)\s+(?:from|by)\s+([^:\n]{2,60}):\s*", re.IGNORECASE
)
_PARAGRAPH_LABEL = re.compile(
    r"^(?:details|background|context|reminder|update|updated|recap|quote|for\s+reference|"
    r"what\s+preceded\s+this|prehistory|key\s+points?|summary|analysis|note|editor'?s\s+note|"
    r"breaking|read\s+also|in\s+brief|why\s+it\s+matters|the\s+big\s+picture|"
    r"what\s+happened|what's\s+next)\s*:\s*",
    re.IGNORECASE,
)

_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def strip_html(text: str) -> str:
    """Turn HTML (or text with HTML left in it) into plain text with line breaks.

    Args:
        text: A fragment or whole page; text with no markup is returned unchanged.

    Returns:
        The text with tags removed, block tags turned into paragraph breaks and entities decoded.
    """
    if ("<" not in text and "&" not in text) or not _LOOKS_HTML.search(text):
        return text
    text = _TAG_BLOCK.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    text = _BLOCK_TAG.sub("\n\n", text)
    text = _ANY_TAG.sub("", text)
    return html.unescape(text)


def _clean_line(line: str) -> str:
    """Clean one paragraph; returns "" when nothing newsworthy is left."""
    if _BOILERPLATE_LINE.match(line) or _BYLINE.match(line):
        return ""
    original = line
    lower = line.lower()
    # Each inline pattern only runs where its literal key first occurs: the substring search is
    # far cheaper than a regex scan of a long line, and most lines contain none of the keys.
    at = lower.find("scroll")
    if at >= 0:
        line = line[:at] + _SCROLL.sub(" ", line[at:])
    if _INLINE_KEY.search(line) or "click" in line or "tap" in line:
        for key, pattern in _INLINE_BOILERPLATE:
            at = line.find(key)
            if at >= 0:
                line = line[:at] + pattern.sub(" ", line[at:])
    quote = _QUOTE_LABEL.match(line)
    if quote:
        line = f"{quote.group(1).strip()}: {line[quote.end() :]}"
    elif ":" in line[:40]:
        line = _PARAGRAPH_LABEL.sub("", line)
    cut = _PHOTO_CUE.sub("", line) if "(" in line else line
    if "pictured" in lower or "above" in lower or "below" in lower:
        cut = _PHOTO_COMMA.sub("", cut)
    if cut != line:
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", cut)
    if "  " in line or "\t" in line or not line.isascii():
        line = " ".join(line.split())  # str.split() knows every Unicode space
    else:
        line = line.strip()
    # a line that cleaning left as it was has been tested already
    if not line or (line != original and _BOILERPLATE_LINE.match(line)):
        return ""
    return line


def clean_text(text: str) -> str:
    """Remove markup and non-news furniture, keeping the paragraph structure.

    Drops HTML, the ``date YYYY-MM-DD`` prefix, ``Source:`` lines, bylines, time stamps,
    "Scroll down for video", "Click here", share/subscribe prompts, photo cues and credits and
    wire datelines; turns ``Quote from X: "..."`` into ``X: "..."`` and removes paragraph labels
    (``Details:``, ``Background:``). Never raises.

    Args:
        text: Article body, plain text or HTML.

    Returns:
        Plain text whose paragraphs are separated by blank lines.
    """
    if not text:
        return ""
    text = strip_html(text)
    if not text.isascii():
        text = _ZERO_WIDTH.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _DATE_PREFIX.sub("", text, count=1)
    lines: list[str] = []
    for raw in text.split("\n"):
        if not raw.strip():
            # Keep one empty line so the splitter still sees the paragraph break.
            if lines and lines[-1]:
                lines.append("")
            continue
        line = _clean_line(raw)
        if line:
            lines.append(line)
    if lines:
        lines[0] = _DATELINE.sub("", lines[0], count=1)
    return "\n".join(lines).strip()
