"""Feeds and pages shaped like real ones, served from loopback through the real fetch path:
dates, encodings, the article's own text, the outlet's name, entries without a link."""

from __future__ import annotations

import codecs
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands import CommandContext, handle
from bot.config import Settings
from bot.ingest.feeds import poll_feed
from bot.ingest.pipeline import ingest
from bot.models import ChannelRef
from bot.store import Store
from tests.servers import LoopbackServer

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MRSS = 'xmlns:media="http://search.yahoo.com/mrss/"'


def _rss(
    items: str,
    *,
    title: str = "Test Wire",
    link: str = "https://wire.example/",
    extra: str = "",
    ns: str = "",
    declaration: bool = True,
) -> str:
    head = '<?xml version="1.0" encoding="utf-8"?>' if declaration else ""
    return (
        f'{head}<rss version="2.0" {ns}><channel><title>{title}</title><link>{link}</link>'
        f"{extra}{items}</channel></rss>"
    )


def _item(
    title: str, link: str, text: str, date: str = "Tue, 05 Mar 2024 10:00:00 +0000", more: str = ""
) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
        f"<description>{text}</description>{more}</item>"
    )


# --- dates ------------------------------------------------------------------------------

HUGO = _rss(
    _item(
        "About",
        "https://hugo.example/about/",
        "The about page of a site made with Hugo, which has no date of its own at all.",
        date="Mon, 01 Jan 0001 00:00:00 +0000",
    )
    + _item(
        "A dated post",
        "https://hugo.example/post/",
        "A post with a date, written in March about the garden and the spring weather.",
    ),
    title="Hugo Blog",
    link="https://hugo.example/",
)


async def test_hugo_year_one_is_an_unknown_date(tmp_path: Path, loopback: LoopbackServer) -> None:
    url = loopback.add("/index.xml", HUGO, content_type="application/rss+xml")
    with Store.open(tmp_path / "bot.db") as store:
        result = await ingest([url], store, loopback.policy(), now=lambda: NOW)
        assert result.ok and len(result.added) == 2
        by_title = {a.title: a for a in store.recent_articles(10)}
    # unknown, not "01 Jan 1": ordered by when it was first seen
    assert by_title["About"].published is None
    assert by_title["About"].fetched_at == NOW
    assert by_title["A dated post"].published == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)


def test_console_subscribe_to_a_hugo_feed_keeps_the_bot_running(
    tmp_path: Path, loopback: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = loopback.add("/index.xml", HUGO, content_type="application/rss+xml")
    out = io.StringIO()
    env = {"NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true", "NEWSBRIEF_DIGEST_TIMEZONE": "America/New_York"}
    code = main(
        ["run", "--db", str(tmp_path / "bot.db")],
        stdin=io.StringIO(f"/subscribe {url}\n/brief\n/help\n"),
        stdout=out,
        env=env,
    )
    text = out.getvalue()
    assert code == 0, capsys.readouterr().err
    assert "Subscribed to Hugo Blog" in text
    assert "1. About" in text or "2. About" in text
    assert "05 Mar 2024" in text and " 1 Jan 1" not in text and "0001" not in text
    assert "Commands:" in text  # the command after /brief was still answered


async def test_european_month_names_are_read(loopback: LoopbackServer) -> None:
    items = _item(
        "Ibope: Bolsonaro perde de Haddad",
        f"{loopback.base_url}/uol/1",
        "Líder na pesquisa Ibope de intenção de voto para o primeiro turno.",
        date="Seg, 24 Set 2018 19:42:40 -0300",
    )
    items += _item(
        "Dow Jones fecha em baixa de 0,68%",
        f"{loopback.base_url}/uol/2",
        "O índice Dow Jones fechou nesta segunda-feira em baixa de 0,68%.",
        date="Di, 05 Mär 2024 10:00:00 +0100",
    )
    url = loopback.add("/uol.xml", _rss(items, title="UOL Noticias"), content_type="text/xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    assert [a.published for a in poll.articles] == [
        datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC),
        datetime(2024, 3, 5, 9, 0, tzinfo=UTC),
    ]


# --- the article's own text ---------------------------------------------------------------

