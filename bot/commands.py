"""Platform-neutral commands: one function per command, each returning a neutral Reply.

Adapters parse their platform's payload and call these (``await commands.brief(ctx, topic)``);
the console calls `handle` with the line a user typed. Every bad argument gets a one-line usage
message, never a traceback.

Example:
    reply = await handle(ctx, "/digest 07:30 Europe/Kyiv")
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.alerts import DIGEST, FEED
from bot.ask import answer_question
from bot.config import Settings
from bot.delivery import Delivery, Outcome, PostDigest, now_slot, send_digest
from bot.digest import build_digest, latest_stories, mark_delivered, parse_filter
from bot.errors import SourceError, StoreFaultError
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.ingest.pipeline import is_url, subscribe_feed
from bot.ingest.urls import canonical_url
from bot.models import Answer, ChannelRef, Digest, Subscription
from bot.store import Store
from bot.text import strip_control

if TYPE_CHECKING:
    from bot.scheduler import Scheduler
    from bot.summarize.llm import ModelWriter

MAX_COMMAND_CHARS = 2000
MAX_QUESTION_CHARS = 500
BRIEF_STORIES = 5
MAX_FILTER_TERMS = 20
MAX_SUBSCRIPTIONS = 50
BRIEF_MODEL_SECONDS = 10.0  # /brief waits this long for model briefings, then shows extracts


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: a line of text and, optionally, stories or a cited answer.

    `ephemeral` replies are shown only to the user who asked, where the platform can do that.
    `ok` is False for a usage or input error.
    """

    text: str
    digest: Digest | None = None
    answer: Answer | None = None
    ephemeral: bool = True
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, where, and the engine's parts a command may use.

    Attributes:
        can_manage: whether the user may change this channel's sources, schedule and filter
            (adapters map it from the platform's permissions).
        post: sends a digest to this channel in one go (for ``/digest now`` without a
            `delivery`); None with neither: the digest is the reply.
        scheduler: told when a channel's schedule changes; None when nothing is scheduled.
        accepting: False once the bot is shutting down: new commands are refused.
        delivery: the process's digest delivery (``/digest now`` goes through it, so it is
            sent part by part exactly once, retried, and waited for by a shutdown).
        writer: the optional language model (``[llm]``) for briefings and answers.
    """

    store: Store
    settings: Settings
    channel: ChannelRef
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    clock: Callable[[], datetime] = field(default=_utcnow)
    can_manage: bool = True
    post: PostDigest | None = None
    scheduler: Scheduler | None = None
    accepting: Callable[[], bool] = field(default=lambda: True)
    delivery: Delivery | None = None
    writer: ModelWriter | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    example: str
    summary: str


SPECS: tuple[CommandSpec, ...] = (
    CommandSpec("brief", "/brief [topic]", "/brief security guarantees", "the latest stories"),
    CommandSpec(
        "ask",
        "/ask <question>",
        "/ask What does Zelenskyy say security guarantees are?",
        "an answer quoted from stored articles, with sources",
    ),
    CommandSpec(
        "subscribe",
        "/subscribe <feed-or-page-url>",
        "/subscribe https://example.org/rss.xml",
        "follow a feed in this channel",
    ),
    CommandSpec("unsubscribe", "/unsubscribe <url|id>", "/unsubscribe 2", "stop following one"),
    CommandSpec("sources", "/sources", "/sources", "what this channel follows"),
    CommandSpec(
        "digest",
        "/digest <HH:MM> [time zone] | now | off",
        "/digest 07:30 Europe/Kyiv",
        "schedule the daily digest",
    ),
    CommandSpec(
        "filter",
        '/filter <words or "quoted phrases"> | off',
        '/filter ukraine "central bank"',
        "only stories matching one of them",
    ),
    CommandSpec("help", "/help", "/help", "this list"),
)
_SPEC = {s.name: s for s in SPECS}


def usage(name: str, problem: str = "") -> Reply:
    spec = _SPEC[name]
    lead = f"{problem} " if problem else ""
    return Reply(f"{lead}Usage: {spec.usage} (e.g. {spec.example})", ok=False)


def _needs_manage(name: str) -> Reply:
    return Reply(
        f"Only members who can manage this channel can change its {name}.",
        ok=False,
    )


async def brief(ctx: CommandContext, topic: str = "") -> Reply:
    """The latest stories, or those matching `topic` through the full-text index."""
    topic = " ".join(topic.split())
    if len(topic) > 200:
        return usage("brief", "That topic is too long.")
    terms = ctx.store.get_channel(ctx.channel).filter
    hidden = ctx.store.hidden_sources(ctx.channel, ctx.settings.feeds.urls)
    stories = latest_stories(
        ctx.store, limit=BRIEF_STORIES, topic=topic, terms=terms, hidden=hidden, now=ctx.clock()
    )
    if not stories:
        if topic:
            return Reply(f'No stored stories match "{topic}". Try fewer or other words.')
        if terms:
            return Reply("No stored stories match this channel's filter (see /filter).")
        return Reply("No stories stored yet. Add a feed with /subscribe <url>.")
    if ctx.writer is not None:
        stories = await ctx.writer.rewrite(stories, within=BRIEF_MODEL_SECONDS)
    noun = "story" if len(stories) == 1 else "stories"
    header = f'Top {len(stories)} {noun} on "{topic}"' if topic else f"Latest {len(stories)} {noun}"
    digest = Digest(stories=tuple(stories), generated_at=ctx.clock(), overview=header + ".")
    return Reply(header + ".", digest=digest)


async def ask(ctx: CommandContext, question: str = "") -> Reply:
    """Answer from stored articles, each sentence with its source; say so when they don't."""
    question = " ".join(question.split())
    if not any(ch.isalnum() for ch in question):
        return usage("ask", "Ask a question.")
    if len(question) > MAX_QUESTION_CHARS:
        return usage("ask", f"That question is too long (over {MAX_QUESTION_CHARS} characters).")
    answer = await asyncio.to_thread(answer_question, ctx.store, question)
    if ctx.writer is not None and answer.answered:
        answer = await ctx.writer.answer(answer)
        if not answer.answered:
            return Reply("The stored articles I found don't say.", answer=answer)
    if not answer.answered:
        return Reply(
            "I found nothing in the stored articles that answers that.",
            answer=answer,
        )
    articles = len({c.article_id for c in answer.citations})
    return Reply(f"From {articles} {'article' if articles == 1 else 'articles'}:", answer=answer)


