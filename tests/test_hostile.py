"""Hostile input: every parser survives arbitrary input, and every attack gets a bounded refusal.

Two kinds of test:

- property tests (hypothesis) over the file, feed, URL and command parsers and the summariser:
  whatever the input, they return their normal result or raise only `SourceError`;
- one test per attack (a feed of 100,000 entries, billion laughs, a gzip bomb, a page that never
  ends, a redirect to cloud metadata, a URL with a password, a 10,000-character command, control
  characters), each asserting a clear refusal *and* that time and memory stayed bounded
  (`bounded`: wall time by `time.monotonic`, peak Python allocations by `tracemalloc`).

The bounds are safety limits, far above what a healthy run takes, not benchmarks. Neighbouring
cases already in ``test_fetch.py`` (the plain fetch of a trickling server, of a 50 MB stream, of
a redirect to 169.254.169.254, a URL with a password) are not repeated here; these go through
the feed, page and command paths a user reaches, and measure memory as well.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
import tracemalloc
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import MAX_COMMAND_CHARS, CommandContext, Reply, handle
from bot.config import Settings
from bot.errors import BlockedURLError, SourceError
from bot.ingest.feeds import MAX_FEED_ENTRIES, parse_feed, poll_feed
from bot.ingest.files import parse_text, read_file
from bot.ingest.http import FetchPolicy, fetch
from bot.ingest.pipeline import ingest
from bot.ingest.urls import canonical_url
from bot.ingest.web import fetch_page
from bot.models import Article, ChannelRef
from bot.store import Store
from bot.summarize import summarize
from bot.summarize.story import summarize_story
from tests.servers import LoopbackServer, trickle

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHANNEL = ChannelRef("console", "hostile")
FEED_URL = "https://example.org/feed.xml"
MB = 1_000_000
FEW = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    """Fail unless the block ends within `seconds` with at most `megabytes` allocated at peak.

    The time bound catches a hang or a blow-up (a parser reading a whole huge document), not
    speed: the callers give it a minute, since CI shares its cores (a 10 s bound failed once
    at 13.7 s on a loaded machine). Speed is measured in benches/."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s, bound {seconds} s"
    assert peak < megabytes * MB, f"peak {peak / MB:.0f} MB, bound {megabytes} MB"


def rss(items: str, title: str = "Hostile Wire") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


def item(i: int) -> str:
    return (
        f"<item><title>Entry {i}</title><link>https://example.org/a/{i}</link>"
        f"<description>Short text number {i}.</description></item>\n"
    )