CAPTIONED = _rss(
    # as the NYT writes it: the caption after the description (feedparser files it as content)
    _item(
        "Spain's leader calls an early election",
        "{base}/spain",
        "Prime Minister Pedro Sánchez said voters would go to the polls in July after his "
        "party lost ground in regional elections on Sunday.",
        more='<media:content medium="image" url="https://img.example/1.jpg"/>'
        "<media:credit>Reuters</media:credit><media:description>Prime Minister Pedro "
        "Sánchez of Spain in Madrid last month, before a cabinet meeting at the "
        "Moncloa palace.</media:description>",
    )
    # as NDTV and ABC write it: the caption first (feedparser files it as the summary)
    + "<item><title>Floods close roads in the north</title><link>{base}/floods</link>"
    '<media:group><media:content medium="image" url="https://img.example/2.jpg"/>'
    "<media:description>A flooded road near the river on Monday morning, seen from the "
    "old bridge.</media:description></media:group>"
    "<description>Emergency services closed dozens of roads after record rain, and "
    "residents of low-lying towns were told to leave their homes.</description></item>"
    # a video's description is the entry's own text
     + "<item><title>How the new bridge was built</title><link>{base}/video</link>"
    '<media:group><media:content type="video/mp4" url="https://v.example/1.mp4"/>'
    "<media:description>Engineers explain how the bridge was floated into place over "
    "three nights in May.</media:description></media:group></item>",
    ns=MRSS,
)


async def test_a_photo_caption_is_never_the_article(loopback: LoopbackServer) -> None:
    url = loopback.add(
        "/world.xml",
        CAPTIONED.replace("{base}", loopback.base_url),
        content_type="application/rss+xml",
    )
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    texts = {a.title: a.text for a in poll.articles}
    assert texts["Spain's leader calls an early election"].startswith(
        "Prime Minister Pedro Sánchez said voters would go to the polls"
    )
    assert texts["Floods close roads in the north"].startswith("Emergency services closed")
    assert not any("Madrid last month" in t or "old bridge" in t for t in texts.values())
    assert texts["How the new bridge was built"].startswith("Engineers explain")


