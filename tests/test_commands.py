"""Every command through the neutral core, as the console (and later Slack/Discord) call it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import CommandContext, Reply, from_line, handle, parse_time, parse_zone
from bot.config import Settings
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef, Digest, Receipt
from bot.store import Store
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("slack", "C1")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Wire</title>
<link>{base}</link><description>Local news</description>
<item><title>Ferry line adds night crossings</title><link>{base}/ferry</link>
<pubDate>Mon, 05 Jan 2026 08:00:00 GMT</pubDate>
<description>The harbour ferry will run every hour through the night from March, the operator
said on Monday. The change follows a petition signed by 12,000 shift workers. Tickets keep
their price of 2.50 euros. The operator will hire 14 more crew to staff the night service.
</description></item></channel></rss>"""


@pytest.fixture
def store(seeded_store: Store) -> Store:
    return seeded_store


def context(store: Store, **kw: object) -> CommandContext:
    fields: dict[str, object] = {
        "store": store,
        "settings": Settings(),
        "channel": CHANNEL,
        "clock": lambda: NOW,
    }
    fields.update(kw)
    return CommandContext(**fields)  # type: ignore[arg-type]


async def run(ctx: CommandContext, line: str) -> Reply:
    reply = await handle(ctx, line)
    assert "Traceback" not in reply.text
    return reply


async def test_help_lists_every_command_with_an_example(store: Store) -> None:
    reply = await run(context(store), "/help")
    for usage in ("/brief", "/ask", "/subscribe", "/unsubscribe", "/sources", "/digest", "/filter"):
        assert usage in reply.text
    assert reply.text.count("e.g. /") == 8


async def test_ask_answers_from_the_seed_with_its_source(store: Store) -> None:
    reply = await run(context(store), "/ask What does Zelenskyy say security guarantees are?")
    assert reply.answer is not None and reply.answer.answered
    sources = [c.source for c in reply.answer.citations]
    assert "European Pravda" in sources
    assert any("strong armed forces" in c.sentence for c in reply.answer.citations)


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        ("Who is the CEO of Corvid?", "From 1 article:"),
        (
            "What did Zelenskyy say about security guarantees and NATO Article 5?",
            "From 2 articles:",
        ),
    ],
)
async def test_ask_reply_counts_the_articles_it_quotes(
    store: Store, question: str, lead: str
) -> None:
    reply = await run(context(store), f"/ask {question}")
    assert reply.answer is not None and reply.answer.answered
    assert reply.text == lead
    assert len({c.article_id for c in reply.answer.citations}) == int(lead.split()[1])


async def test_ask_says_plainly_when_nothing_answers(store: Store) -> None:
    reply = await run(context(store), "/ask What is the capital of Mongolia?")
    assert reply.answer is not None and not reply.answer.answered
    assert "nothing in the stored articles" in reply.text
    empty = await run(context(store), "/ask   ??")
    assert not empty.ok and "Usage: /ask [public] <question>" in empty.text


async def test_subscribe_fetches_once_then_lists_and_unsubscribes(
    store: Store, loopback: LoopbackServer
) -> None:
    base = loopback.url("").rstrip("/")
    feed = loopback.add("/rss.xml", body=FEED.format(base=base), content_type="application/rss+xml")
    loopback.add("/ferry", body="<html><body><p>short</p></body></html>")
    ctx = context(store, policy=loopback.policy())
    reply = await run(ctx, f"/subscribe {feed}")
    assert reply.ok, reply.text
    assert "Subscribed to Harbour Wire" in reply.text and "source 1" in reply.text
    assert not reply.ephemeral
    again = await run(ctx, f"/subscribe {feed}")
    assert "already follows" in again.text
    listed = await run(ctx, "/sources")
    assert f"1. Harbour Wire - {feed}" in listed.text
    # the feed's articles are stored and reach this channel, but not one that does not follow it
    brief = await run(ctx, "/brief ferry")
    assert brief.digest is not None and "Harbour Wire" in brief.digest.stories[0].sources
    other = context(store, channel=ChannelRef("slack", "C2"))
    assert (await run(other, "/brief ferry")).digest is None
    other_digest = await run(other, "/digest now")
    assert other_digest.digest is not None
    assert all("Harbour Wire" not in s.sources for s in other_digest.digest.stories)
    assert len(other_digest.digest.stories) >= 4  # the hand-ingested seeds reach every channel
    own_digest = await run(ctx, "/digest now")
    assert own_digest.digest is not None
    assert any("Harbour Wire" in s.sources for s in own_digest.digest.stories)
    gone = await run(ctx, "/unsubscribe 1")
    assert gone.ok and "Unsubscribed" in gone.text
    assert "follows no feeds of its own" in (await run(ctx, "/sources")).text
    missing = await run(ctx, "/unsubscribe 1")
    assert not missing.ok


async def test_subscribe_to_a_page_finds_the_feed_it_names(
    store: Store, loopback: LoopbackServer
) -> None:
    base = loopback.url("").rstrip("/")
    loopback.add("/rss.xml", body=FEED.format(base=base), content_type="application/rss+xml")
    page = loopback.add(
        "/news",
        body='<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        "</head><body><p>News</p></body></html>",
    )
    reply = await run(context(store, policy=loopback.policy()), f"/subscribe {page}")
    assert reply.ok, reply.text
    assert store.subscriptions(CHANNEL)[0].source == loopback.url("/rss.xml")


