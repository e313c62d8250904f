"""Feeds: parsing RSS 2.0 / RSS 1.0 / Atom, polling a real loopback server, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.ingest.feeds import (
    BACKOFF_MAX,
    FeedPolicy,
    backoff_delay,
    html_to_text,
    is_due,
    looks_like_feed,
    parse_feed,
    poll_feed,
)
from bot.models import FeedState
from tests.servers import LoopbackServer

DATA = Path(__file__).parent / "data"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


# --- parsing ---------------------------------------------------------------------------


def test_rss2() -> None:
    title, articles = parse_feed(_read("rss2.xml"), "https://coastal.example/feed", fetched_at=NOW)
    assert title == "The Coastal Ledger & Friends"
    urls = [a.url for a in articles]
    assert urls[:3] == [
        "https://coastal.example/news/solar?id=7",  # tracking params and fragment gone
        "https://coastal.example/news/ferry/",
        "https://coastal.example/news/guid-only",  # permalink guid stands in for the link
    ]
    # the entry without a link is kept, under the feed's address and an id from its guid
    assert urls[3].startswith("https://coastal.example/feed#id")
    assert articles[3].title == "Entry with no link at all"
    assert len(urls) == 4
    solar = articles[0]
    assert solar.title == "Harbour city opens floating solar farm"
    assert solar.source == "The Coastal Ledger & Friends"
    assert solar.published == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    assert solar.fetched_at == NOW
    assert solar.language == "en-us"
    # content:encoded wins over the description; HTML becomes paragraphs; script dropped
    assert solar.text.split("\n\n") == [
        "The city council switched on a 12-megawatt floating solar farm on the disused dock "
        "basin on Thursday.",
        "About 22,000 panels rest on plastic pontoons anchored to the basin floor. "
        "Engineers say the water keeps them cool.",
        "Surplus power will be stored in a battery hall next to the quay.",
    ]
    assert "alert" not in solar.text
    ferry = articles[1]
    assert ferry.text.count("\n\n") == 3 and "<p>" not in ferry.text
    # the entry with no text is skipped
    assert all("empty" not in a.url for a in articles)


def test_atom() -> None:
    title, articles = parse_feed(
        _read("atom.xml"), "https://blog.example.org/atom.xml", fetched_at=NOW
    )
    assert title == "Notes from the lab"
    first, second = articles
    # relative link resolved against xml:base, fbclid dropped
    assert first.url == "https://blog.example.org/posts/sea-spray"
    assert first.published == datetime(2024, 5, 1, 6, 15, tzinfo=UTC)
    assert first.text == (
        "Setup\n\nWe mounted six particle counters on the pier railing.\n\n"
        "Each one cost less than forty euros."
    )
    assert first.language == "de"
    assert second.title == "Tide tables revisited"
    assert second.published == datetime(2024, 4, 20, 6, 0, tzinfo=UTC)  # from <updated>
    assert second.text.startswith("Tide tables from 1950")


def test_rss1() -> None:
    title, articles = parse_feed(
        _read("rss1.xml"), "https://science.example.net/rss", fetched_at=NOW
    )
    assert title == "Science Wire"
    assert [a.url for a in articles] == [
        "https://science.example.net/a/1",
        "https://science.example.net/a/2",
    ]
    assert articles[0].published == datetime(2024, 2, 10, 14, 0, tzinfo=UTC)
    assert articles[1].published == datetime(2024, 2, 9, tzinfo=UTC)
    assert articles[0].language == "fr"
    assert articles[0].text.startswith("Satellite radar shows")


def test_untitled_feed_uses_host_as_source() -> None:
    data = (
        b"<rss version='2.0'><channel><item><link>https://www.news.example/a</link>"
        b"<description>Enough text to keep this entry.</description></item></channel></rss>"
    )
    title, articles = parse_feed(data, "https://www.news.example/rss", fetched_at=NOW)
    assert title is None
    assert articles[0].source == "news.example"
    assert articles[0].title == "Enough text to keep this entry."  # no title: text stands in


def test_html_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    with pytest.raises(SourceError) as info:
        parse_feed(page, "https://example.org/", fetched_at=NOW)
    assert info.value.reason == "not a feed (got HTML)"


def test_malformed_feed_keeps_entries() -> None:
    # unescaped "&" and an unclosed <b>: not XML, but feedparser still reads entries
    data = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>Loose</title>"
        b"<item><title>Fish & chips</title><link>https://x.example/1</link>"
        b"<description>Prices rise at the seaside stalls this summer.</description></item>"
        b"<item><title>Two</title><link>https://x.example/2</link>"
        b"<description>broken <b>markup</description></item>"
    )
    title, articles = parse_feed(data, "https://x.example/rss", fetched_at=NOW)
    assert title == "Loose"
    assert [a.url for a in articles] == ["https://x.example/1", "https://x.example/2"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty response"),
        (b"  \n ", "empty response"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a feed (binary content)"),
        (b"<?xml version='1.0'?><config><a/></config>", "not a feed (no RSS or Atom element"),
        (b"this is { not xml", "not a feed (malformed XML"),
    ],
)
def test_not_feeds(data: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_feed(data, "https://example.org/feed", fetched_at=NOW)
    assert info.value.reason.startswith(reason)


def test_empty_but_valid_feed() -> None:
    data = b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>"
    assert parse_feed(data, "https://example.org/feed", fetched_at=NOW) == ("Quiet", [])


def test_html_to_text() -> None:
    html = "<p>One  two\n three.</p><div>Next<br>line<br><br>New para</div><ul><li>a</li></ul>"
    assert html_to_text(html) == "One two three.\n\nNext line\n\nNew para\n\na"
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text("") == ""


def test_looks_like_feed() -> None:
    assert looks_like_feed(b"", "application/rss+xml; charset=utf-8")
    assert looks_like_feed(b"\xef\xbb\xbf<?xml version='1.0'?>\n<feed xmlns='...'>", "text/xml")
    assert not looks_like_feed(b"<!doctype html><html>", "text/html")


# --- polling ---------------------------------------------------------------------------


def _teaser_feed(base: str) -> str:
    return f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Ledger Teasers</title>
<item><title>Harbour city opens floating solar farm</title>
  <link>{base}/news/solar?utm_source=rss</link>
  <pubDate>Thu, 14 Mar 2024 09:30:00 GMT</pubDate>
  <description>A 12-megawatt array opens. Read more...</description></item>
<item><title>Page that is gone</title>
  <link>{base}/news/gone</link>
  <description>The teaser survives when its page does not.</description></item>
</channel></rss>"""


