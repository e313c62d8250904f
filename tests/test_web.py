"""Web pages: main-text extraction with trafilatura, and fetching pages from loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.ingest.web import extract_article, fetch_page
from tests.servers import LoopbackServer, stream_bytes

ARTICLE = (Path(__file__).parent / "data" / "article.html").read_bytes()
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06" + bytes(64)

BOILERPLATE = [
    "ADVERTISEMENT",
    "Subscribe for 1 euro",
    "Most read",
    "Ferry timetable",
    "All rights reserved",
    "Privacy policy",
    "Cookie settings",
    "dataLayer",
]


def test_extract_article_main_text_and_metadata() -> None:
    article = extract_article(
        ARTICLE, "https://www.Coastal.example/news/solar?utm_source=x#top", fetched_at=NOW
    )
    assert article.url == "https://www.coastal.example/news/solar"
    assert article.title == "Harbour city opens floating solar farm"
    assert article.source == "The Coastal Ledger"
    assert article.published == datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
    assert article.fetched_at == NOW
    assert article.language == "en"
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0].startswith("The city council switched on a 12-megawatt")
    assert paragraphs[-1].startswith("Environmental groups welcomed the project")
    assert len(paragraphs) == 5
    for junk in BOILERPLATE:
        assert junk not in article.text, junk


def test_source_falls_back_to_host() -> None:
    page = (
        "<html><head><title>Plain page</title></head><body><article>"
        "<p>A page without a site name or an author, but with enough words to be an article "
        "that someone would want to read and summarise.</p>"
        "<p>A second paragraph makes the extraction confident.</p>"
        "</article></body></html>"
    )
    article = extract_article(page, "https://www.plain.example/p/1")
    assert article.source == "plain.example"
    assert article.title == "Plain page"
    assert article.published is None


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (b"", "empty page"),
        (b" \n\t", "empty page"),
        (PNG, "not a web page (binary content)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not a web page (binary content)"),
        (
            b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
            "no article text found on the page",
        ),
    ],
)
def test_extract_rejects_non_articles(page: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as info:
        extract_article(page, "https://example.org/x")
    assert info.value.reason == reason


async def test_fetch_page(loopback: LoopbackServer) -> None:
    loopback.add("/news/solar", ARTICLE)
    url = loopback.redirect("/s/abc", "/news/solar?utm_campaign=share&fbclid=1")
    article = await fetch_page(url, loopback.policy())
    # the final address after redirects, canonical
    assert article.url == loopback.url("/news/solar")
    assert article.source == "The Coastal Ledger"
    assert "22,000 panels" in article.text
    assert "text/html" in loopback.requests_for("/s/abc")[0].headers["accept"]


async def test_fetch_page_honours_http_charset(loopback: LoopbackServer) -> None:
    body = (
        "<html><head><title>Caf\u00e9 culture</title></head><body><article>"
        "<p>Les caf\u00e9s de la ville ferment plus t\u00f4t cet \u00e9t\u00e9, "
        "faute de personnel en terrasse.</p>"
        "<p>Les patrons r\u00e9clament une aide de la mairie pour recruter.</p>"
        "</article></body></html>"
    ).encode("latin-1")
    url = loopback.add("/fr", body, content_type="text/html; charset=iso-8859-1")
    article = await fetch_page(url, loopback.policy())
    assert "caf\u00e9s" in article.text and "\u00e9t\u00e9" in article.text


async def test_fetch_page_refuses_images(loopback: LoopbackServer) -> None:
    url = loopback.add("/logo.png", PNG, content_type="image/png")
    with pytest.raises(SourceError) as info:
        await fetch_page(url, loopback.policy())
    assert info.value.reason == "not a web page (got image/png)"


async def test_fetch_page_binary_mislabelled_as_html(loopback: LoopbackServer) -> None:
    url = loopback.add("/page", PNG, content_type="text/html")
    with pytest.raises(SourceError, match="binary content"):
        await fetch_page(url, loopback.policy())


async def test_fetch_page_empty(loopback: LoopbackServer) -> None:
    url = loopback.add("/empty", b"")
    with pytest.raises(SourceError) as info:
        await fetch_page(url, loopback.policy())
    assert info.value.reason == "empty page"
    assert info.value.url == url


async def test_fetch_page_huge_is_capped(loopback: LoopbackServer) -> None:
    url = loopback.add("/huge", body=stream_bytes(50_000_000, fill=b"<p>lorem ipsum</p>"))
    with pytest.raises(SourceError) as info:
        await fetch_page(url, loopback.policy(max_bytes=1_000_000))
    assert info.value.reason == "response larger than 1 MB"


async def test_fetch_page_http_error(loopback: LoopbackServer) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        await fetch_page(loopback.url("/missing"), loopback.policy())
