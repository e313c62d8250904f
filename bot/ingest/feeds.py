"""RSS 2.0, RSS 1.0 (RDF) and Atom feeds: parse, poll with conditional GET, back off on errors.

`parse_feed` is pure: feed bytes in, articles out. `poll_feed` fetches a feed
with the validators remembered in its `FeedState` (a 304 means nothing new),
completes teaser-only entries from their web pages, and always returns the next
state to store, on success and on failure. After a failure the feed is left
alone for an exponentially growing delay (`backoff_delay`); `is_due` tells a
scheduler whether that delay is over.

What is kept of an entry is what a reader would check: the document is decoded here
(`bot.ingest.encoding`) before feedparser reads it; a Media RSS photo caption is never
the text and furniture is cleaned off (`bot.ingest.clean`); dates are read in European
languages and unknown when unbelievable (`bot.ingest.dates`); the outlet is named from what
the feed says about itself (`bot.ingest.outlets`); an entry without a link keeps a stable
address of its own.

feedparser, lxml and trafilatura are imported by the functions that parse (about 0.1 s of a
start): commands that never read a feed, such as `digest`, do not load them.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXException

from bot.errors import PageTextError, SourceError
from bot.ingest.clean import clean_text, normalized
from bot.ingest.dates import from_struct, parse_date, plausible
from bot.ingest.encoding import as_utf8_xml, decode_document, sniff_unicode
from bot.ingest.http import FetchPolicy, FetchResult, fetch
from bot.ingest.outlets import outlet_name
from bot.ingest.urls import canonical_url, host_of
from bot.ingest.web import fetch_page, looks_binary, normalize_language
from bot.models import Article, FeedState
from bot.store import content_hash

log = logging.getLogger(__name__)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "FEED_ACCEPT",
    "MAX_FEED_ENTRIES",
    "FeedPolicy",
    "FeedPoll",
    "backoff_delay",
    "discover_feeds",
    "html_to_text",
    "is_due",
    "looks_like_feed",
    "parse_feed",
    "poll_feed",
    "read_feed",
]

#: Delay after the first consecutive failure; doubles with each further one...
BACKOFF_BASE = timedelta(minutes=5)
#: ...up to this ceiling, so a dead feed is still retried a few times a day.
BACKOFF_MAX = timedelta(hours=6)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)

_FEED_TYPES = ("rss", "atom", "rdf")
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<channel")
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# block-level tags: each one starts a new paragraph in the plain text
_BLOCK_TAGS = frozenset(
    "p div section article header footer aside main nav blockquote pre figure figcaption "
    "ul ol li dl dt dd table tr h1 h2 h3 h4 h5 h6 hr address details summary".split()
)
# a photo's caption is not the article's text (a page's <figcaption>, as Media RSS captions)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "figcaption")
_SPACES = re.compile(r"\s+")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_TITLE_CHARS = 90
#: Entries read from one feed document; the rest are cut off before parsing. Feeds list their
#: newest entries first, and a feed of 100,000 entries would otherwise take minutes and
#: hundreds of MB to parse (feedparser holds every entry).
MAX_FEED_ENTRIES = 1000
# the end tag of an RSS <item> or an Atom <entry>, with or without a namespace prefix
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """How feeds are polled.

    Attributes:
        fetch: Limits and address rules for the feed and its teaser pages.
        teaser_chars: Entries without full content whose summary is shorter than
            this are teasers; their page is fetched for the full text.
        max_teaser_fetches: At most this many pages are fetched per poll (the rest
            keep their teaser) so one poll stays bounded in time.
        teaser_concurrency: Pages fetched at the same time.
        min_interval: After a successful poll the feed is not due again for this
            long; zero leaves the cadence to the scheduler.
    """

    fetch: FetchPolicy = field(default_factory=FetchPolicy)
    teaser_chars: int = 500
    max_teaser_fetches: int = 20
    teaser_concurrency: int = 4
    min_interval: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """The outcome of one poll.

    Attributes:
        articles: Entries of the feed as articles (all of them, not only new ones;
            the store tells which are new). Empty on failure and on 304.
        state: The state to store, on success and on failure.
        title: The feed's title; None on failure and on 304 (keep the stored one).
        error: None on success, else the reason of the SourceError (no URL prefix).
        not_modified: The server answered 304: nothing changed since the last poll.
        skipped: One line per entry left out, with the reason (no text).
        notes: One line each for what the user should know although the poll worked: the
            feed has no entries, its text still looks garbled, pages that were only a photo
            caption or navigation (their feed summary was kept).
        outlet: The outlet's name as the feed gives it (see `bot.ingest.outlets`); None on
            failure and on 304.
    """

    articles: list[Article]
    state: FeedState
    title: str | None
    error: str | None
    not_modified: bool = False
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    outlet: str | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    article: Article
    link: str | None  # as the feed gave it (resolved), for fetching the page; None: no page
    teaser: bool
    captions: frozenset[str] = frozenset()
    """Normalised photo captions of the entry's feed, which its page's text must not be."""
    empty_reason: str = "no text"
    """Why the entry has no text, if it has none."""


@dataclass(slots=True)
class _Parsed:
    title: str | None
    outlet: str | None = None
    entries: list[_Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    count: int = 0
    """Entries in the document (kept or not)."""


# --- text -------------------------------------------------------------------------------


def _squash(text: str | None) -> str | None:
    # HTML whitespace is not significant; only our own markers may break lines
    return None if text is None else _SPACES.sub(" ", text)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one paragraph per block, separated by blank lines.

    ``<br>`` is a line break inside a paragraph (two in a row start a new one);
    scripts and styles are dropped. Parsing is lxml's (through trafilatura's loader).

    Args:
        fragment: HTML as found in a feed's ``content:encoded``, ``content`` or summary.

    Returns:
        The text, ``""`` if there is none.
    """
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment and "&" not in fragment:
        return _plain_paragraphs(fragment)
    from trafilatura.utils import load_html

    try:
        tree: Any = load_html(f"<html><body><div>{fragment}</div></body></html>")
    except Exception as exc:  # hostile markup must not abort a whole feed
        log.debug("could not parse entry HTML: %s: %s", type(exc).__name__, exc)
        tree = None
    if tree is None:
        return ""
    body = tree.find(".//body")
    if body is None:
        return ""
    for tag in _DROP_TAGS:
        for element in list(body.iter(tag)):
            element.drop_tree()
    for element in body.iter():
        element.tail = _squash(element.tail)
        if not isinstance(element.tag, str):
            continue  # a comment or processing instruction: only its tail is text
        element.text = _squash(element.text)
        tag = element.tag.lower()
        if tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif tag in _BLOCK_TAGS:
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
    return _paragraphs(str(body.text_content()))


