"""Shared code of the real-feeds benchmark (`benches/feeds_corpus.py`): the cases, the checks
and the worker that ingests them through the real fetch path of one checkout of the code.

The checks here are the benchmark's own (what a user would see), written without the ingest
code: a stored text that is a photo caption of its feed (read from the raw XML with lxml), page
furniture ("Continue reading…", "The post … appeared first on …", cookie banners), a date before
1990 or after the fetch, mojibake, the outlet name.

Reads the repository copy of the feeds (``benches/data/feeds.tar.xz``) only.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import json
import re
import socket
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lxml import etree

FEEDS_PATH = Path(__file__).resolve().parent / "data" / "feeds.tar.xz"
CONTENT_TYPES = ("application/rss+xml", "application/xml", "text/xml", "text/html")
MRSS = "http://search.yahoo.com/mrss/"
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
HANG_SECONDS = 60.0

# news outlets among the real feeds, and the names a reader would accept for each
NEWS_OUTLETS: dict[str, tuple[str, ...]] = {
    "fastfeedparser--08f1ee71883dbcde": ("NDTV", "NDTV News", "ndtv.com"),
    "fastfeedparser--0c1cef22da7ddc10": ("CBSNews.com", "CBS News", "cbsnews.com"),
    "fastfeedparser--14333881097406c7": ("Rest of World",),
    "fastfeedparser--14dda539770f94e3": ("Deutsche Welle", "DW"),
    "fastfeedparser--3f9eeff5039a008d": ("Al Jazeera",),
    "fastfeedparser--4179e7a13df0f120": (
        "The Christian Science Monitor",
        "Christian Science Monitor",
    ),
    "fastfeedparser--4bf53cb602417030": ("The Washington Post", "washingtonpost.com"),
    "fastfeedparser--660a52f7dc6a1948": ("EL PAÍS in English", "EL PAÍS", "El País"),
    "fastfeedparser--72fea1ebfd02e90a": ("Al-Monitor",),
    "fastfeedparser--78f77fae2e1ffc14": ("The New York Times", "nytimes.com"),
    "fastfeedparser--9f9555d69283aeda": ("TIME",),
    "fastfeedparser--a44f75939f245a7e": ("404 Media",),
    "fastfeedparser--ce5f942d1cd40fc0": ("Dawn",),
    "fastfeedparser--d87c1681464979cc": ("Foreign Policy",),
    "rss-parser--uolNoticias.rss": ("UOL Noticias", "UOL"),
}

# furniture a reader would notice in a stored text: a paragraph that only points elsewhere
# ("Continue reading…", "Read more: <another headline>"), such a pointer ending a paragraph,
# WordPress's "The post … appeared first on …", photo credits, navigation, cookie notices
_FURNITURE = re.compile(
    r"^\W*(?:continue reading|read more|keep reading|read the full (?:story|article)|"
    r"click here to read)\b[^\n]{0,80}$"
    r"|^\W*(?:read more|related|see also)\s*:[^\n]{0,200}$"
    r"|(?:continue reading|read more|keep reading)\W*$"
    r"|appeared first on|^(?:related (?:videos|articles)|more from author)\W*$"
    r"|we use cookies|nous utilisons des cookies|wir verwenden cookies|utilizamos cookies"
    r"|accept (?:all )?cookies|^\(?(?:photo|image|foto|credit)s?\s*:",
    re.IGNORECASE | re.MULTILINE,
)
# UTF-8 read as Windows-1252, legacy Cyrillic or Japanese read as Latin-1, replacement marks
_MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf]|â€|Ð[\u0080-\u00bf]|Ñ[\u0080-\u00bf]|\ufffd|ï¿½")
_LATIN1_LETTERS = re.compile(r"[\u00c0-\u00ff]")


# --- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One feed document to serve, and what a reader expects of it."""

    name: str
    data: bytes
    news: bool = False
    outlets: tuple[str, ...] = ()
    """Names a reader would accept as the outlet (empty: not checked)."""
    titles: tuple[str, ...] = ()
    """Entry titles as they must read once decoded (empty: not checked)."""
    synthetic: bool = False