async def subscribe(ctx: CommandContext, url: str = "") -> Reply:
    """Follow a feed (or the feed a page names) in this channel, after fetching it once."""
    if not ctx.can_manage:
        return _needs_manage("sources")
    url = url.strip().strip("<>")
    if not url or " " in url:
        return usage("subscribe")
    if "://" not in url and "." in url:
        url = "https://" + url
    if not is_url(url):
        return usage("subscribe", "Give an http:// or https:// address.")
    subs = ctx.store.subscriptions(ctx.channel)
    if len(subs) >= MAX_SUBSCRIPTIONS:
        return Reply(f"This channel follows {len(subs)} sources already, the most allowed.")
    if canonical_url(url) in {s.source for s in subs}:
        return Reply(f"This channel already follows {canonical_url(url)}.")
    names = OutletNames.from_settings(ctx.settings.feeds.names)
    try:
        feed, title, result = await subscribe_feed(
            url, ctx.store, ctx.policy, now=ctx.clock(), names=names
        )
    except SourceError as exc:
        return Reply(f"Could not subscribe to {_without_password(url)}: {exc.reason}.", ok=False)
    sub, new = ctx.store.add_subscription(
        Subscription(ctx.channel.platform, ctx.channel.channel, feed, created_at=ctx.clock())
    )
    if not new:
        return Reply(f"This channel already follows {feed}.")
    name = f"{title} ({feed})" if title else feed
    count = len(result.added) + len(result.revised) + result.duplicates
    notes = "".join(f" Note: {note}." for _, note in result.notes)
    return Reply(
        f"Subscribed to {name} as source {sub.id}: {count} articles now, new ones polled every "
        f"{max(1, ctx.settings.feeds.poll_interval // 60)} minutes.{notes}",
        ephemeral=False,
    )


async def unsubscribe(ctx: CommandContext, target: str = "") -> Reply:
    """Stop following a source, by its id from /sources or its URL."""
    if not ctx.can_manage:
        return _needs_manage("sources")
    target = target.strip().strip("<>")
    if not target or " " in target:
        return usage("unsubscribe")
    key = target if target.isdigit() else canonical_url(target)
    shown = _without_password(target)
    if ctx.store.remove_subscription(ctx.channel, key):
        return Reply(f"Unsubscribed from {shown}.", ephemeral=False)
    return Reply(f"This channel does not follow {shown}. See /sources.", ok=False)