def _paragraphs(text: str) -> str:
    parts = (" ".join(part.split()) for part in _BLANK_LINE.split(text))
    return "\n\n".join(part for part in parts if part)


def _plain_paragraphs(text: str) -> str:
    return _paragraphs(text.replace("\r\n", "\n"))


def _detail_text(detail: Mapping[str, Any] | None) -> str:
    """Text of a feedparser text construct (``{"type": ..., "value": ...}``)."""
    if not detail:
        return ""
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html").lower()
    if kind == "text/plain":
        return _plain_paragraphs(value)
    return html_to_text(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fallback_title(text: str) -> str:
    line = text.split("\n\n", 1)[0]
    if len(line) <= _TITLE_CHARS:
        return line
    cut = line[:_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


# --- parsing ----------------------------------------------------------------------------


def _entry_date(entry: Mapping[str, Any], seen: datetime) -> datetime | None:
    """The entry's publication date if believable (see `bot.ingest.dates`), else None.

    feedparser's own parse comes first; a date it could not read ("Seg, 24 Set 2018") is read
    by `parse_date`. Published, then updated, then created.
    """
    for key in ("published", "updated", "created"):
        # `in` first: feedparser's get("updated") answers with the published date, and warns
        moment = from_struct(entry.get(f"{key}_parsed") if f"{key}_parsed" in entry else None)
        raw = entry.get(key) if key in entry else None
        if moment is None and isinstance(raw, str):
            moment = parse_date(raw)
        moment = plausible(moment, seen)
        if moment is not None:
            return moment
    return None


def _entry_link(entry: Mapping[str, Any], base: str) -> str | None:
    """The entry's page URL: its link (resolved against the feed), else its id/guid when that
    is an absolute http(s) URL (a guid "notice-1" that is not a permalink is a name, not a
    page next to the feed)."""
    for key in ("link", "id"):
        candidate = entry.get(key)
        if not candidate or not isinstance(candidate, str):
            continue
        if key == "id" and urlsplit(candidate.strip()).scheme.lower() not in ("http", "https"):
            continue
        link = urljoin(base, candidate.strip())
        if urlsplit(link).scheme.lower() in ("http", "https") and urlsplit(link).hostname:
            return link
    return None


def _entry_id_url(entry: Mapping[str, Any], feed_url: str, title: str, text: str) -> str:
    """A stable address for an entry without a link: the feed's URL with a fragment made from
    the entry's guid, else from its title and date (else its text), so the next poll of the
    same entry finds it stored."""
    guid = entry.get("id")
    if isinstance(guid, str) and guid.strip():
        key = "id-" + guid.strip()
    else:
        when = entry.get("published") or entry.get("updated") or ""
        key = f"h-{title}|{when}" if title or when else f"t-{text}"
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{canonical_url(feed_url)}#{key[:2]}{digest}"


def _is_caption(text: str, captions: Collection[str]) -> bool:
    return bool(captions) and normalized(text) in captions


def _entry_text(entry: Mapping[str, Any], captions: Collection[str]) -> tuple[str, bool]:
    """(text, is_full_content): the article's own text of an entry.

    feedparser files a Media RSS description under ``content`` when the entry already has a
    summary, and under ``summary`` when it comes first, so a photo caption can be in either:
    a block that is one of the feed's captions is never the text. The longest other content
    block is the text when it is longer than the summary (else it is an excerpt, and the
    summary says as much); furniture ("Continue reading…") is cleaned off both.
    """
    summary_detail = entry.get("summary_detail") or {"value": entry.get("summary", "")}
    summary = clean_text(_detail_text(summary_detail), captions)
    if _is_caption(summary, captions):
        summary = ""
    best = ""
    for block in entry.get("content") or ():
        text = clean_text(_detail_text(block), captions)
        if len(text) > len(best) and not _is_caption(text, captions):
            best = text
    if best and len(best) > len(summary):
        return best, True
    return summary, False


_MRSS = "{http://search.yahoo.com/mrss/}"
_CAPTION_TAGS = tuple(f"{_MRSS}{tag}" for tag in ("description", "text", "title", "credit"))
_AV_MEDIUMS = ("video", "audio")


def _plays(media: Any) -> bool:
    """Whether a <media:content> is video or audio (not a photo)."""
    medium = (media.get("medium") or "").lower()
    kind = (media.get("type") or "").lower()
    return medium in _AV_MEDIUMS or kind.startswith(("video/", "audio/")) or "flash" in kind


def _media_captions(document: bytes) -> frozenset[str]:
    """The normalised Media RSS descriptions, titles and credits of a feed's photos.

    A description of a video or an audio file (YouTube's, a podcast's) describes the entry
    itself and is not counted; one next to a photo, or to no media at all, is a caption.
    """
    if b"search.yahoo.com/mrss" not in document:
        return frozenset()
    from lxml import etree

    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root: Any = etree.fromstring(document, parser)
    except (etree.XMLSyntaxError, ValueError):
        return frozenset()
    if root is None:
        return frozenset()
    found: set[str] = set()
    for element in root.iter(*_CAPTION_TAGS):
        scope = element.getparent()
        if scope is None:
            continue
        media = [scope] if scope.tag == f"{_MRSS}content" else scope.iter(f"{_MRSS}content")
        if any(_plays(m) for m in media):
            continue
        text = html_to_text("".join(element.itertext()))
        if text:
            found.add(normalized(text))
    return frozenset(found)


def _sniff(data: bytes) -> bytes:
    head = data[:4096]
    unicode = sniff_unicode(head)
    if unicode and unicode != "utf-8":
        # a UTF-16/32 document: look at its characters, not at its bytes
        head = head.decode(unicode, "ignore").encode("utf-8", "ignore")
    return head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()


def looks_like_feed(data: bytes, content_type: str | None = None) -> bool:
    """Cheap guess whether a response is a feed (to tell feeds from pages before parsing).

    Args:
        data: The response body (only its start is looked at).
        content_type: The response's Content-Type, if known.

    Returns:
        True for an RSS/Atom/RDF media type or a feed root element near the start.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if any(kind in media for kind in _FEED_TYPES):
        return True
    return any(marker in _sniff(data) for marker in _FEED_MARKERS)


def discover_feeds(html: bytes, base_url: str) -> list[str]:
    """Feed URLs a web page announces (``<link rel="alternate" type="application/rss+xml">``).

    Returns them absolute and canonical, RSS/Atom first, in page order.
    """
    from trafilatura.utils import load_html

    try:
        tree: Any = load_html(html)
    except Exception:
        return []
    if tree is None:
        return []
    found = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and href and any(t in kind for t in ("rss", "atom", "rdf")):
            found.append(canonical_url(urljoin(base_url, href)))
    return list(dict.fromkeys(found))


def _not_a_feed(url: str, data: bytes, content_type: str | None, parsed: Any) -> SourceError:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    head = _sniff(data)
    if media in _HTML_TYPES or any(head.startswith(m) or m in head[:512] for m in _HTML_MARKERS):
        return SourceError(url, "not a feed (got HTML)")
    problem = parsed.get("bozo_exception")
    # feedparser also flags harmless things (a missing Content-Type); only XML errors count
    if isinstance(problem, SAXException):
        return SourceError(url, f"not a feed (malformed XML: {problem})")
    return SourceError(url, "not a feed (no RSS or Atom element found)")


def _first_entries(data: bytes, url: str, limit: int = MAX_FEED_ENTRIES) -> bytes:
    """`data` without the entries after the first `limit` (what closes the document is kept)."""
    cut = last = 0
    count = 0
    for match in _ENTRY_END.finditer(data):
        count += 1
        if count == limit:
            cut = match.end()
        last = match.end()
    if count <= limit:
        return data
    log.info("feed %s has %d entries; reading the first %d", url, count, limit)
    return data[:cut] + data[last:]


def _feed_outlet(feed: Mapping[str, Any], title: str | None, url: str) -> str:
    """The outlet's name from what the feed says about itself (see `bot.ingest.outlets`)."""
    image = feed.get("image") or {}
    link = feed.get("link")
    web = isinstance(link, str) and link.lower().startswith(("http://", "https://"))
    site = link if web and isinstance(link, str) else url
    texts = [feed.get(key) for key in ("rights", "publisher", "author", "subtitle")]
    return outlet_name(
        [image.get("title") if isinstance(image, Mapping) else None, title],
        site,
        other_text=[t for t in texts if isinstance(t, str)],
    )


# an element's start: the end of the prolog, where a DOCTYPE and its entities are declared
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_]")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")