def real_cases(path: Path = FEEDS_PATH) -> list[Case]:
    """The 122 real feed files of the archive, news outlets marked."""
    cases = []
    with tarfile.open(path, "r:xz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            name = member.name.rsplit("/", 1)[-1]
            outlets = NEWS_OUTLETS.get(name, ())
            cases.append(Case(name, handle.read(), news=bool(outlets), outlets=outlets))
    return cases


def archive_hash(path: Path = FEEDS_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _rss(title: str, items: str, extra: str = "", ns: str = "", site: str = "") -> str:
    site = site or f"https://{_slug(title)}.example/"
    return (
        f'<rss version="2.0"{ns}><channel><title>{title}</title>'
        f"<link>{site}</link>{extra}{items}</channel></rss>"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())[:20] or "feed"


_RU = [
    (
        "Как пережить зиму без отопления",
        "Жители трёх районов города остались без тепла после "
        "аварии на теплотрассе. Ремонтные бригады работают круглосуточно, сообщили в мэрии.",
    ),
    (
        "В Москве открылась новая станция метро",
        "Станция соединила два района на юге города. "
        "По словам властей, пассажиропоток составит сорок тысяч человек в сутки.",
    ),
]
_JA = [
    (
        "東京で新しい美術館が開館",
        "東京都心に新しい美術館が開館し、初日から多くの来場者が訪れた。"
        "館長は地域の文化の拠点にしたいと話した。",
    ),
    (
        "大雪で新幹線が運転を見合わせ",
        "記録的な大雪の影響で、東北新幹線は一部区間で運転を見合わせた。"
        "運転再開の見通しは立っていない。",
    ),
]


def _encoded_feed(pairs: list[tuple[str, str]], site: str) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://{site}/n/{i}</link>"
        f"<pubDate>Tue, 05 Mar 2024 10:0{i}:00 +0000</pubDate><description>{d}</description></item>"
        for i, (t, d) in enumerate(pairs)
    )
    return f'<rss version="2.0"><channel><title>{site}</title><link>https://{site}/</link>{items}</channel></rss>'


def synthetic_cases() -> list[Case]:
    """feedparser-style cases, each one thing real feeds do that no team member wrote."""
    cases: list[Case] = []
    ru_titles = tuple(t for t, _ in _RU)
    ja_titles = tuple(t for t, _ in _JA)
    cases.append(
        Case(
            "koi8-r-undeclared",
            _encoded_feed(_RU, "gazeta.example").encode("koi8_r"),
            titles=ru_titles,
            synthetic=True,
        )
    )
    cases.append(
        Case(
            "windows-1251-undeclared",
            _encoded_feed(_RU, "vesti.example").encode("cp1251"),
            titles=ru_titles,
            synthetic=True,
        )
    )
    cases.append(
        Case(
            "euc-jp-undeclared",
            _encoded_feed(_JA, "shimbun.example").encode("euc_jp"),
            titles=ja_titles,
            synthetic=True,
        )
    )
    cases.append(
        Case(
            "shift-jis-undeclared",
            _encoded_feed(_JA, "nikkan.example").encode("shift_jis"),
            titles=ja_titles,
            synthetic=True,
        )
    )
    utf16 = '<?xml version="1.0" encoding="utf-16"?>' + _encoded_feed(_RU, "utf16.example")
    cases.append(
        Case(
            "utf-16le-bom",
            codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"),
            titles=ru_titles,
            synthetic=True,
        )
    )
    cases.append(
        Case("utf-16be-no-bom", utf16.encode("utf-16-be"), titles=ru_titles, synthetic=True)
    )
    utf32 = '<?xml version="1.0" encoding="utf-32"?>' + _encoded_feed(_JA, "utf32.example")
    cases.append(Case("utf-32", utf32.encode("utf-32"), titles=ja_titles, synthetic=True))
    hugo = "".join(
        f"<item><title>Post {i}</title><link>https://hugo.example/p/{i}/</link>"
        f"<pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate>"
        f"<description>An undated post number {i} of a Hugo site, with a few sentences of "
        f"text. Hugo writes the zero date for pages without a date.</description></item>"
        for i in range(3)
    )
    cases.append(Case("hugo-year-1", _rss("Hugo Site", hugo).encode(), synthetic=True))
    future = (
        "<item><title>From the far future</title><link>https://future.example/a</link>"
        "<pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate><description>A mistyped date that "
        "would stay on top of every digest for eight thousand years.</description></item>"
        "<item><title>Epoch zero</title><link>https://future.example/b</link>"
        "<pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate><description>A date of zero from "
        "a database default, which is not when this was written.</description></item>"
    )
    cases.append(Case("insane-dates", _rss("Odd Dates", future).encode(), synthetic=True))
    european = [
        ("de", "Di, 05 Mär 2024 10:00:00 +0100"),
        ("fr", "mar., 05 mars 2024 10:00:00 +0100"),
        ("es", "mié, 06 mar 2024 09:30:00 +0100"),
        ("it", "mer, 06 mar 2024 09:30:00 +0100"),
        ("pt", "Seg, 24 Set 2018 19:42:40 -0300"),
        ("nl", "wo, 06 mrt 2024 09:30:00 +0100"),
    ]
    items = "".join(
        f"<item><title>Bericht {lang}</title><link>https://eu.example/{lang}</link>"
        f"<pubDate>{date}</pubDate><description>Ein Bericht mit einem Datum in der Sprache "
        f"der Zeitung ({lang}), den ein Leser sofort versteht.</description></item>"
        for lang, date in european
    )
    cases.append(Case("european-dates", _rss("Euro Wire", items).encode(), synthetic=True))
    caption = (
        "<item><title>Spain's leader calls an early election</title>"
        "<link>https://www.nytimes.example/2024/spain</link>"
        "<description>Prime Minister Pedro Sánchez said voters would go to the polls in July "
        "after his party lost ground in regional elections on Sunday.</description>"
        '<media:content medium="image" url="https://img.example/1.jpg"/>'
        "<media:credit>Reuters</media:credit>"
        "<media:description>Prime Minister Pedro Sánchez of Spain in Madrid last month."
        "</media:description></item>"
        "<item><title>Floods close roads in the north</title>"
        "<link>https://www.abc.example/news/floods</link>"
        "<media:group><media:description>A flooded road near the river on Monday "
        'morning.</media:description><media:content medium="image" '
        'url="https://img.example/2.jpg"/></media:group>'
        "<description>Emergency services closed dozens of roads after record rain, and "
        "residents of low-lying towns were told to leave their homes.</description></item>"
    )
    cases.append(
        Case(
            "media-captions",
            _rss(
                "NYT > World News",
                caption,
                ns=f' xmlns:media="{MRSS}"',
                extra="<copyright>Copyright 2024 The New York Times Company</copyright>",
                site="https://www.nytimes.example/section/world",
            ).encode(),
            news=True,
            outlets=("The New York Times", "nytimes.example"),
            synthetic=True,
        )
    )
    guardian = (
        "<item><title>Ministers split over budget rules</title>"
        "<link>https://www.theguardian.example/politics/budget</link>"
        "<description>&lt;p&gt;Cabinet ministers disagreed on Tuesday over whether to loosen "
        "borrowing limits before the autumn statement.&lt;/p&gt; &lt;a "
        'href="https://www.theguardian.example/politics/budget"&gt;Continue reading...'
        "&lt;/a&gt;</description></item>"
        "<item><title>Heat records broken across Europe</title>"
        "<link>https://www.theguardian.example/environment/heat</link>"
        "<description>&lt;p&gt;Temperatures passed 40C in three countries for the first time "
        'in June, forecasters said.&lt;/p&gt;&lt;p&gt;The post &lt;a href="x"&gt;Heat '
        'records broken&lt;/a&gt; appeared first on &lt;a href="y"&gt;The Site&lt;/a&gt;.'
        "&lt;/p&gt;</description></item>"
    )
    cases.append(
        Case(
            "continue-reading",
            _rss(
                "World news | The Guardian", guardian, site="https://www.theguardian.example/"
            ).encode(),
            news=True,
            outlets=("The Guardian",),
            synthetic=True,
        )
    )
    sections = (
        "<item><title>Typhoon nears Okinawa</title><link>https://japantoday.example/n/1</link>"
        "<description>A strong typhoon was expected to pass close to Okinawa on Wednesday, "
        "the weather agency said.</description></item>"
    )
    cases.append(
        Case(
            "section-title",
            _rss(
                "Japan Today - Category World", sections, site="https://japantoday.example/"
            ).encode(),
            news=True,
            outlets=("Japan Today",),
            synthetic=True,
        )
    )
    week = sections.replace("japantoday.example", "theweek.example")
    feed_word = _rss("TheWeek feed", week, site="https://theweek.example/")
    cases.append(
        Case(
            "feed-word-title",
            feed_word.encode(),
            news=True,
            outlets=("TheWeek", "The Week", "theweek.example"),
            synthetic=True,
        )
    )
    linkless = (
        '<item><title>Entry without a link</title><guid isPermaLink="false">item-1</guid>'
        "<description>This entry has a guid that is not a URL and no link at all.</description>"
        "</item><item><title>Entry with nothing but text</title><pubDate>Tue, 05 Mar 2024 "
        "10:00:00 +0000</pubDate><description>No link and no guid either; only a title, a "
        "date and this text.</description></item>"
    )
    cases.append(Case("link-less", _rss("Linkless", linkless).encode(), synthetic=True))
    cases.append(Case("empty-feed", _rss("Quiet Feed", "").encode(), synthetic=True))
    return cases


# --- checks -----------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.split()).strip().lower()


def _plays(media: Any) -> bool:
    medium = (media.get("medium") or "").lower()
    kind = (media.get("type") or "").lower()
    return medium in ("video", "audio") or kind.startswith(("video/", "audio/")) or "flash" in kind


def feed_captions(data: bytes) -> set[str]:
    """The Media RSS captions, titles, texts and credits of a feed's photos, read with lxml.

    A Media RSS description of a video or a podcast episode (YouTube's) is the entry's own
    text, not a caption."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return set()
    if root is None:
        return set()
    found = set()
    for tag in ("description", "text", "title", "credit"):
        for element in root.iter(f"{{{MRSS}}}{tag}"):
            scope = element.getparent()
            content = f"{{{MRSS}}}content"
            media = [scope] if scope.tag == content else scope.iter(content)
            if any(_plays(m) for m in media):
                continue
            text = "".join(element.itertext())
            if text.strip():
                found.add(_norm(re.sub(r"<[^>]+>", " ", text)))
    return found


def is_caption(text: str, captions: set[str]) -> bool:
    """Whether a stored text is, or starts with, one of its feed's photo captions."""
    first = text.split("\n\n", 1)[0]
    return _norm(text) in captions or (len(first.split()) < 40 and _norm(first) in captions)


def has_furniture(text: str) -> bool:
    return bool(_FURNITURE.search(text))


def looks_garbled(text: str) -> bool:
    """Mojibake a reader would notice: UTF-8 or a legacy code page read as Latin-1."""
    if len(_MOJIBAKE.findall(text)) >= 2:
        return True
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 10 and len(_LATIN1_LETTERS.findall(text)) > 0.3 * len(letters)


# --- the worker: one checkout's ingest, run in its own process --------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, ctype = route
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[bytes, str]] = {}