VALID_RSS = rss("".join(item(i) for i in range(3)))
VALID_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">Atom &amp; Co</title>
<entry><title>First</title><link href="/a/1"/><id>urn:x:1</id>
<updated>2026-01-05T08:00:00Z</updated>
<content type="html">&lt;p&gt;Para one.&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</content></entry>
<entry><title>Second</title><link rel="alternate" href="https://example.org/a/2"/><id>urn:x:2</id>
<summary>Second text.</summary></entry></feed>"""


# --- properties: parsers never raise anything but SourceError -----------------------------------


@FEW
@given(st.text(max_size=3000))
def test_parse_text_gives_an_article_or_a_source_error(text: str) -> None:
    try:
        article = parse_text(text, "file:///tmp/x.txt", fetched_at=NOW)
    except SourceError as exc:
        assert exc.reason
        return
    assert isinstance(article, Article)
    assert article.text.strip()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        key: JSON_VALUES | st.text(max_size=200)
        for key in ("text", "article", "content", "title", "url", "published", "date", "source")
    },
)


@FEW
@given(
    data=st.binary(max_size=3000)
    | st.text(max_size=2000).map(str.encode)
    | st.lists(RECORDS | JSON_VALUES, max_size=5).map(lambda r: json.dumps(r).encode())
    | st.lists(RECORDS, max_size=5).map(lambda rs: "\n".join(map(json.dumps, rs)).encode()),
    suffix=st.sampled_from([".txt", ".md", ".json", ".jsonl"]),
)
def test_read_file_never_raises(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    items = read_file(path, now=NOW)
    # a JSON file may hold no records at all (``[]``, an empty .jsonl); a text file is one
    assert items or suffix in (".json", ".jsonl")
    for found in items:
        assert isinstance(found, Article | SourceError)
        if isinstance(found, SourceError):
            assert found.reason


def check_feed(data: bytes) -> None:
    try:
        _, articles = parse_feed(data, FEED_URL, fetched_at=NOW)
    except SourceError as exc:
        assert exc.reason
        return
    for article in articles:
        assert article.text
        assert article.url.startswith(("http://", "https://"))


@FEW
@given(st.binary(max_size=4000))
def test_parse_feed_on_arbitrary_bytes(data: bytes) -> None:
    check_feed(data)


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([VALID_RSS, VALID_ATOM])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        span = draw(st.integers(0, 40))
        action = draw(st.sampled_from(["delete", "insert", "repeat", "flip"]))
        if action == "delete":
            del data[at : at + span]
        elif action == "insert":
            noise = draw(
                st.binary(max_size=20)
                | st.sampled_from(
                    [
                        b"<item>",
                        b"</item>",
                        b"<entry>",
                        b"<![CDATA[",
                        b"&",
                        b"&#0;",
                        b"<!--",
                        b"\x00",
                    ]
                )
            )
            data[at:at] = noise
        elif action == "repeat":
            data[at:at] = data[at : at + span] * draw(st.integers(1, 5))
        elif at < len(data):
            data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


@FEW
@given(mutated_feed())
def test_parse_feed_on_mutated_feeds(data: bytes) -> None:
    check_feed(data)


def test_the_valid_feeds_parse() -> None:
    # the mutation test is only meaningful if its starting points are good feeds
    assert len(parse_feed(VALID_RSS, FEED_URL, fetched_at=NOW)[1]) == 3
    title, articles = parse_feed(VALID_ATOM, FEED_URL, fetched_at=NOW)
    assert title == "Atom & Co"
    assert [a.url for a in articles] == ["https://example.org/a/1", "https://example.org/a/2"]


URLISH = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp", "", "javascript"]),
    st.text(max_size=30),
    st.sampled_from(["", "/", "/a/", ":80/x", ":99999", "]:x", "/p?utm_source=a&b=2#f"]),
    st.text(max_size=30),
)


@FEW
@given(st.text(max_size=300) | URLISH)
def test_canonical_url_never_raises(text: str) -> None:
    out = canonical_url(text)
    assert isinstance(out, str)
    assert canonical_url(out) == out  # one article, one address: applying it again changes nothing


def is_clean(text: str) -> bool:
    return all(ch == "\n" or unicodedata.category(ch) != "Cc" for ch in text)


COMMANDS = st.sampled_from(
    ["/brief ", "/ask ", "/sources ", "/digest ", "/filter ", "/help ", "/unsubscribe ", "/", ""]
)


def context(store: Store) -> CommandContext:
    # no route reaches anything: a /subscribe that slips through fails fast on the address
    policy = FetchPolicy(timeout=2.0)
    return CommandContext(
        store=store, settings=Settings(), channel=CHANNEL, policy=policy, clock=lambda: NOW
    )


@FEW
@given(
    st.tuples(COMMANDS, st.text(max_size=300)).map("".join)
    | st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=300)
    | st.builds(lambda n, c: "/brief " + c * n, st.integers(1, 12_000), st.sampled_from("a\x00é\n"))
)
def test_handle_always_replies_without_control_characters(seeded_store: Store, line: str) -> None:
    reply = asyncio.run(handle(context(seeded_store), line))
    assert isinstance(reply, Reply)
    assert reply.text
    assert is_clean(reply.text), repr(reply.text)
    assert "Traceback" not in reply.text


@FEW
@given(
    st.text(max_size=4000)
    | st.lists(st.text(min_size=1, max_size=200), max_size=30).map(". ".join)
    | st.builds(
        lambda w, n: " ".join([w] * n) + ".", st.text(min_size=1, max_size=12), st.integers(1, 400)
    )
)
def test_summarize_never_raises_and_bullets_stay_short(text: str) -> None:
    briefing = summarize(text, text[:80] or None)
    assert len(briefing.bullets) <= 4
    for bullet in briefing.bullets:
        assert len(bullet.text.split()) <= 30, bullet.text


@FEW
@given(
    st.lists(
        st.tuples(
            st.text(max_size=40),
            st.text(max_size=1500)
            | st.lists(st.text(min_size=1, max_size=200), max_size=12).map(". ".join)
            | st.lists(st.text(min_size=1, max_size=120), max_size=6).map("... ".join),
        ),
        min_size=2,
        max_size=4,
    )
)
def test_story_briefing_never_raises_and_bullets_stay_short(
    caplog: pytest.LogCaptureFixture, reports: list[tuple[str, str]]
) -> None:
    articles = [
        Article(f"https://e.org/{i}", text[:60], outlet, text, NOW, NOW, id=i + 1)
        for i, (outlet, text) in enumerate(reports)
    ]
    with caplog.at_level(logging.WARNING, logger="bot.summarize.story"):
        briefing = summarize_story(articles, [summarize(a.text, a.title or None) for a in articles])
    # it did not merely fall back to the lead report after an error
    assert not caplog.records, caplog.text
    assert len(briefing.bullets) <= 5
    for bullet in briefing.bullets:
        assert len(bullet.text.split()) <= 30, bullet.text


# --- a feed of 100,000 entries -------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_feed() -> bytes:
    data = rss("".join(item(i) for i in range(100_000)))
    assert len(data) > 10 * MB
    return data


async def test_huge_feed_refused_at_the_default_cap(
    loopback: LoopbackServer, huge_feed: bytes
) -> None:
    url = loopback.add("/huge.xml", huge_feed, content_type="application/rss+xml")
    with bounded(seconds=60, megabytes=50):
        poll = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert poll.error == "response larger than 5 MB"
    assert poll.articles == []
    assert poll.state.error_count == 1


async def test_huge_feed_under_a_raised_cap_reads_only_the_first_entries(
    loopback: LoopbackServer, huge_feed: bytes
) -> None:
    url = loopback.add("/huge.xml", huge_feed, content_type="application/rss+xml")
    policy = loopback.policy(max_bytes=50 * MB, timeout=30)
    with bounded(seconds=60, megabytes=200):
        poll = await poll_feed(url, None, policy, now=NOW, fetch_teasers=False)
    assert poll.error is None
    assert len(poll.articles) == MAX_FEED_ENTRIES == 1000
    # feeds list the newest first: those are the ones kept
    assert poll.articles[0].title == "Entry 0"
    assert poll.articles[-1].title == f"Entry {MAX_FEED_ENTRIES - 1}"
    assert poll.title == "Hostile Wire"  # the document is still whole after the cut


def test_huge_atom_feed_is_cut_too() -> None:
    entries = "".join(
        f'<atom:entry><atom:title>E{i}</atom:title><atom:link href="https://e.org/{i}"/>'
        f"<atom:summary>Text {i}.</atom:summary></atom:entry>"
        for i in range(5000)
    )
    data = (
        '<?xml version="1.0"?><atom:feed xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<atom:title>Atom</atom:title>{entries}</atom:feed>"
    ).encode()
    with bounded(seconds=60, megabytes=100):
        title, articles = parse_feed(data, FEED_URL, fetched_at=NOW)
    assert (title, len(articles)) == ("Atom", MAX_FEED_ENTRIES)


# --- XML entity expansion ------------------------------------------------------------------------

LAUGHS = "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' if n else '<!ENTITY lol0 "lol">' for n in range(10)
)
BILLION_LAUGHS = (
    f'<?xml version="1.0"?><!DOCTYPE rss [{LAUGHS}]>'
    '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    "<link>https://example.org/a</link><description>&lol9; &lol9; &lol9;</description>"
    "</item></channel></rss>"
).encode()
QUADRATIC = (
    f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{"A" * 50_000}">]>'
    '<rss version="2.0"><channel><title>Q</title><item><title>Q</title>'
    f"<link>https://example.org/q</link><description>{'&big;' * 50_000}</description>"
    "</item></channel></rss>"
).encode()
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>X</title><item><title>X</title>'
    b"<link>https://example.org/x</link><description>leak: &xxe;</description>"
    b"</item></channel></rss>"
)


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, QUADRATIC, EXTERNAL], ids=["laughs", "quad", "xxe"]
)
def test_entities_are_not_expanded(data: bytes) -> None:
    # feedparser drops entity declarations from the DOCTYPE before expat sees them. The bound
    # tells an expansion (minutes, gigabytes) from a parse: "quad" takes about 2 s plain and
    # 10 s under tracemalloc on a loaded 2-core machine, so 60 s, not 10, is the line.
    with bounded(seconds=60, megabytes=100):
        try:
            _, articles = parse_feed(data, FEED_URL, fetched_at=NOW)
        except SourceError as exc:
            assert exc.reason
            articles = []
    for article in articles:
        assert len(article.text) < 300_000  # the source itself is 250 kB for "quad"
        assert "lollol" not in article.text
        assert "AAAAAAAAAA" not in article.text
        assert "root:" not in article.text


# --- gzip bomb -----------------------------------------------------------------------------------


def bomb(
    wbits: int, total: int = 10_000 * MB, block: int = 64 * MB
) -> Callable[[], Iterator[bytes]]:
    """10 GB of zeros, compressed as it is sent (~10 MB on the wire), never all in memory."""

    def generate() -> Iterator[bytes]:
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        zeros = bytes(MB)  # the server runs in this process: keep its own memory small
        sent = 0
        while sent < total:
            # one write per block: ~64 kB on the wire that inflate to 64 MB in one read
            packed = b"".join(packer.compress(zeros) for _ in range(block // MB))
            yield packed + packer.flush(zlib.Z_FULL_FLUSH)
            sent += block
        yield packer.flush()

    return generate


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15)])
async def test_gzip_bomb_refused_at_the_decoded_cap(
    loopback: LoopbackServer, encoding: str, wbits: int
) -> None:
    url = loopback.add(
        "/bomb.xml",
        body=bomb(wbits),
        content_type="application/rss+xml",
        headers={"Content-Encoding": encoding},
    )
    with bounded(seconds=60, megabytes=30):  # a 5 MB cap: a few times that, not 64 MB a read
        poll = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert poll.error == "response larger than 5 MB"


async def test_compressed_bodies_still_decode(loopback: LoopbackServer) -> None:
    # the other side of the bomb check: honest gzip and deflate (zlib or raw) still work
    body = VALID_RSS * 1
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    variants = {
        "gzip": zlib.compress(body, wbits=31),
        "deflate": zlib.compress(body),
        "Deflate": raw.compress(body) + raw.flush(),
        "gzip, deflate": zlib.compress(zlib.compress(body, wbits=31)),
        "br": body,  # not supported: passed through, as httpx does
    }
    for n, (encoding, data) in enumerate(variants.items()):
        url = loopback.add(f"/c{n}", data, headers={"Content-Encoding": encoding})
        assert (await fetch(url, loopback.policy())).body == body, encoding
    url = loopback.add("/broken", b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(SourceError, match="bad compression"):
        await fetch(url, loopback.policy())


# --- a page that never finishes ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["feed", "page"])
async def test_never_ending_response_times_out(loopback: LoopbackServer, kind: str) -> None:
    url = loopback.add("/slow", body=trickle(b"<p>x", interval=0.05, duration=30))
    policy = loopback.policy(timeout=1.0)
    with bounded(seconds=4, megabytes=20):
        if kind == "feed":
            poll = await poll_feed(url, None, policy, now=NOW)
            reason = poll.error
        else:
            with pytest.raises(SourceError) as info:
                await fetch_page(url, policy)
            reason = info.value.reason
    assert reason == "timed out after 1 s"


# --- redirect to cloud metadata, credentials -----------------------------------------------------


async def test_feed_redirect_to_metadata_refused_without_connecting(
    loopback: LoopbackServer,
) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), timeout=5)
    url = loopback.redirect("/feed.xml", "http://169.254.169.254/latest/meta-data/iam/")
    # a connection attempt to 169.254.169.254 would hang until the deadline: it must not happen
    with bounded(seconds=2, megabytes=20):
        poll = await poll_feed(url, None, policy, now=NOW)
        with pytest.raises(BlockedURLError) as info:
            await fetch_page(url, policy)
    assert poll.error is not None
    for reason in (poll.error, info.value.reason):
        assert reason.startswith("redirected to http://169.254.169.254/latest/meta-data/iam/")
        assert "link-local" in reason


async def test_url_with_credentials_refused_without_echoing_the_password(
    seeded_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_url = "https://admin:hunter2@example.org/feed.xml"
    with bounded(seconds=2, megabytes=20):
        reply = await handle(context(seeded_store), f"/subscribe {secret_url}")
        report = await ingest([secret_url], seeded_store, FetchPolicy(timeout=2))
        with pytest.raises(BlockedURLError) as info:
            await fetch_page(secret_url, FetchPolicy(timeout=2))
    assert not reply.ok
    assert "user name or password" in reply.text
    assert report.failures and "user name or password" in report.failures[0][1]
    gone = await handle(context(seeded_store), f"/unsubscribe {secret_url}")
    assert "example.org/feed.xml" in gone.text
    for shown in (reply.text, gone.text, str(report.failures), str(info.value), caplog.text):
        assert "hunter2" not in shown


# --- commands: huge and control characters -------------------------------------------------------


async def test_ten_thousand_character_command_gets_a_one_line_refusal(seeded_store: Store) -> None:
    for line in ("/brief " + "x" * 10_000, "/ask " + "why " * 2_500, "y" * 10_000):
        with bounded(seconds=2, megabytes=20):
            reply = await handle(context(seeded_store), line)
        assert not reply.ok
        assert reply.text == f"That command is too long (over {MAX_COMMAND_CHARS} characters)."
        assert reply.digest is None and reply.answer is None


async def test_control_characters_are_stripped(seeded_store: Store) -> None:
    ctx = context(seeded_store)
    hidden = await handle(ctx, "\x1b[2J\x00/he\x07lp\x1b]0;pwned\x07\r")
    assert hidden.ok and hidden.text.startswith("Commands:")
    echoed = await handle(ctx, "/nosuch\x1b[31m\x9b\x85zzz")
    assert echoed.text == "Unknown command /nosuchzzz. Type /help for the list."
    topic = await handle(ctx, "/brief \x1b[1mquantum\x00 teleportation\x7f")
    assert is_clean(topic.text)
    assert "quantum teleportation" in topic.text
    assert (await handle(ctx, "\x00\x01\x1b[0m\t ")).text == "Type a command, e.g. /help."


def test_bounded_detects_a_blowup() -> None:
    # the guard itself must be able to fail
    with pytest.raises(AssertionError, match="peak"), bounded(seconds=10, megabytes=5):
        blob = io.BytesIO(bytes(20 * MB))
        del blob
    with pytest.raises(AssertionError, match="took"), bounded(seconds=0.05, megabytes=5):
        time.sleep(0.1)