def _without_entity_declarations(document: str) -> str:
    """`document` with the entities of its DOCTYPE left out, so no parser expands them.

    feedparser removes them only when each starts a line; on one line ("billion laughs", a
    file:// entity) expat would expand them for seconds before its amplification limit stops
    it. Real feeds only declare entities for characters, which the lenient parser knows.
    """
    start = _FIRST_ELEMENT.search(document)
    end = start.start() if start else len(document)
    head = document[:end]
    if "<!ENTITY" not in head:
        return document
    return _ENTITY_DECLARATION.sub("", head) + document[end:]


def _parse(data: bytes, url: str, fetched_at: datetime, content_type: str | None = None) -> _Parsed:
    if not data.strip():
        raise SourceError(url, "empty response")
    if looks_binary(data):
        raise SourceError(url, "not a feed (binary content)")
    # decoded here rather than by feedparser, which has no detector and reads what it cannot
    # decode as Windows-1252 (see bot.ingest.encoding)
    # cut before decoding (a 40 MB feed is not decoded whole), and again after for UTF-16/32,
    # whose end tags the byte pattern cannot see
    data = _first_entries(data, url)
    decoded = decode_document(data, content_type)
    if decoded.detected:
        log.info("feed %s declares no usable encoding; read as %s", url, decoded.encoding)
    document = as_utf8_xml(_without_entity_declarations(decoded.text))
    if decoded.encoding.startswith(("utf-16", "utf-32")):
        document = _first_entries(document, url)
    headers = {"content-location": url, "content-type": "application/xml; charset=utf-8"}
    import feedparser

    try:
        # a BytesIO, never a str: feedparser fetches strings that look like URLs
        parsed: Any = feedparser.parse(io.BytesIO(document), response_headers=headers)
    except Exception as exc:  # feedparser's lenient parsers still have failure modes
        log.warning("feedparser failed on %s: %s: %s", url, type(exc).__name__, exc)
        raise SourceError(url, "could not parse the feed") from None
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        raise _not_a_feed(url, data, content_type, parsed)
    if parsed.get("bozo"):
        # lenient by design: a feed with one bad character still has good entries
        log.info(
            "feed %s is not well-formed (%s); keeping %d entries",
            url,
            parsed.get("bozo_exception"),
            len(entries),
        )
    feed = parsed.get("feed") or {}
    raw_title = _detail_text(feed.get("title_detail")) or str(feed.get("title") or "")
    title = _one_line(raw_title) or None
    result = _Parsed(title=title, outlet=_feed_outlet(feed, title, url), count=len(entries))
    if decoded.garbled:
        note = f"its text still looks garbled (mojibake) after reading it as {decoded.encoding}"
        log.warning("feed %s: %s", url, note)
        result.notes.append(note)
    if not entries:
        result.notes.append("the feed has no entries")
    captions = _media_captions(document)
    feed_language = normalize_language(feed.get("language"))
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label = f"entry {number}"
        try:
            _read_entry(entry, label, url, fetched_at, result, seen, captions, feed_language)
        except Exception as exc:  # one odd entry must not cost the feed its other entries
            log.warning("feed %s: %s unreadable: %s: %s", url, label, type(exc).__name__, exc)
            result.skipped.append(f"{label}: could not be read ({type(exc).__name__})")
    return result