async def test_teaser_gets_page_text(loopback: LoopbackServer) -> None:
    loopback.add("/news/solar", _read("article.html"))
    url = loopback.add("/rss", _teaser_feed(loopback.base_url), content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert poll.error is None
    solar, gone = poll.articles
    assert solar.url == loopback.url("/news/solar")
    assert solar.title == "Harbour city opens floating solar farm"
    assert solar.source == "Ledger Teasers"
    assert "22,000 panels" in solar.text and "ADVERTISEMENT" not in solar.text
    assert solar.published == datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
    # the page fetch 404s: keep the teaser rather than lose the entry
    assert gone.text == "The teaser survives when its page does not."


async def test_teaser_fetch_can_be_disabled(loopback: LoopbackServer) -> None:
    loopback.add("/news/solar", _read("article.html"))
    url = loopback.add("/rss", _teaser_feed(loopback.base_url), content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    assert poll.articles[0].text == "A 12-megawatt array opens."  # without its "Read more..."
    assert loopback.requests_for("/news/solar") == []


async def test_known_articles_are_not_refetched(loopback: LoopbackServer) -> None:
    loopback.add("/news/solar", _read("article.html"))
    url = loopback.add("/rss", _teaser_feed(loopback.base_url), content_type="application/rss+xml")
    known = {loopback.url("/news/solar")}
    poll = await poll_feed(
        url, None, loopback.policy(), now=NOW, is_known=lambda entry: entry.url in known
    )
    assert len(poll.articles) == 2
    assert loopback.requests_for("/news/solar") == []


async def test_second_poll_is_conditional_and_304(loopback: LoopbackServer) -> None:
    stamp = "Thu, 14 Mar 2024 10:00:00 GMT"
    url = loopback.add(
        "/feed.xml",
        _read("rss2.xml"),
        content_type="application/rss+xml",
        etag='"v1"',
        last_modified=stamp,
    )
    first = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert first.error is None and first.not_modified is False
    assert first.title == "The Coastal Ledger & Friends"
    assert len(first.articles) == 4
    assert (first.state.etag, first.state.last_modified) == ('"v1"', stamp)
    assert first.state.last_ok == NOW and first.state.error_count == 0
    assert first.state.entries == 4
    assert any("no text" in s for s in first.skipped)

    later = NOW + timedelta(minutes=30)
    second = await poll_feed(url, first.state, loopback.policy(), now=later)
    sent = loopback.requests_for("/feed.xml")[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == stamp
    assert second.not_modified is True
    assert second.articles == [] and second.error is None and second.title is None
    assert (second.state.etag, second.state.last_modified) == ('"v1"', stamp)
    assert second.state.last_polled == later and second.state.last_ok == later


async def test_html_instead_of_feed(loopback: LoopbackServer) -> None:
    url = loopback.add("/feed", _read("article.html"), content_type="text/html")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert poll.error == "not a feed (got HTML)"
    assert poll.articles == [] and poll.state.error_count == 1


async def test_failure_backs_off_and_success_resets(loopback: LoopbackServer) -> None:
    url = loopback.add("/feed", "oops", status=500)
    state = FeedState(url=url, etag='"old"', last_ok=NOW - timedelta(days=1), error_count=2)
    failed = await poll_feed(url, state, loopback.policy(), now=NOW)
    assert failed.error == "HTTP 500"
    assert failed.state.error_count == 3
    assert failed.state.last_error == "HTTP 500"
    assert failed.state.next_poll == NOW + timedelta(minutes=20)  # 5 min * 2**2
    assert failed.state.etag == '"old"'  # validators survive a failure
    assert failed.state.last_ok == NOW - timedelta(days=1)
    assert not is_due(failed.state, NOW + timedelta(minutes=19))
    assert is_due(failed.state, NOW + timedelta(minutes=20))

    loopback.add("/feed", _read("rss1.xml"), content_type="application/rdf+xml")
    ok = await poll_feed(url, failed.state, loopback.policy(), now=NOW + timedelta(hours=1))
    assert ok.error is None and len(ok.articles) == 2
    assert (ok.state.error_count, ok.state.last_error, ok.state.next_poll) == (0, None, None)
    assert ok.state.etag is None  # the new response had no ETag: the old one is stale


async def test_poll_never_raises_for_blocked_or_dead_sources() -> None:
    poll = await poll_feed("http://169.254.169.254/feed", None, FeedPolicy(), now=NOW)
    assert poll.error is not None and "link-local" in poll.error
    assert poll.state.error_count == 1 and poll.state.url == "http://169.254.169.254/feed"


async def test_min_interval_sets_next_poll(loopback: LoopbackServer) -> None:
    url = loopback.add("/feed", _read("atom.xml"), content_type="application/atom+xml")
    policy = FeedPolicy(fetch=loopback.policy(), min_interval=timedelta(minutes=15))
    poll = await poll_feed(url, None, policy, now=NOW)
    assert poll.state.next_poll == NOW + timedelta(minutes=15)


# --- backoff ---------------------------------------------------------------------------


def test_backoff_delay() -> None:
    assert backoff_delay(0) == timedelta(0)
    assert backoff_delay(1) == timedelta(minutes=5)
    assert backoff_delay(2) == timedelta(minutes=10)
    assert backoff_delay(4) == timedelta(minutes=40)
    assert backoff_delay(7) == timedelta(hours=5, minutes=20)
    assert backoff_delay(8) == BACKOFF_MAX == timedelta(hours=6)
    assert backoff_delay(10_000) == BACKOFF_MAX


def test_is_due() -> None:
    assert is_due(None, NOW)
    assert is_due(FeedState(url="u"), NOW)
    waiting = FeedState(url="u", next_poll=NOW + timedelta(minutes=5))
    assert not is_due(waiting, NOW)
    assert is_due(waiting, NOW + timedelta(minutes=5))
    # a store that returns naive datetimes (UTC) must not break the comparison
    naive = FeedState(url="u", next_poll=datetime(2024, 6, 1, 12, 5))
    assert not is_due(naive, NOW)
    assert is_due(naive, datetime(2024, 6, 1, 12, 6))
