"""Web pages: fetch one and turn its main text into an `Article` with trafilatura.

trafilatura separates the article body from navigation, ads, related-links
boxes and footers, and reads the metadata (title, date, site name, author) from
``<meta>`` tags, JSON-LD and the markup.

trafilatura is imported by the functions that use it (about 0.1 s of a start): commands that
never read a page, such as `digest`, do not load it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import PageTextError, SourceError
from bot.ingest.clean import clean_text, page_problem
from bot.ingest.dates import plausible
from bot.ingest.encoding import looks_mojibake, sniff_unicode
from bot.ingest.http import FetchPolicy, fetch
from bot.ingest.outlets import outlet_name
from bot.ingest.urls import canonical_url, host_of
from bot.models import Article

log = logging.getLogger(__name__)

__all__ = [
    "MIN_PAGE_TEXT",
    "PAGE_ACCEPT",
    "PageTextError",
    "extract_article",
    "fetch_page",
    "looks_binary",
    "normalize_language",
    "paragraphs",
]

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.5,*/*;q=0.1"

# media types that can hold an article; anything else (images, PDFs, archives) is refused
_TEXT_TYPES = ("text/", "application/xhtml+xml", "application/xml")

# leading bytes of common binary formats (a page of them would parse as garbage)
_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",  # JPEG
    b"%PDF",
    b"PK\x03\x04",  # zip, docx, epub
    b"\x1f\x8b",  # gzip
    b"RIFF",  # webp, wav
    b"\x00\x00\x00",  # mp4/heic boxes
    b"OggS",
    b"ID3",
    b"BZh",
    b"\xfd7zXZ",
)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

#: Fewer characters of main text than this is a menu or a cookie wall, not an article.
MIN_PAGE_TEXT = 40


def looks_binary(data: bytes) -> bool:
    """Whether `data` is evidently not text (a known binary signature or NUL bytes)."""
    head = data[:1024]
    if head.startswith(_MAGIC) and not head.startswith(b"\x00\x00\x00<"):
        return True
    if sniff_unicode(head):
        return False  # UTF-16 and UTF-32 text legitimately contains NUL bytes
    return b"\x00" in head


def paragraphs(text: str) -> str:
    """Normalise extracted text: one paragraph per block, separated by a blank line."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    for fmt in (_DATE_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        # a date without a zone is taken as UTC: good enough to order stories by day
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    log.debug("unparsed page date %r", value)
    return None