def _read_entry(
    entry: Mapping[str, Any],
    label: str,
    url: str,
    fetched_at: datetime,
    result: _Parsed,
    seen: set[str],
    captions: frozenset[str],
    feed_language: str | None,
) -> None:
    entry_title = _one_line(_detail_text(entry.get("title_detail")) or entry.get("title", ""))
    if entry_title:
        label += f" ({entry_title[:60]!r})"
    text, full = _entry_text(entry, captions)
    empty_reason = "no text"
    if not text and captions:
        raw = [entry.get("summary_detail"), *(entry.get("content") or ())]
        if any(_is_caption(_detail_text(block), captions) for block in raw if block):
            empty_reason = "only a photo caption"
    link = _entry_link(entry, url)
    # an entry without a link (feedparser's own test feeds, many podcasts and notices) is kept
    # under a stable address of its own: its page cannot be fetched, its text is all there is
    canonical = canonical_url(link) if link else _entry_id_url(entry, url, entry_title, text)
    if canonical in seen:
        result.skipped.append(f"{label}: duplicate of an earlier entry")
        return
    seen.add(canonical)
    language = None
    for block in entry.get("content") or ():
        language = language or normalize_language(block.get("language"))
    article = Article(
        url=canonical,
        title=entry_title or _fallback_title(text) or host_of(canonical),
        source=result.outlet or "",
        text=text,
        published=_entry_date(entry, fetched_at),
        fetched_at=fetched_at,
        language=language or feed_language,
        # the entry as the feed gave it, before a teaser is completed from its page: what a
        # later poll compares with to tell a changed entry without fetching the page
        entry_hash=content_hash(text),
    )
    teaser = bool(link) and not full
    result.entries.append(_Entry(article, link, teaser, captions, empty_reason))


