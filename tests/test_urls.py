"""canonical_url: one address per document, whatever decorations a link carries."""

from __future__ import annotations

import pytest

from bot.ingest.urls import canonical_url, host_of


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host are case-insensitive; the path is not
        ("HTTPS://Example.COM/News/Story", "https://example.com/News/Story"),
        # default ports go, others stay
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        # fragment dropped
        ("https://example.com/a#comments", "https://example.com/a"),
        # tracking parameters dropped, the rest sorted
        (
            "https://example.com/a?utm_source=rss&utm_medium=feed&b=2&a=1",
            "https://example.com/a?a=1&b=2",
        ),
        ("https://example.com/a?fbclid=XYZ", "https://example.com/a"),
        ("https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&igshid=4", "https://example.com/a"),
        ("https://example.com/a?ref=hn&ref_src=twsrc&cmpid=x&id=9", "https://example.com/a?id=9"),
        ("https://example.com/a?UTM_Campaign=x&page=2", "https://example.com/a?page=2"),
        # values keep their encoding; empty parameters survive, empty pairs don't
        ("https://example.com/s?q=a+b&x=%2F&&flag", "https://example.com/s?flag&q=a+b&x=%2F"),
        # trailing slash removed only for the empty path
        ("https://example.com/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/?utm_source=x", "https://example.com"),
        ("https://example.com/section/", "https://example.com/section/"),
        # IPv6 literal, trailing dot, whitespace
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("https://Example.com./a", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        # non-http URLs pass through with their scheme lower-cased
        ("FILE:///tmp/notes.txt", "file:///tmp/notes.txt"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    url = "HTTPS://Example.com:443/a/?z=1&utm_term=x&a=2#top"
    once = canonical_url(url)
    assert once == "https://example.com/a/?a=2&z=1"
    assert canonical_url(once) == once


def test_same_story_different_decorations_agree() -> None:
    variants = [
        "https://news.example/story?id=5&utm_source=twitter",
        "https://NEWS.example:443/story?fbclid=abc&id=5#top",
        "https://news.example/story?id=5&ref=homepage",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


@pytest.mark.parametrize("junk", ["", "not a url", "http://[::1", "http://example.com:abc/"])
def test_canonical_url_never_raises(junk: str) -> None:
    assert isinstance(canonical_url(junk), str)


def test_host_of() -> None:
    assert host_of("https://www.Example.org/a") == "example.org"
    assert host_of("http://127.0.0.1:8080/") == "127.0.0.1"
    assert host_of("nonsense") == ""


def test_an_authority_of_colons_is_left_alone_and_stays_put() -> None:
    # found by the property test in test_hostile: "a://:" once became "a:", then stayed
    for text in ("A://::", "a://:", "a://:80"):
        once = canonical_url(text)
        assert canonical_url(once) == once