async def test_continue_reading_and_wordpress_footers_are_left_out(
    loopback: LoopbackServer,
) -> None:
    items = _item(
        "Ministers split over budget rules",
        f"{loopback.base_url}/budget",
        "&lt;p&gt;Cabinet ministers disagreed on Tuesday over whether to loosen "
        'borrowing limits.&lt;/p&gt; &lt;a href="x"&gt;Continue reading...&lt;/a&gt;',
    )
    items += _item(
        "Heat records broken",
        f"{loopback.base_url}/heat",
        "&lt;p&gt;Temperatures passed 40C in three countries, forecasters said."
        '&lt;/p&gt;&lt;p&gt;The post &lt;a href="y"&gt;Heat records broken&lt;/a&gt; '
        'appeared first on &lt;a href="z"&gt;The Site&lt;/a&gt;.&lt;/p&gt;',
    )
    url = loopback.add("/g.xml", _rss(items), content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    assert [a.text for a in poll.articles] == [
        "Cabinet ministers disagreed on Tuesday over whether to loosen borrowing limits.",
        "Temperatures passed 40C in three countries, forecasters said.",
    ]


CAPTION_PAGE = """<html><head><title>Spain calls early election | Daily Example</title>
<meta property="og:site_name" content="Daily Example"></head><body><article>
<h1>Spain calls early election</h1><figure><img src="/p.jpg"><figcaption>Prime Minister
Pedro Sánchez of Spain in Madrid last month. (AP Photo/Manu Fernandez)</figcaption></figure>
</article></body></html>"""
COOKIE_PAGE = """<html><head><title>Élections</title></head><body><article><div><p>Nous
utilisons des cookies pour améliorer votre expérience sur notre site et mesurer l'audience. En
poursuivant votre navigation, vous acceptez leur utilisation.</p></div></article></body></html>"""


async def test_a_page_that_is_only_a_caption_or_a_cookie_notice_keeps_the_summary(
    loopback: LoopbackServer,
) -> None:
    loopback.add("/spain", CAPTION_PAGE)
    loopback.add("/vote", COOKIE_PAGE)
    items = _item(
        "Spain calls early election",
        f"{loopback.base_url}/spain",
        "Spain will vote in July, the prime minister said.",
    )
    items += _item(
        "France votes on Sunday",
        f"{loopback.base_url}/vote",
        "Polls open at eight on Sunday morning.",
    )
    url = loopback.add("/teasers.xml", _rss(items), content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW)
    assert [a.text for a in poll.articles] == [
        "Spain will vote in July, the prime minister said.",
        "Polls open at eight on Sunday morning.",
    ]
    assert any("2 linked page(s) held only a photo caption" in n for n in poll.notes)


# --- encodings ----------------------------------------------------------------------------

RUSSIAN = [
    (
        "Как пережить зиму без отопления",
        "Жители трёх районов остались без тепла после аварии на теплотрассе.",
    ),
    (
        "В Москве открылась новая станция метро",
        "Станция соединила два района на юге города, сообщили в мэрии.",
    ),
]


def _russian_feed(base: str, declaration: str = "") -> str:
    items = "".join(_item(t, f"{base}/ru/{i}", d) for i, (t, d) in enumerate(RUSSIAN))
    return declaration + _rss(
        items, title="Газета", link="https://gazeta.example/", declaration=False
    )


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml"])
async def test_koi8r_feed_without_a_declaration_is_decoded(
    loopback: LoopbackServer, content_type: str
) -> None:
    body = _russian_feed(loopback.base_url).encode("koi8_r")
    url = loopback.add("/koi8.xml", body, content_type=content_type)
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    assert [a.title for a in poll.articles] == [t for t, _ in RUSSIAN]
    assert poll.articles[0].text == RUSSIAN[0][1]
    assert poll.title == "Газета"


@pytest.mark.parametrize("bom", [True, False])
async def test_utf16_feed_served_as_application_xml_is_a_feed(
    tmp_path: Path, loopback: LoopbackServer, bom: bool
) -> None:
    text = _russian_feed(loopback.base_url, '<?xml version="1.0" encoding="utf-16"?>')
    body = (codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le")
    url = loopback.add("/utf16.xml", body, content_type="application/xml")
    with Store.open(tmp_path / "bot.db") as store:
        result = await ingest([url], store, loopback.policy(), now=lambda: NOW)
        titles = {a.title for a in store.recent_articles(10)}
    assert result.failures == []
    assert titles == {t for t, _ in RUSSIAN}


# --- outlet names -------------------------------------------------------------------------


def _outlet_feed(base: str, title: str, link: str, extra: str) -> str:
    full = "<p>" + "The talks went on late into the night in Geneva, officials said. " * 12 + "</p>"
    item = (
        f"<item><title>Talks resume in Geneva</title><link>{base}/talks</link>"
        f"<description>Talks resumed.</description>"
        f"<content:encoded><![CDATA[{full}]]></content:encoded></item>"
    )
    ns = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    return _rss(item, title=title, link=link, extra=extra, ns=ns)


@pytest.mark.parametrize(
    ("title", "link", "extra", "outlet"),
    [
        (
            "World",
            "https://www.washingtonpost.com",
            "<description>The Washington Post World section provides analysis of breaking world "
            "news stories.</description>",
            "The Washington Post",
        ),
        (
            "NYT &gt; World News",
            "https://www.nytimes.com/section/world",
            "<copyright>Copyright 2024 The New York Times Company</copyright>",
            "The New York Times",
        ),
        ("NYT &gt; World News", "https://www.nytimes.com/section/world", "", "nytimes.com"),
        (
            "Japan Today - Category World",
            "https://japantoday.com/category/world",
            "",
            "Japan Today",
        ),
    ],
)
async def test_a_section_title_is_not_the_outlet(
    loopback: LoopbackServer, title: str, link: str, extra: str, outlet: str
) -> None:
    feed = _outlet_feed(loopback.base_url, title, link, extra)
    url = loopback.add("/section.xml", feed, content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    assert [a.source for a in poll.articles] == [outlet]


async def test_the_operator_renames_an_outlet(tmp_path: Path, loopback: LoopbackServer) -> None:
    from bot.ingest.outlets import OutletNames

    feed = _outlet_feed(loopback.base_url, "World", "https://www.washingtonpost.com", "")
    url = loopback.add("/wapo.xml", feed, content_type="application/rss+xml")
    with Store.open(tmp_path / "bot.db") as store:
        await ingest([url], store, loopback.policy(), now=lambda: NOW)
        assert [a.source for a in store.recent_articles(5)] == ["washingtonpost.com"]
        names = OutletNames.parse([f"{url} = The Washington Post"])
        await ingest([url], store, loopback.policy(), now=lambda: NOW, names=names)
        assert [a.source for a in store.recent_articles(5)] == ["The Washington Post"]


# --- entries without a link, feeds without entries ------------------------------------------

LINKLESS = _rss(
    '<item><title>Notice without a link</title><guid isPermaLink="false">notice-1</guid>'
    "<description>The water supply will be cut on Tuesday morning for repairs.</description>"
    "</item><item><title>Entry with nothing but text</title><pubDate>Tue, 05 Mar 2024 "
    "10:00:00 +0000</pubDate><description>No link and no guid: only a title, a date and this "
    "text about the market reopening.</description></item>"
)


async def test_entries_without_a_link_are_kept_once(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    url = loopback.add("/notices.xml", LINKLESS, content_type="application/rss+xml")
    with Store.open(tmp_path / "bot.db") as store:
        first = await ingest([url], store, loopback.policy(), now=lambda: NOW)
        again = await ingest([url], store, loopback.policy(), now=lambda: NOW)
        stored = store.recent_articles(10)
    assert len(first.added) == 2 and first.ok
    assert len(again.added) == 0 and again.duplicates == 2
    assert {a.title for a in stored} == {"Notice without a link", "Entry with nothing but text"}
    assert all(a.url.startswith(url + "#") for a in stored), [a.url for a in stored]


def test_ingest_of_a_feed_without_entries_says_so(
    tmp_path: Path, loopback: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = loopback.add("/quiet.xml", _rss("", title="Quiet Feed"), content_type="text/xml")
    out = io.StringIO()
    code = main(
        ["ingest", "--db", str(tmp_path / "cli.db"), url],
        stdout=out,
        env={"NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true"},
    )
    assert code == 0
    assert f"note: {url}: the feed has no entries" in capsys.readouterr().err
    assert "Ingested: 0 new" in out.getvalue()


async def test_sources_says_a_feed_has_no_entries(tmp_path: Path, loopback: LoopbackServer) -> None:
    url = loopback.add("/quiet.xml", _rss("", title="Quiet Feed"), content_type="text/xml")
    with Store.open(tmp_path / "bot.db") as store:
        ctx = CommandContext(
            store=store,
            settings=Settings(),
            channel=ChannelRef("console", "t"),
            policy=loopback.policy(),
            clock=lambda: NOW,
        )
        subscribed = await handle(ctx, f"/subscribe {url}")
        listed = await handle(ctx, "/sources")
    assert "0 articles now" in subscribed.text and "the feed has no entries" in subscribed.text
    assert "Quiet Feed" in listed.text and "no entries to read" in listed.text


async def test_furniture_goes_and_the_story_stays(loopback: LoopbackServer) -> None:
    paragraphs = [
        "WASHINGTON.",
        "By Anthony Vallone.",
        "The Senate voted 52 to 48 on Tuesday to pass the budget bill.",
        "Read more: How the budget talks nearly collapsed",
        "Sign up for our newsletter Subscribe",
        "Lawmakers said the newsletter the party sent to donors last week had been misread.",
        "You can read more about the vote in the official record.",
        "Photo: AP.",
        "Seguir leyendo",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    item = (
        f"<item><title>Senate passes the budget</title><link>{loopback.base_url}/b</link>"
        f"<description>The Senate passed the budget.</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        f"<item><title>v3.9.0</title><link>{loopback.base_url}/r</link>"
        f"<description>3.9.0</description></item>"
    )
    ns = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    url = loopback.add("/s.xml", _rss(item, ns=ns), content_type="application/rss+xml")
    poll = await poll_feed(url, None, loopback.policy(), now=NOW, fetch_teasers=False)
    story, release = poll.articles
    assert story.text.split("\n\n") == [
        "The Senate voted 52 to 48 on Tuesday to pass the budget bill.",
        "Lawmakers said the newsletter the party sent to donors last week had been misread.",
        "You can read more about the vote in the official record.",
    ]
    assert release.text == "3.9.0"  # all a release feed says is kept