def parse_feed(
    data: bytes, url: str, *, fetched_at: datetime, content_type: str | None = None
) -> tuple[str | None, list[Article]]:
    """Parse RSS 2.0, RSS 1.0 or Atom bytes into articles (no network access).

    Malformed XML is accepted when feedparser still found entries. Entries without
    text are left out (logged); an entry without a link is kept under a stable address
    of its own (the feed's URL and a fragment from its guid, or its title and date).
    Teasers are kept as they are; `poll_feed` is what completes them from their pages.

    Args:
        data: The feed document.
        url: Where it came from: resolves relative links; names the outlet when the
            feed does not (see `bot.ingest.outlets`).
        fetched_at: Stamped on every article.
        content_type: The HTTP Content-Type, if known (helps encoding detection).

    Returns:
        The feed's title (None if it has none) and its articles in feed order,
        with canonical URLs.

    Raises:
        SourceError: The data is empty, binary, HTML, or not a feed at all.
    """
    parsed = _parse(data, url, fetched_at, content_type)
    articles: list[Article] = []
    for entry in parsed.entries:
        if entry.article.text:
            articles.append(entry.article)
        else:
            parsed.skipped.append(f"{entry.article.url}: {entry.empty_reason}")
    for reason in parsed.skipped:
        log.info("feed %s: skipped %s", url, reason)
    return parsed.title, articles


