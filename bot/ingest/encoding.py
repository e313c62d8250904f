"""Character encodings of feed documents: read what the server and the document say, check it,
and detect it when they say nothing (or something wrong).

feedparser alone trusts the HTTP charset, then the XML declaration, and falls back to
Windows-1252 when neither decodes: an undeclared KOI8-R or Shift_JIS feed then comes out as
mojibake ("ëÁË ÐÅÒÅÖÉÔØ" for "Как пережить") without any error. Here the order is:

1. a byte-order mark, or the UTF-16/UTF-32 shape of ``<?xml`` (whatever the Content-Type says);
2. UTF-8, when the bytes are valid UTF-8 (legacy text almost never is by chance), or nearly:
   a few stray bytes in a UTF-8 document become U+FFFD instead of turning every accent into
   mojibake;
3. the charset of the Content-Type, then of the XML declaration, when it decodes the bytes and
   the result does not look like mojibake;
4. charset-normalizer over the document's text (markup and URLs left out: they are ASCII and
   only dilute what the detector measures).

Example:
    decoded = decode_document(body, "application/xml")
    decoded.text, decoded.encoding, decoded.detected
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["Decoded", "charset_of", "decode_document", "looks_mojibake", "sniff_unicode"]

# the first characters of "<?xml" in each UTF-16/32 byte order, without a byte-order mark
_XML_STARTS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*?\?>")
_DECLARED = re.compile(rb"\A\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
# ASCII parts of a document that tell a detector nothing about its text
_MARKUP = re.compile(rb"<!\[CDATA\[|\]\]>|<[^<>]*>|https?://[^\s<>\"']+|&#?\w+;")
_SPACES = re.compile(rb"\s+")
_TEXT_MARKUP = re.compile(r"<!\[CDATA\[|\]\]>|<[^<>]*>|https?://[^\s<>\"']+|&#?\w+;")
#: The labels browsers treat as Windows-1252 (WHATWG Encoding): its extra characters (curly
#: quotes, the euro sign) are what "ISO-8859-1" pages really hold.
_LATIN1_LABELS = frozenset(
    {
        "iso-8859-1",
        "iso8859-1",
        "latin-1",
        "latin1",
        "l1",
        "us-ascii",
        "ascii",
        "iso_8859-1",
        "cp819",
        "ibm819",
    }
)

# mojibake: UTF-8 read as Windows-1252 ("Ã©", "â€™"), UTF-8 Cyrillic read as Latin-1 ("Ð¾")
_UTF8_AS_LATIN = re.compile(r"[ÃÂ][\u0080-\u00bf\u2018-\u203a\u20ac]|â€|[ÐÑ][\u0080-\u00bf]")
_GARBLED_SAMPLE = 300_000
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LATIN1_LETTER = re.compile(r"[\u00c0-\u00ff]")
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True, slots=True)
class Decoded:
    """A document as text, and how it was read.

    Attributes:
        text: The document, with the byte-order mark removed.
        encoding: The Python codec that decoded it.
        detected: Nothing trustworthy declared it: the encoding was guessed from the bytes.
        garbled: The text still looks like mojibake (see `looks_mojibake`).
    """

    text: str
    encoding: str
    detected: bool = False
    garbled: bool = False


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def sniff_unicode(data: bytes) -> str | None:
    """UTF-8/16/32 from a byte-order mark, or UTF-16/32 from the NUL bytes around ``<``."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4]
    for start, name in _XML_STARTS:
        if head.startswith(start):
            return name
    return None


def looks_mojibake(text: str) -> bool:
    """Whether `text` reads like bytes decoded with the wrong code page.

    Two signs: UTF-8 sequences read as Windows-1252 or Latin-1 (``Ã©``, ``â€™``, ``Ð¾``); or
    words made mostly of accented Latin-1 letters, which is what Cyrillic, Greek or CJK bytes
    read as Latin-1 look like ("ëÁË ÐÅÒÅÖÉÔØ"), while French or Portuguese words have an
    accent or two among plain letters.
    """
    if len(_UTF8_AS_LATIN.findall(text)) >= 3:
        return True
    words = _WORD.findall(text)
    if len(words) < 3:
        return False
    odd = sum(1 for w in words if len(_LATIN1_LETTER.findall(w)) * 2 > len(w))
    return odd * 5 > len(words)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().lower()
    if name in _LATIN1_LABELS:
        return "cp1252"
    if name in ("gb2312", "gbk"):
        return "gb18030"  # a superset: real "GB2312" text often holds GBK characters
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _mostly_utf8(data: bytes) -> str | None:
    """`data` as UTF-8 with a few bad bytes replaced, if nearly all its non-ASCII text is UTF-8."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = len(_NON_ASCII.findall(text)) - bad
    return text if good >= 10 * bad else None


def _detect(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess over the text of the document (not its markup)."""
    # imported when used: only an undeclared, non-UTF-8 document needs it (~10 ms of a start)
    import charset_normalizer

    sample = _SPACES.sub(b" ", _MARKUP.sub(b" ", data[:400_000]))
    best = charset_normalizer.from_bytes(sample).best()
    if best is None or not best.encoding:
        return None
    try:
        return data.decode(best.encoding, "replace"), best.encoding
    except LookupError:
        return None


def decode_document(data: bytes, content_type: str | None = None) -> Decoded:
    """Decode an XML (or HTML) document; never raises for bad bytes.

    Args:
        data: The document as served.
        content_type: The HTTP Content-Type, whose charset is one of the hints.

    Returns:
        The text and how it was read. When nothing decodes cleanly the text is Windows-1252
        with the bytes it cannot map replaced, and ``garbled`` says so.
    """
    unicode = sniff_unicode(data)
    if unicode:
        text = data.decode(unicode, "replace").removeprefix("\ufeff")
        return Decoded(text, unicode, garbled=_garbled(text))
    if data.isascii():
        return Decoded(data.decode("ascii"), "ascii")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return Decoded(text, "utf-8", garbled=_garbled(text))
    declared = _DECLARED.match(data)
    hints = (
        _codec(charset_of(content_type)),
        _codec(declared.group(1).decode("ascii") if declared else None),
    )
    for codec in dict.fromkeys(h for h in hints if h):
        if codec in ("utf-8", "utf-16", "utf-32"):
            continue  # UTF-8 was tried above; UTF-16/32 without their shape are mislabels
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if not _garbled(text):
            return Decoded(text, codec)
        log.info("text declared as %s reads as mojibake; detecting its encoding", codec)
    mostly = _mostly_utf8(data)
    if mostly is not None:
        return Decoded(mostly, "utf-8", garbled=_garbled(mostly))
    guess = _detect(data)
    if guess is not None:
        text, codec = guess
        return Decoded(text, codec, detected=True, garbled=_garbled(text))
    text = data.decode("cp1252", "replace")
    return Decoded(text, "cp1252", detected=True, garbled=True)


def _garbled(document: str) -> bool:
    # markup is ASCII: left in, tag names would outvote the words of a short garbled feed; a
    # wrong code page shows from the start, so a long document is judged by its first part
    return looks_mojibake(_TEXT_MARKUP.sub(" ", document[:_GARBLED_SAMPLE]))


def as_utf8_xml(text: str) -> bytes:
    """`text` as UTF-8 bytes whose XML declaration (if any) says UTF-8, for an XML parser."""
    declaration = '<?xml version="1.0" encoding="utf-8"?>'
    if _XML_DECLARATION.match(text):
        text = _XML_DECLARATION.sub(declaration, text, count=1)
    return text.encode("utf-8")