async def test_subscribe_refuses_bad_addresses_with_the_reason(
    store: Store, loopback: LoopbackServer
) -> None:
    page = loopback.add("/plain", body="<html><body><p>No feed here at all.</p></body></html>")
    allowed = context(store, policy=loopback.policy())
    not_feed = await run(allowed, f"/subscribe {page}")
    assert not not_feed.ok and "not a feed" in not_feed.text
    missing = await run(allowed, f"/subscribe {loopback.url('/nothing.xml')}")
    assert not missing.ok and "HTTP 404" in missing.text
    private = await run(context(store, policy=FetchPolicy()), f"/subscribe {page}")
    assert not private.ok and "fetch.allow_private" in private.text
    for bad in ("/subscribe", "/subscribe ftp://example.org/feed", "/subscribe two words"):
        assert "Usage: /subscribe" in (await run(allowed, bad)).text
    assert store.subscriptions(CHANNEL) == []


async def test_digest_schedule_show_set_off_and_bad_arguments(store: Store) -> None:
    ctx = context(store)
    assert "No daily digest here" in (await run(ctx, "/digest")).text
    assert (await run(ctx, "/digest 7:30 europe/kyiv")).text == (
        "Daily digest set for 07:30 Europe/Kyiv."
    )
    assert (await run(ctx, "/digest")).text == "Daily digest at 07:30 Europe/Kyiv."
    assert (await run(ctx, "/digest 6:15 pm")).text == "Daily digest set for 18:15 Europe/Kyiv."
    settings = store.get_channel(CHANNEL)
    assert (settings.digest_time, settings.timezone) == ("18:15", "Europe/Kyiv")
    bad_zone = await run(ctx, "/digest 07:30 Mars/Olympus")
    assert not bad_zone.ok and "Unknown time zone 'Mars/Olympus'" in bad_zone.text
    bad_time = await run(ctx, "/digest 25:00")
    assert not bad_time.ok and "Usage: /digest" in bad_time.text
    assert store.get_channel(CHANNEL).digest_time == "18:15"
    assert (await run(ctx, "/digest off")).text == "Daily digest turned off."
    assert store.get_channel(CHANNEL).digest_time is None


async def test_digest_now_posts_through_the_adapter_once(store: Store) -> None:
    posts: list[Digest] = []

    async def post(channel: ChannelRef, digest: Digest) -> Receipt:
        posts.append(digest)
        return Receipt(channel)

    ctx = context(store, post=post, clock=lambda: datetime.now(UTC))
    assert (await run(ctx, "/digest now")).text == "Digest posted."
    assert len(posts) == 1 and not posts[0].empty
    # nothing new: nothing is posted in the channel, and the user is told so
    again = await run(ctx, "/digest now")
    assert again.text.startswith("Nothing new since") and "no digest was posted" in again.text
    assert len(posts) == 1


async def test_filter_limits_brief_and_digest(store: Store) -> None:
    ctx = context(store)
    assert "No filter" in (await run(ctx, "/filter")).text
    reply = await run(ctx, '/filter "bike lanes" heatwave')
    assert reply.text == (
        'From now on only stories that mention "bike lanes" or heatwave reach this channel.'
    )
    brief = await run(ctx, "/brief")
    assert brief.digest is not None
    assert sorted(s.lead.source for s in brief.digest.stories) == [
        "Central Europe Wire",
        "Riverton Courier",
    ]
    assert (await run(ctx, "/filter")).text == (
        'Filter: only stories that mention "bike lanes" or heatwave.'
    )
    await run(ctx, "/filter off")
    full = await run(ctx, "/brief")
    assert full.digest is not None and len(full.digest.stories) >= 4


async def test_changes_need_manage_permission_but_reading_does_not(store: Store) -> None:
    ctx = context(store, can_manage=False)
    for line in (
        "/subscribe https://example.org/rss",
        "/unsubscribe 1",
        "/digest 07:30",
        "/digest off",
        "/filter x",
    ):
        reply = await run(ctx, line)
        assert not reply.ok and "manage this channel" in reply.text, line
    assert (await run(ctx, "/brief")).ok
    assert (await run(ctx, "/digest")).ok
    assert (await run(ctx, "/filter")).ok


def test_time_and_zone_parsing() -> None:
    assert [parse_time(t) for t in ("7:30", "07:30", "23:59", "7am", "12am", "12:15pm")] == [
        "07:30",
        "07:30",
        "23:59",
        "07:00",
        "00:00",
        "12:15",
    ]
    assert [parse_time(t) for t in ("7", "24:00", "7:60", "13pm", "noon", "")] == [None] * 6
    assert parse_zone("utc") == "UTC"
    assert parse_zone("america/new_york") == "America/New_York"
    assert parse_zone("Nowhere/City") is None


async def test_commands_are_refused_once_the_bot_is_stopping(store: Store) -> None:
    from bot.engine import Engine

    engine = Engine(store=store, settings=Settings(), policy=FetchPolicy())
    assert (await engine.commands.dispatch(from_line(CHANNEL, "/brief"))).ok
    engine.stop()  # what run_platforms does at SIGTERM
    for line in ("/brief", "/digest 07:30", "/subscribe https://example.org/rss"):
        reply = await engine.commands.dispatch(from_line(CHANNEL, line))
        assert not reply.ok and reply.text == "newsbrief is restarting; try again in a minute."
    assert store.get_channel(CHANNEL).digest_time is None