# --- polling ----------------------------------------------------------------------------


def backoff_delay(error_count: int) -> timedelta:
    """How long to leave a feed alone after `error_count` consecutive failures.

    ``BACKOFF_BASE * 2 ** (error_count - 1)``, capped at `BACKOFF_MAX`: 5 min after
    the first failure, then 10, 20, 40 min... and at most 6 h.
    """
    if error_count <= 0:
        return timedelta(0)
    # cap the exponent: 2**63 minutes would overflow timedelta long before the max applies
    exponent = min(error_count - 1, 16)
    return min(BACKOFF_BASE * (1 << exponent), BACKOFF_MAX)


def _aware(moment: datetime) -> datetime:
    # stores may hand back naive datetimes; they are UTC by convention
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def is_due(state: FeedState | None, now: datetime) -> bool:
    """Whether a feed may be polled at `now` (a never-polled feed always may).

    Args:
        state: The stored state, or None for a new feed.
        now: The current time; naive datetimes are taken as UTC.

    Returns:
        False while a failure backoff (or `FeedPolicy.min_interval`) is running.
    """
    if state is None or state.next_poll is None:
        return True
    return _aware(now) >= _aware(state.next_poll)


async def _complete_teasers(
    entries: list[_Entry],
    policy: FeedPolicy,
    is_known: Callable[[Article], bool] | None,
) -> tuple[list[Article], list[str]]:
    """Replace teaser text by the page's main text where the page can be fetched and is an
    article. Returns the articles, and one line per page whose text was not the article (a
    photo caption, navigation, a cookie notice), for which the feed's summary was kept."""
    todo = [
        i
        for i, e in enumerate(entries)
        if e.teaser
        and e.link
        and len(e.article.text) < policy.teaser_chars
        and not (is_known is not None and is_known(e.article))
    ][: max(policy.max_teaser_fetches, 0)]
    gate = asyncio.Semaphore(max(policy.teaser_concurrency, 1))
    refused: list[str] = []

    async def complete(entry: _Entry) -> Article:
        article = entry.article
        assert entry.link is not None  # `todo` holds entries with a page only
        async with gate:
            try:
                page = await fetch_page(entry.link, policy.fetch, captions=entry.captions)
            except PageTextError as exc:
                log.info("teaser page %s is %s; the feed's summary is kept", article.url, exc.what)
                refused.append(f"{article.url}: the page is {exc.what}")
                return article
            except SourceError as exc:
                # the teaser is better than losing the entry
                log.info("teaser page %s not fetched: %s", article.url, exc.reason)
                return article
        if len(page.text) <= len(article.text):
            return article
        return replace(
            article,
            text=page.text,
            published=article.published or page.published,
            language=article.language or page.language,
        )

    done = await asyncio.gather(*(complete(entries[i]) for i in todo))
    articles = [e.article for e in entries]
    for i, article in zip(todo, done, strict=True):
        articles[i] = article
    return articles, refused


def _failed(previous: FeedState, now: datetime, reason: str) -> FeedPoll:
    errors = previous.error_count + 1
    delay = backoff_delay(errors)
    log.warning(
        "feed %s failed (%d in a row, next try in %s): %s", previous.url, errors, delay, reason
    )
    state = replace(
        previous,
        last_polled=now,
        error_count=errors,
        last_error=reason,
        next_poll=now + delay,
    )
    return FeedPoll(articles=[], state=state, title=None, error=reason)