def _without_password(url: str) -> str:
    """`url` without its user name and password, to echo it back (the fetcher refuses them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


async def sources(ctx: CommandContext, args: str = "") -> Reply:
    """The channel's sources with their state, and the feeds every channel gets."""
    subs = ctx.store.subscriptions(ctx.channel)
    lines = []
    for sub in subs:
        title = ctx.store.feed_title(sub.source)
        state = ctx.store.get_feed_state(sub.source)
        status = ""
        if state and state.error_count:
            alert = ctx.store.alert(FEED, sub.source)
            since = alert.since if alert and alert.since else state.last_polled
            status = (
                f" (failing since {_utc(since)}: {state.last_error}; {state.error_count} failed "
                f"polls; next try {_utc(state.next_poll)})"
            )
        elif state and state.last_ok and state.entries == 0:
            status = f" (checked {state.last_ok:%Y-%m-%d %H:%M} UTC: no entries to read)"
        elif state and state.last_ok:
            status = f" (checked {state.last_ok:%Y-%m-%d %H:%M} UTC)"
        name = f"{title} - {sub.source}" if title else sub.source
        lines.append(f"{sub.id}. {name}{status}")
    shared = list(ctx.settings.feeds.urls)
    if not lines:
        text = (
            "This channel follows no feeds of its own: it gets the bot's shared feeds and "
            "articles. Add one with /subscribe <url>."
        )
    else:
        text = "This channel follows:\n" + "\n".join(lines)
    if shared:
        text += "\nEvery channel also gets: " + ", ".join(shared)
    health = _digest_health(ctx)
    if health:
        text += "\n" + health
    return Reply(text)


