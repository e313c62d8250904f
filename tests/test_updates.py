"""Updates, not repeats: revised feed entries and new reports of stories a channel was sent.

Everything runs the real path: feeds served by a loopback HTTP server, `ingest` polling them,
real SQLite files, `send_digest` / `retry_unsent` for delivery and `/brief` through the
commands, rendered as the console, Slack and Discord show them.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from adapters.console import to_console_reply, to_console_text
from adapters.discord.render import all_embeds, to_discord_messages
from adapters.slack.render import to_slack_messages
from bot.commands import CommandContext, handle
from bot.config import Settings
from bot.delivery import retry_unsent, send_digest, slot_key
from bot.digest import build_digest
from bot.ingest.pipeline import IngestResult, ingest
from bot.models import ChannelRef, Digest, Receipt
from bot.store import MIGRATIONS, Store, open_store
from bot.updates import split_update_marker
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("slack", "C1")
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
PUBLISHED = "Tue, 10 Mar 2026 07:00:00 GMT"

OUTPUT_12 = (
    "Factory output rose 12 percent in March",
    "Factory output in Riverton rose 12 percent in March from a year earlier, the Riverton "
    "Statistics Office said on Tuesday. Halden Motors and Orvik Chemicals led the increase after "
    "a weak winter, office director Marta Lind said. Orders for the coming months also improved. "
    "Economists at Lindqvist Bank had expected a rise of about 6 percent.",
)
OUTPUT_15 = (
    "Factory output rose 15 percent in March",
    OUTPUT_12[1].replace("rose 12 percent", "rose 15 percent"),
)
# another outlet's report of the same event: known facts re-worded, and one new fact
NORTHLINE = (
    "Riverton factories lift output 12% in March",
    "Riverton factories raised their output by 12 percent in March compared with a year "
    "earlier, according to the Riverton Statistics Office. Halden Motors and Orvik Chemicals "
    "drove the rise after a weak winter, Marta Lind of the office said. Halden Motors, the "
    "region's largest employer, will add a second shift at its Riverton plant in May and hire "
    "400 workers.",
)
# the first outlet again, the same facts in other words
RESTATED = (
    "Riverton factory output up 12 percent, office says",
    "Output at Riverton factories rose 12 percent in March compared with a year earlier, the "
    "Riverton Statistics Office said. Halden Motors and Orvik Chemicals drove the increase after "
    "a weak winter, director Marta Lind said.",
)
FERRY = (
    "Ferry line adds night crossings",
    "The harbour ferry will run every hour through the night from April, the operator said. "
    "The change follows a petition signed by 3,000 shift workers. Tickets keep their price of "
    "2.50 euros.",
)


def rss(base: str, title: str, items: dict[str, tuple[str, str]], *, teaser: bool = False) -> str:
    """An RSS 2.0 feed of `items` (path -> (title, text)): full text in content:encoded, or
    only a description (a teaser whose page the poller fetches)."""
    entries = []
    for path, (head, text) in items.items():
        body = (
            f"<description>{escape(text)}</description>"
            if teaser
            else f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded>"
        )
        entries.append(
            f"<item><title>{escape(head)}</title><link>{base}/{path}</link>"
            f"<pubDate>{PUBLISHED}</pubDate>{body}</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title>{''.join(entries)}</channel></rss>"
    )


def publish(
    loopback: LoopbackServer,
    path: str,
    title: str,
    items: dict[str, tuple[str, str]],
    *,
    teaser: bool = False,
) -> str:
    body = rss(loopback.base_url, title, items, teaser=teaser)
    return loopback.add(path, body, content_type="application/rss+xml")


async def poll(store: Store, loopback: LoopbackServer, at: datetime, *feeds: str) -> IngestResult:
    result = await ingest(list(feeds), store, loopback.policy(), now=lambda: at, feeds_only=True)
    assert result.ok, result.failures
    return result


class Platform:
    """A chat platform that records every digest it is asked to post."""

    def __init__(self) -> None:
        self.posts: list[Digest] = []

    async def post(self, channel: ChannelRef, digest: Digest) -> Receipt:
        self.posts.append(digest)
        return Receipt(channel, (f"m{len(self.posts)}",))


async def digest(
    store: Store, platform: Platform, at: datetime, channel: ChannelRef = CHANNEL
) -> Digest:
    outcome = await send_digest(store, channel, platform.post, slot=slot_key(at), now=at)
    assert outcome.status == "sent" and outcome.digest is not None
    return outcome.digest


async def brief(store: Store, at: datetime) -> str:
    ctx = CommandContext(store=store, settings=Settings(), channel=CHANNEL, clock=lambda: at)
    return to_console_reply(await handle(ctx, "/brief"))


def bullets(sent: Digest) -> list[str]:
    return [b.text for s in sent.stories for b in s.briefing.bullets]


async def test_a_corrected_number_shows_in_brief_and_once_as_an_update(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    platform = Platform()
    with open_store(db_target) as store:
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12, "ferry": FERRY})
        await poll(store, loopback, T0, feed)
        first = await digest(store, platform, T0 + timedelta(hours=1))
        assert len(first.stories) == 2 and not any(s.update for s in first.stories)
        assert "rose 12 percent" in to_console_text(first)
        assert "Orvik Chemicals led the increase" in to_console_text(first)

        # the outlet corrects the number under the same link
        publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_15, "ferry": FERRY})
        polled = await poll(store, loopback, T0 + timedelta(hours=2), feed)
        assert [a.url for a in polled.revised] == [loopback.url("/output")]
        shown = await brief(store, T0 + timedelta(hours=2))
        assert "15 percent" in shown and "12 percent" not in shown
        revised = store.article_by_url(loopback.url("/output"))
        assert revised is not None and revised.revision == 1
        [old] = store.article_revisions(revised.id or 0)
        assert "rose 12 percent" in old.text and old.revision == 0

        update = await digest(store, platform, T0 + timedelta(hours=3))
        [story] = update.stories
        assert story.update
        text = to_console_text(update)
        assert text.startswith("1 update from 1 source.")
        assert "1. Updated: Factory output rose 15 percent in March" in text
        assert any("rose 15 percent" in b for b in bullets(update))
        # only what is new: the bullets shown last time are not repeated, the ferry not at all
        assert "Orvik" not in text and "12 percent" not in text and "ferry" not in text

        again = await digest(store, platform, T0 + timedelta(hours=4))
        assert again.empty and again.overview.startswith("Nothing new since")
        assert len(platform.posts) == 2  # nothing new: nothing posted


async def test_a_new_outlet_comes_once_as_an_update_without_repeated_bullets(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    platform = Platform()
    with open_store(db_target) as store:
        harbour = publish(loopback, "/harbour", "Harbour Wire", {"output": OUTPUT_12})
        await poll(store, loopback, T0, harbour)
        first = await digest(store, platform, T0 + timedelta(hours=1))
        assert [s.sources for s in first.stories] == [("Harbour Wire",)]

        northline = publish(loopback, "/northline", "Northline News", {"riverton": NORTHLINE})
        await poll(store, loopback, T0 + timedelta(hours=2), harbour, northline)
        update = await digest(store, platform, T0 + timedelta(hours=3))
        [story] = update.stories
        assert story.update and story.sources == ("Northline News",)
        assert [b for b in bullets(update) if "second shift" in b]
        # Northline's re-worded bullets are facts the channel was shown already
        assert not [b for b in bullets(update) if "12 percent" in b or "Orvik" in b]
        text = to_console_text(update)
        assert "1. Updated: " in text and "Northline News" in text and "Harbour Wire" not in text

        assert (await digest(store, platform, T0 + timedelta(hours=4))).empty
        # a channel that was sent nothing gets the story whole, from both outlets
        fresh = build_digest(store, ChannelRef("slack", "C2"), now=T0 + timedelta(hours=4))
        [whole] = fresh.stories
        assert not whole.update and set(whole.sources) == {"Harbour Wire", "Northline News"}


async def test_a_new_report_with_nothing_new_is_not_shown_again(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    platform = Platform()
    with open_store(db_target) as store:
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12})
        await poll(store, loopback, T0, feed)
        await digest(store, platform, T0 + timedelta(hours=1))

        # the same outlet files the same facts again under a new link
        publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12, "restated": RESTATED})
        polled = await poll(store, loopback, T0 + timedelta(hours=2), feed)
        assert len(polled.added) == 1
        quiet = await digest(store, platform, T0 + timedelta(hours=3))
        assert quiet.empty and quiet.overview.startswith("Nothing new since")
        # settled: recorded as delivered with that digest, it does not come back, while the
        # next real news does
        assert store.undelivered_articles(CHANNEL) == []
        assert (await digest(store, platform, T0 + timedelta(hours=4))).empty
        publish(
            loopback,
            "/rss",
            "Harbour Wire",
            {"output": OUTPUT_12, "restated": RESTATED, "ferry": FERRY},
        )
        await poll(store, loopback, T0 + timedelta(hours=5), feed)
        news = await digest(store, platform, T0 + timedelta(hours=6))
        assert [s.briefing.headline for s in news.stories] == ["Ferry line adds night crossings"]
        assert not news.stories[0].update


CRASHING_SENDER = """
import asyncio, os, sys
from datetime import datetime
from bot.delivery import send_digest
from bot.models import ChannelRef
from bot.store import Store, open_store