@contextlib.contextmanager
def serve() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _offline_dns() -> None:
    """Every name resolves to a TEST-NET address that the fetch policy refuses, so a teaser
    page on a real site is never fetched: the run is the same with or without a network."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("127.0.0.1", "localhost"):
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", int(port or 80)))]

    socket.getaddrinfo = resolve  # type: ignore[assignment]


@dataclass
class Outcome:
    """What one ingest of one case under one content type stored, judged by the checks."""

    case: str
    ctype: str
    status: str  # ok, rejected, crashed, hung
    reason: str = ""
    articles: int = 0
    captions: int = 0
    furniture: int = 0
    garbled: int = 0
    titles_wrong: int = 0
    unknown_dates: int = 0
    insane_dates: int = 0
    short_bullets: int = 0
    furniture_bullets: int = 0
    bullets: int = 0
    outlets: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _judge(case: Case, ctype: str, store: Any, origin: str, outcome: Outcome) -> None:
    rows = store.conn.execute(
        "SELECT id, title, source, text, published, fetched_at FROM articles WHERE origin = ?",
        (origin,),
    ).fetchall()
    captions = feed_captions(case.data)
    briefings = store.get_briefings([int(r["id"]) for r in rows])
    outlets: dict[str, None] = {}
    titles = {r["title"] for r in rows}
    for row in rows:
        outcome.articles += 1
        text = str(row["text"])
        outlets[str(row["source"])] = None
        if is_caption(text, captions):
            outcome.captions += 1
            outcome.examples.append(f"caption: {text[:70]!r}")
        elif has_furniture(text):
            outcome.furniture += 1
            outcome.examples.append(f"furniture: {_FURNITURE.search(text).group(0)!r}")  # type: ignore[union-attr]
        if looks_garbled(f"{row['title']} {text}"):
            outcome.garbled += 1
            outcome.examples.append(f"garbled: {row['title'][:50]!r}")
        fetched = datetime.fromisoformat(row["fetched_at"])
        if row["published"] is None:
            outcome.unknown_dates += 1
        else:
            published = datetime.fromisoformat(row["published"])
            if not EARLIEST <= published <= fetched + timedelta(days=1):
                outcome.insane_dates += 1
                outcome.examples.append(f"date: {row['published']}")
        briefing = briefings.get(int(row["id"]))
        for bullet in briefing.bullets if briefing else ():
            outcome.bullets += 1
            if len(bullet.text.split()) < 5:
                outcome.short_bullets += 1
            if has_furniture(bullet.text):
                outcome.furniture_bullets += 1
    if case.titles:
        outcome.titles_wrong = sum(1 for t in case.titles if t not in titles)
        if outcome.titles_wrong:
            outcome.examples.append(f"titles: {sorted(titles)[:2]!r}")
    outcome.outlets = list(outlets)


async def _run(cases: list[Case], out: Path) -> None:
    from bot.ingest.http import FetchPolicy
    from bot.ingest.pipeline import ingest
    from bot.store import Store

    policy = FetchPolicy(timeout=20.0, allowed_hosts=frozenset({"127.0.0.1"}))
    results = []
    with serve() as server, tempfile.TemporaryDirectory() as tmp:
        for n, ctype in enumerate(CONTENT_TYPES):
            for k, case in enumerate(cases):
                # a database of its own: what one feed gives, not deduplicated against others
                db = Path(tmp) / f"{n}-{k}.db"
                store = Store.open(db)
                path = f"/{n}/{case.name}"
                server.routes[path] = (case.data, ctype)
                url = f"http://127.0.0.1:{server.server_address[1]}{path}"
                outcome = Outcome(case.name, ctype, "ok")
                start = time.perf_counter()
                try:
                    result = await asyncio.wait_for(ingest([url], store, policy), HANG_SECONDS)
                except TimeoutError:
                    outcome.status = "hung"
                except Exception as exc:  # what the bench counts as a crash
                    outcome.status = "crashed"
                    outcome.reason = f"{type(exc).__name__}: {exc}"[:200]
                else:
                    if result.failures:
                        outcome.status = "rejected"
                        outcome.reason = "; ".join(r for _, r in result.failures)[:200]
                outcome.seconds = time.perf_counter() - start
                try:
                    _judge(case, ctype, store, url, outcome)
                except Exception as exc:  # a stored row the checks cannot read
                    outcome.examples.append(f"judge failed: {type(exc).__name__}: {exc}")
                results.append(outcome.__dict__)
                store.close()
                for leftover in Path(tmp).glob(f"{n}-{k}.db*"):
                    leftover.unlink()
    out.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in results), "utf-8")


def worker(root: str, out: str, only: list[str]) -> None:
    """Ingest every case with the code of `root` (a checkout), writing outcomes to `out`."""
    sys.path.insert(0, root)
    _offline_dns()
    import logging

    logging.disable(logging.CRITICAL)
    cases = real_cases() + synthetic_cases()
    if only:
        cases = [c for c in cases if any(o in c.name for o in only)]
    asyncio.run(_run(cases, Path(out)))


def load_outcomes(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def describe(data: bytes) -> str:
    """A short hash of a case, for the report."""
    return hashlib.sha256(data).hexdigest()[:8]


__all__ = [
    "CONTENT_TYPES",
    "FEEDS_PATH",
    "NEWS_OUTLETS",
    "Case",
    "Outcome",
    "archive_hash",
    "describe",
    "feed_captions",
    "has_furniture",
    "is_caption",
    "load_outcomes",
    "looks_garbled",
    "real_cases",
    "synthetic_cases",
    "worker",
]