def _utc(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def _digest_health(ctx: CommandContext) -> str:
    """A line on this channel's digests when they fail, as its notice and /readyz tell it."""
    alert = ctx.store.alert(DIGEST, str(ctx.channel))
    if alert is None or not alert.failures:
        return ""
    runs = [r for r in ctx.store.channel_runs(ctx.channel) if r.status == "failed"]
    plan = "not retried (given up: its stories come in the next digest)"
    if runs and runs[0].next_attempt:
        plan = f"next try {_utc(runs[0].next_attempt)}"
    return (
        f"Digests: failing since {_utc(alert.since)}: {alert.last_error} "
        f"({alert.failures} failed attempts); {plan}."
    )


_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def parse_time(text: str) -> str | None:
    """``7:30``, ``07:30``, ``19:05``, ``7am``, ``7:30pm`` -> ``"HH:MM"``; None if invalid."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridian = (match.group(3) or "").lower()
    if meridian:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridian == "pm" else 0)
    elif match.group(2) is None:
        return None  # a bare "7" is ambiguous
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"


def parse_zone(text: str) -> str | None:
    """An IANA time zone name, matched without regard to case; None if unknown."""
    name = text.strip()
    if name.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    lowered = name.lower()
    return next((z for z in sorted(available_timezones()) if z.lower() == lowered), None)


async def digest(ctx: CommandContext, args: str = "") -> Reply:
    """Show, set (``HH:MM [zone]``), send (``now``) or stop (``off``) the daily digest."""
    words = args.split()
    settings = ctx.store.get_channel(ctx.channel)
    if not words:
        if settings.digest_time is None:
            return Reply("No daily digest here. Set one with /digest 07:30 Europe/Kyiv.")
        text = f"Daily digest at {settings.digest_time} {settings.timezone}"
        if not settings.enabled:
            text += f", paused: {settings.disabled_reason}"
        return Reply(text + ".")
    command = words[0].lower()
    if command == "now":
        if len(words) > 1:
            return usage("digest")
        return await _digest_now(ctx)
    if not ctx.can_manage:
        return _needs_manage("digest schedule")
    if command == "off":
        if len(words) > 1:
            return usage("digest")
        ctx.store.put_channel(replace(settings, digest_time=None))
        _reschedule(ctx)
        return Reply("Daily digest turned off.", ephemeral=False)
    if len(words) > 1 and words[1].lower() in ("am", "pm"):
        words = [words[0] + words[1], *words[2:]]  # "7:30 pm"
    at = parse_time(words[0])
    if at is None:
        return usage("digest", f"{words[0]!r} is not a time like 07:30.")
    zone_text = " ".join(words[1:])
    zone = parse_zone(zone_text) if zone_text else settings.timezone
    if zone_text and zone is None:
        return usage(
            "digest",
            f"Unknown time zone {zone_text!r}: use a name like Europe/Kyiv or America/New_York.",
        )
    assert zone is not None
    ctx.store.put_channel(replace(settings, digest_time=at, timezone=zone, enabled=True))
    _reschedule(ctx)
    return Reply(f"Daily digest set for {at} {zone}.", ephemeral=False)


def _reschedule(ctx: CommandContext) -> None:
    if ctx.scheduler is not None:
        ctx.scheduler.schedule(ctx.store.get_channel(ctx.channel))


async def _digest_now(ctx: CommandContext) -> Reply:
    now = ctx.clock()
    if ctx.post is None and ctx.delivery is None:
        built = build_digest(
            ctx.store,
            ctx.channel,
            max_stories=ctx.settings.digest.max_stories,
            now=now,
            shared=ctx.settings.feeds.urls,
        )
        mark_delivered(ctx.store, ctx.channel, built)
        return Reply(built.overview, digest=built, ephemeral=False)
    outcome = await _send_now(ctx, now)
    if outcome.status == "sent":
        return Reply("Digest posted.")
    if outcome.status == "skipped" and outcome.detail.startswith("claimed"):
        return Reply("A digest was posted here a moment ago.")
    if outcome.status == "skipped":
        return Reply(f"No digest was sent: {outcome.detail}.", ok=False)
    if outcome.status == "failed" and outcome.next_attempt is not None:
        return Reply(
            f"The digest could not be posted yet ({outcome.detail}); newsbrief tries again at "
            f"{outcome.next_attempt.astimezone(UTC):%H:%M:%S} UTC and posts what is missing.",
            ok=False,
        )
    return Reply(f"The digest could not be posted: {outcome.detail}.", ok=False)


async def _send_now(ctx: CommandContext, now: datetime) -> Outcome:
    if ctx.delivery is not None:
        return await ctx.delivery.send(ctx.channel, now_slot(now), now=now)
    assert ctx.post is not None
    return await send_digest(
        ctx.store,
        ctx.channel,
        ctx.post,
        slot=now_slot(now),
        now=now,
        max_stories=ctx.settings.digest.max_stories,
        shared=ctx.settings.feeds.urls,
    )


async def filter_(ctx: CommandContext, args: str = "") -> Reply:
    """Show, set or clear (``off``) the words and phrases stories must match here."""
    settings = ctx.store.get_channel(ctx.channel)
    if not args.strip():
        if not settings.filter:
            return Reply('No filter: every story reaches this channel. Set one: /filter "AI" chips')
        return Reply("Filter: " + ", ".join(_quoted(t) for t in settings.filter))
    if not ctx.can_manage:
        return _needs_manage("filter")
    if args.strip().lower() == "off":
        ctx.store.put_channel(replace(settings, filter=()))
        return Reply("Filter removed: every story reaches this channel.", ephemeral=False)
    terms = parse_filter(args)
    if not terms:
        return usage("filter")
    if len(terms) > MAX_FILTER_TERMS or any(len(t) > 100 for t in terms):
        return usage("filter", f"Use at most {MAX_FILTER_TERMS} words or phrases.")
    ctx.store.put_channel(replace(settings, filter=terms))
    shown = ", ".join(_quoted(t) for t in terms)
    return Reply(f"Only stories matching one of {shown} reach this channel.", ephemeral=False)


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


async def help_(ctx: CommandContext, args: str = "") -> Reply:
    """Every command with one example."""
    width = max(len(s.usage) for s in SPECS)
    lines = [f"{s.usage.ljust(width)}  {s.summary}, e.g. {s.example}" for s in SPECS]
    return Reply("Commands:\n" + "\n".join(lines))


HANDLERS: dict[str, Callable[[CommandContext, str], Awaitable[Reply]]] = {
    "brief": brief,
    "ask": ask,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "sources": sources,
    "digest": digest,
    "filter": filter_,
    "help": help_,
}


async def handle(ctx: CommandContext, line: str) -> Reply:
    """Parse one typed line (``/name args``) and run the command it names."""
    if not ctx.accepting():
        return Reply("newsbrief is restarting; try again in a minute.", ok=False)
    line = strip_control(line, keep_newlines=False).strip()
    if not line:
        return Reply("Type a command, e.g. /help.", ok=False)
    if len(line) > MAX_COMMAND_CHARS:
        return Reply(f"That command is too long (over {MAX_COMMAND_CHARS} characters).", ok=False)
    name, _, args = line.partition(" ")
    name = name.lstrip("/").lower()
    handler = HANDLERS.get(name)
    if handler is None:
        return Reply(f"Unknown command /{name}. Type /help for the list.", ok=False)
    if name == "brief":
        args = _unquote(args)
    try:
        return await handler(ctx, args)
    except StoreFaultError as exc:
        # never "saved" when it was not: say what is wrong, and that nothing changed
        return Reply(
            f"newsbrief cannot save anything right now, so nothing changed: {exc.reason}. "
            "The bot's operator needs to fix its database.",
            ok=False,
        )


def _unquote(args: str) -> str:
    """Let users quote a topic ("/brief 'security guarantees'") without the quotes sticking."""
    try:
        return " ".join(shlex.split(args))
    except ValueError:
        return args.strip()