def normalize_language(value: str | None) -> str | None:
    """A language tag in one spelling (``en_US`` and ``EN-us`` become ``en-us``)."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if tag and len(tag) <= 35 and tag.replace("-", "").isalnum() else None


def _extract(html: Any, url: str, now: datetime) -> Any:
    """Run trafilatura on a parsed tree (lxml has no type stubs here, hence Any)."""
    date_params = {
        "original_date": True,
        "extensive_search": True,
        # a date past tomorrow is a parsing accident, not a publication date
        "max_date": (now + timedelta(days=1)).strftime("%Y-%m-%d"),
        "outputformat": _DATE_FORMAT,
    }
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            date_extraction_params=date_params,
        )
    except Exception as exc:
        # trafilatura and lxml can fail in many ways on hostile markup; a bad page
        # must become a SourceError, not crash the ingest run
        log.warning("trafilatura failed on %s: %s: %s", url, type(exc).__name__, exc)
        raise SourceError(url, "could not parse the page") from None


def extract_article(
    html: bytes | str,
    url: str,
    *,
    fetched_at: datetime | None = None,
    captions: Collection[str] = (),
) -> Article:
    """Extract the main text and metadata of an HTML page.

    Args:
        html: The page, as bytes (encoding sniffed from the markup) or text.
        url: Where the page came from; stored canonicalised.
        fetched_at: When it was fetched (default: now, UTC).
        captions: Normalised photo captions of the feed entry that links to the page (see
            `bot.ingest.clean.normalized`): a page whose text is only one of them has none.

    Returns:
        The article: text with paragraphs separated by blank lines and furniture (photo
        credits, "Read more", cookie notices, navigation) left out, title (falls back to the
        host name), source from the site name cleaned of section names (falls back to the
        site's domain, see `bot.ingest.outlets`), publication date if the page gives a
        believable one.

    Raises:
        PageTextError: What the page holds is a photo caption, navigation or a cookie notice.
        SourceError: The page is empty, binary, or has no main text.
    """
    now = fetched_at or datetime.now(UTC)
    canonical = canonical_url(url)
    raw = html.encode("utf-8", "replace") if isinstance(html, str) else html
    if not raw.strip():
        raise SourceError(canonical, "empty page")
    if looks_binary(raw):
        raise SourceError(canonical, "not a web page (binary content)")
    from trafilatura.utils import load_html

    try:
        tree = load_html(html)
    except Exception as exc:  # lxml parse failures on hostile input; see _extract
        log.warning("could not parse %s: %s: %s", canonical, type(exc).__name__, exc)
        tree = None
    if tree is None:
        raise SourceError(canonical, "not a web page (could not parse the HTML)")
    doc = _extract(tree, canonical, now)
    extracted = paragraphs(getattr(doc, "text", None) or "") if doc is not None else ""
    title = _one_line(getattr(doc, "title", None) or "")
    first, _, rest = extracted.partition("\n\n")
    if title and first == title and rest:
        # the page's <h1> repeats the title; keep the text to the story itself
        extracted = rest
    elif len(title.split()) >= 4 and first.startswith(title + " "):
        # the same, glued to what follows it (an <h1> and a <figcaption>)
        extracted = extracted[len(title) :].lstrip()
    problem = page_problem(extracted, captions)
    if problem:
        raise PageTextError(canonical, problem)
    text = clean_text(extracted, captions)
    if len(text) < MIN_PAGE_TEXT:
        raise SourceError(canonical, "no article text found on the page")
    host = host_of(canonical) or canonical
    if looks_mojibake(f"{title} {text}"):
        log.warning("page %s: its text looks garbled (mojibake)", canonical)
    sitename = _one_line(getattr(doc, "sitename", None) or "")
    language = normalize_language(getattr(doc, "language", None) or tree.get("lang"))
    return Article(
        url=canonical,
        title=title or host,
        source=outlet_name([sitename], canonical),
        text=text,
        published=plausible(_parse_date(getattr(doc, "date", None)), now),
        fetched_at=now,
        language=language,
    )


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


async def fetch_page(url: str, policy: FetchPolicy, *, captions: Collection[str] = ()) -> Article:
    """Fetch a web page and extract its article.

    Args:
        url: The page URL (checked against the policy, like every fetch).
        policy: Fetch limits and address rules.
        captions: Photo captions of the feed entry that links to it (see `extract_article`).

    Returns:
        The article; its URL is the canonical form of the final URL after redirects.

    Raises:
        SourceError: The fetch failed (see `fetch`), the response is not a web
            page, or it has no main text. `BlockedURLError` for refused addresses,
            `PageTextError` for a page that holds no article (see `extract_article`).
    """
    result = await fetch(url, policy, accept=PAGE_ACCEPT)
    if result.status == 304:  # we sent no validators; a 304 here is a broken server
        raise SourceError(url, "HTTP 304 without a conditional request", 304)
    media = result.content_type
    if media and not media.startswith(_TEXT_TYPES):
        raise SourceError(url, f"not a web page (got {media})")
    html: bytes | str = result.body
    charset = _charset(result.headers.get("content-type", ""))
    if charset and result.body:
        # the HTTP charset wins over guessing; fall back to sniffing if it lies
        try:
            html = result.body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            html = result.body
    try:
        # extraction is CPU-bound (tens of ms, more for big pages): keep the event loop free
        return await asyncio.to_thread(
            extract_article, html, result.url, fetched_at=datetime.now(UTC), captions=captions
        )
    except PageTextError as exc:
        raise PageTextError(url, exc.what) from None
    except SourceError as exc:
        raise SourceError(url, exc.reason, exc.status) from None