async def crash(channel, digest):
    os._exit(17)  # the process dies after claiming, before anything reaches the platform

store = open_store(sys.argv[1])
when = datetime.fromisoformat(sys.argv[3])
asyncio.run(send_digest(store, ChannelRef("slack", "C1"), crash, slot=sys.argv[2], now=when))
"""


async def test_an_update_claimed_before_a_crash_is_retried_once_the_same(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    path = db_target
    platform = Platform()
    with open_store(path) as store:
        harbour = publish(loopback, "/harbour", "Harbour Wire", {"output": OUTPUT_12})
        await poll(store, loopback, T0, harbour)
        await digest(store, platform, T0 + timedelta(hours=1))
        publish(loopback, "/harbour", "Harbour Wire", {"output": OUTPUT_15})
        northline = publish(loopback, "/northline", "Northline News", {"riverton": NORTHLINE})
        await poll(store, loopback, T0 + timedelta(hours=2), harbour, northline)
        at = T0 + timedelta(hours=3)
        expected = build_digest(store, CHANNEL, now=at)  # what the crashed sender claimed
        [story] = expected.stories
        assert story.update and set(story.sources) == {"Harbour Wire", "Northline News"}

    slot = slot_key(at)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_SENDER, str(path), slot, at.isoformat()],
        cwd=ROOT,
        timeout=60,
    )
    assert crashed.returncode == 17
    with open_store(path) as store:
        run = store.digest_run(CHANNEL, slot)
        assert run is not None and run.status == "claimed"
        later = datetime.now(UTC) + timedelta(minutes=10)
        outcomes = await retry_unsent(store, {"slack": platform.post}, now=later)
        assert [o.status for o in outcomes] == ["sent"]
        retried = platform.posts[-1]
        assert [(s.update, s.briefing, [a.id for a in s.articles]) for s in retried.stories] == [
            (s.update, s.briefing, [a.id for a in s.articles]) for s in expected.stories
        ]
        assert retried.overview == "1 update from 2 sources."
        # sent once: neither a retry, the slot, nor the next digest shows it again
        assert await retry_unsent(store, {"slack": platform.post}, now=later) == []
        again = await send_digest(store, CHANNEL, platform.post, slot=slot, now=later)
        assert again.status == "skipped"
        assert (await digest(store, platform, later + timedelta(hours=1))).empty
        assert len(platform.posts) == 2  # the empty one is not posted


async def test_an_updated_title_is_stored_clean_and_marked_in_every_renderer(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    platform = Platform()
    with open_store(db_target) as store:
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12})
        await poll(store, loopback, T0, feed)
        await digest(store, platform, T0 + timedelta(hours=1))

        marked = ("UPDATED: " + OUTPUT_15[0], OUTPUT_15[1])
        publish(loopback, "/rss", "Harbour Wire", {"output": marked})
        await poll(store, loopback, T0 + timedelta(hours=2), feed)
        stored = store.article_by_url(loopback.url("/output"))
        assert stored is not None
        assert stored.title == "Factory output rose 15 percent in March" and stored.update_marker
        assert "UPDATED" not in await brief(store, T0 + timedelta(hours=2))

        update = await digest(store, platform, T0 + timedelta(hours=3))
        text = to_console_text(update)
        assert "1. Updated: Factory output rose 15 percent in March" in text
        assert "UPDATED" not in text
        slack = str(to_slack_messages(update))
        assert "*Updated:* *<" in slack and "Update · Harbour Wire" in slack
        [embed] = all_embeds(to_discord_messages(update))
        assert embed.title == "Updated: Factory output rose 15 percent in March"
        assert embed.footer.text == "Update · Harbour Wire"

        # the same entry polled again is no new revision, and the story does not come back
        await poll(store, loopback, T0 + timedelta(hours=4), feed)
        assert store.article_by_url(loopback.url("/output")) == stored
        assert (await digest(store, platform, T0 + timedelta(hours=5))).empty
        # a channel that never saw it gets it whole, still marked as its outlet marked it
        elsewhere = build_digest(store, ChannelRef("discord", "D1"), now=T0 + timedelta(hours=5))
        [story] = elsewhere.stories
        assert story.update and "rose 15 percent" in to_console_text(elsewhere)


def page(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{p}.</p>" for p in text.split(". "))
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


async def test_teaser_pages_are_fetched_again_only_when_the_entry_changes(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    full_12 = OUTPUT_12[1] + " " + FERRY[1].replace("harbour ferry", "factory shuttle bus")
    teaser_12 = (OUTPUT_12[0], "Riverton factory output grew in March. Read more...")
    teaser_15 = (OUTPUT_15[0], "Riverton factory output grew by 15 percent in March. Read more...")
    with open_store(db_target) as store:
        loopback.add("/output", page(OUTPUT_12[0], full_12))
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": teaser_12}, teaser=True)
        await poll(store, loopback, T0, feed)
        stored = store.article_by_url(loopback.url("/output"))
        assert stored is not None and "Lindqvist Bank" in stored.text  # the page's text
        assert len(loopback.requests_for("/output")) == 1

        await poll(store, loopback, T0 + timedelta(hours=1), feed)
        assert len(loopback.requests_for("/output")) == 1  # unchanged entry: page not fetched

        loopback.add("/output", page(OUTPUT_15[0], full_12.replace("rose 12", "rose 15")))
        publish(loopback, "/rss", "Harbour Wire", {"output": teaser_15}, teaser=True)
        polled = await poll(store, loopback, T0 + timedelta(hours=2), feed)
        assert len(loopback.requests_for("/output")) == 2 and len(polled.revised) == 1
        revised = store.article_by_url(loopback.url("/output"))
        assert revised is not None and revised.revision == 1
        assert "rose 15 percent" in revised.text and "Lindqvist Bank" in revised.text

        # the entry changes again but its page is gone: the teaser never replaces the text
        loopback.add("/output", "gone", status=404)
        publish(
            loopback,
            "/rss",
            "Harbour Wire",
            {"output": ("Factory output jumps 15 percent", teaser_15[1])},
            teaser=True,
        )
        await poll(store, loopback, T0 + timedelta(hours=3), feed)
        last = store.article_by_url(loopback.url("/output"))
        assert last is not None and last.title == "Factory output jumps 15 percent"
        assert last.text == revised.text
        await poll(store, loopback, T0 + timedelta(hours=4), feed)
        assert len(loopback.requests_for("/output")) == 3  # and it is not fetched every poll


async def test_a_revision_to_another_articles_text_keeps_the_article(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    with open_store(db_target) as store:
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12, "ferry": FERRY})
        await poll(store, loopback, T0, feed)
        # a syndication mistake: the output entry now carries the ferry story's text
        publish(loopback, "/rss", "Harbour Wire", {"output": FERRY, "ferry": FERRY})
        polled = await poll(store, loopback, T0 + timedelta(hours=1), feed)
        assert polled.revised == [] and polled.duplicates == 2
        kept = store.article_by_url(loopback.url("/output"))
        assert kept is not None and kept.title == OUTPUT_12[0] and "12 percent" in kept.text


async def test_the_same_link_in_another_feed_does_not_revise_it(
    db_target: str, tmp_path: Path, loopback: LoopbackServer
) -> None:
    platform = Platform()
    with open_store(db_target) as store:
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12})
        # a section feed of the same site carries the link with a shorter excerpt of its own
        excerpt = (OUTPUT_12[0], OUTPUT_12[1].split(". ")[0] + ".")
        section = publish(loopback, "/business", "Harbour Wire Business", {"output": excerpt})
        await poll(store, loopback, T0, feed, section)
        await digest(store, platform, T0 + timedelta(hours=1))
        for hour in (2, 3):
            polled = await poll(store, loopback, T0 + timedelta(hours=hour), section, feed)
            assert polled.revised == []
        stored = store.article_by_url(loopback.url("/output"))
        assert stored is not None and stored.revision == 0 and stored.text == OUTPUT_12[1]
        assert (await digest(store, platform, T0 + timedelta(hours=4))).empty


async def test_a_version_1_database_upgrades_and_tracks_revisions_from_its_next_poll(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    path = tmp_path / "old.db"
    url, feed_url = loopback.url("/output"), loopback.url("/rss")
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.executescript(
        f"""
        PRAGMA user_version = 1;
        INSERT INTO articles
            (id, url, content_hash, title, source, text, published, fetched_at, origin)
        VALUES (1, '{url}', 'h1', '{OUTPUT_12[0]}', 'Harbour Wire', '{OUTPUT_12[1]}',
                '2026-03-10T07:00:00+00:00', '2026-03-10T08:00:00+00:00', '{feed_url}');
        INSERT INTO briefings (article_id, headline, bullets)
        VALUES (1, '{OUTPUT_12[0]}', '[{{"text": "Output rose 12 percent."}}]');
        INSERT INTO deliveries (platform, channel, article_id, delivered_at)
        VALUES ('slack', 'C1', 1, '2026-03-10T09:00:00+00:00');
        """
    )
    old.close()
    platform = Platform()
    with Store.open(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
        assert {"article_revisions", "article_views", "story_views"} <= tables
        stored = store.get_article(1)
        assert stored is not None and stored.title == OUTPUT_12[0]
        assert (stored.revision, stored.entry_hash, stored.update_marker) == (0, None, False)
        assert [a.id for a in store.search_articles("Lindqvist")] == [1]
        assert build_digest(store, CHANNEL, now=T0 + timedelta(hours=2)).empty

        # the first poll after the upgrade is the baseline: nothing to compare it with before
        feed = publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_12})
        polled = await poll(store, loopback, T0 + timedelta(hours=2), feed)
        assert (polled.added, polled.revised, polled.duplicates) == ([], [], 1)
        publish(loopback, "/rss", "Harbour Wire", {"output": OUTPUT_15})
        polled = await poll(store, loopback, T0 + timedelta(hours=3), feed)
        assert [a.id for a in polled.revised] == [1]
        assert [a.id for a in store.search_articles("15 percent")] == [1]
        update = await digest(store, platform, T0 + timedelta(hours=4))
        assert "1. Updated: Factory output rose 15 percent in March" in to_console_text(update)
        assert (await digest(store, platform, T0 + timedelta(hours=5))).empty


@pytest.mark.parametrize(
    ("title", "stored", "marked"),
    [
        ("UPDATED: Output rose 15 percent", "Output rose 15 percent", True),
        ("Update 2: Talks resume in Geneva", "Talks resume in Geneva", True),
        ("UPDATE - Port reopens", "Port reopens", True),
        ("[Updated] Port reopens", "Port reopens", True),
        ("Update-ready phones ship in May", "Update-ready phones ship in May", False),
        (
            "Updated guidance: what changes for savers",
            "Updated guidance: what changes for savers",
            False,
        ),
        ("Updated:", "Updated:", False),
    ],
)
def test_only_a_leading_update_marker_leaves_the_title(
    title: str, stored: str, marked: bool
) -> None:
    assert split_update_marker(title) == (stored, marked)