async def poll_feed(
    url: str,
    state: FeedState | None,
    policy: FeedPolicy | FetchPolicy,
    *,
    now: datetime | None = None,
    fetch_teasers: bool = True,
    is_known: Callable[[Article], bool] | None = None,
) -> FeedPoll:
    """Fetch a feed once and return its articles and the state to store.

    Sends ``If-None-Match`` / ``If-Modified-Since`` from `state`; a 304 returns no
    articles with ``not_modified=True``. On success the error count is reset and
    the validators are replaced by the response's. On failure the previous
    validators are kept, the error count grows and ``next_poll`` is pushed back
    by `backoff_delay`. This function does not check `is_due`; the caller does.

    Args:
        url: The feed URL as subscribed (kept as ``state.url``).
        state: The stored state, or None for a feed never polled.
        policy: A `FeedPolicy`, or a `FetchPolicy` to use with default feed settings.
        now: The current time (default: now, UTC); stamped on state and articles.
        fetch_teasers: Fetch the pages of teaser-only entries for their full text.
        is_known: Tells whether an entry (as parsed, with its `entry_hash`) is stored
            unchanged; such entries keep their teaser text instead of having their page
            fetched again.

    Returns:
        The poll outcome. Never raises for problems with the source; they are in
        ``error`` and counted in ``state``.
    """
    feed_policy = policy if isinstance(policy, FeedPolicy) else FeedPolicy(fetch=policy)
    now = _aware(now or datetime.now(UTC))
    previous = state or FeedState(url=url)
    try:
        result = await fetch(
            url,
            feed_policy.fetch,
            etag=previous.etag,
            last_modified=previous.last_modified,
            accept=FEED_ACCEPT,
        )
    except SourceError as exc:
        return _failed(previous, now, exc.reason)
    return await read_feed(
        result, previous, feed_policy, now=now, fetch_teasers=fetch_teasers, is_known=is_known
    )


async def read_feed(
    result: FetchResult,
    previous: FeedState,
    policy: FeedPolicy,
    *,
    now: datetime,
    fetch_teasers: bool = True,
    is_known: Callable[[Article], bool] | None = None,
) -> FeedPoll:
    """Turn a fetched feed response into a FeedPoll (see `poll_feed`).

    Lets a caller that fetched a URL without knowing whether it is a feed or a page use the
    same response, instead of fetching it twice.
    """
    url = previous.url
    try:
        next_poll = now + policy.min_interval if policy.min_interval else None
        if result.status == 304:
            unchanged = replace(
                previous,
                etag=result.headers.get("etag") or previous.etag,
                last_modified=result.headers.get("last-modified") or previous.last_modified,
                last_polled=now,
                last_ok=now,
                error_count=0,
                last_error=None,
                next_poll=next_poll,
            )
            log.debug("feed %s not modified", url)
            return FeedPoll([], unchanged, title=None, error=None, not_modified=True)
        # parsing is CPU-bound; a big feed would otherwise stall the bot's event loop
        parsed = await asyncio.to_thread(
            _parse, result.body, result.url, now, result.headers.get("content-type")
        )
        refused: list[str] = []
        if fetch_teasers:
            articles, refused = await _complete_teasers(parsed.entries, policy, is_known)
        else:
            articles = [e.article for e in parsed.entries]
    except SourceError as exc:
        return _failed(previous, now, exc.reason)
    except Exception as exc:
        # one broken feed must not stop the scheduler; the traceback goes to the log
        log.exception("unexpected error polling feed %s", url)
        return _failed(previous, now, f"unexpected error ({type(exc).__name__})")
    kept: list[Article] = []
    skipped = list(parsed.skipped)
    for entry, article in zip(parsed.entries, articles, strict=True):
        if article.text:
            kept.append(article)
        else:
            skipped.append(f"{article.url}: {entry.empty_reason}")
    for reason in skipped:
        log.info("feed %s: skipped %s", url, reason)
    notes = list(parsed.notes)
    if refused:
        notes.append(
            f"{len(refused)} linked page(s) held only a photo caption, navigation or a cookie "
            "notice; their feed summary was kept"
        )
    if parsed.count and not kept:
        notes.append(f"none of its {parsed.count} entries has any text")
    fresh = replace(
        previous,
        etag=result.headers.get("etag"),
        last_modified=result.headers.get("last-modified"),
        last_polled=now,
        last_ok=now,
        error_count=0,
        last_error=None,
        next_poll=next_poll,
        entries=len(kept),
    )
    return FeedPoll(
        kept,
        fresh,
        title=parsed.title,
        error=None,
        skipped=tuple(skipped),
        notes=tuple(notes),
        outlet=parsed.outlet,
    )
