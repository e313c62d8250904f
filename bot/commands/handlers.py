"""The commands themselves: one function per command, each returning a neutral `Reply`.

They receive what the dispatcher parsed (`bot.commands.dispatch`): the caller's context and the
argument text. Read-only commands (`CommandSpec.read_only`) are plain functions the dispatcher
runs on a worker thread; commands that change something are coroutines on the event loop, where
the store's writes happen. Every bad argument gets a one-line usage message, never a traceback.

Example:
    reply = brief(ctx, "security guarantees")
    reply = await digest(ctx, "07:30 Europe/Kyiv")
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.alerts import DIGEST, FEED
from bot.ask import answer_question
from bot.commands.answers import Answers
from bot.commands.cache import ReadCache
from bot.commands.specs import SPEC, SPECS
from bot.config import Settings
from bot.delivery import Delivery, Outcome, PostDigest, now_slot, send_digest
from bot.digest import (
    build_digest,
    describe_filter,
    latest_stories,
    mark_delivered,
    parse_filter,
)
from bot.errors import SourceError
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.ingest.pipeline import subscribe_feed
from bot.ingest.prepare import default_workers
from bot.ingest.urls import canonical_url
from bot.models import Answer, ChannelRef, Digest, Story, Subscription
from bot.store import Store

if TYPE_CHECKING:
    from bot.scheduler import Scheduler
    from bot.summarize.llm import ModelWriter

MAX_QUESTION_CHARS = 500
MAX_TOPIC_CHARS = 200
BRIEF_STORIES = 5
MAX_FILTER_TERMS = 20
MAX_FILTER_TERM_CHARS = 100
MAX_SUBSCRIPTIONS = 50
# SQLite's integer ids are 64-bit: a longer number names no source (and would overflow)
MAX_SOURCE_ID = 2**63 - 1


T = TypeVar("T")
UTC_ZONE = ZoneInfo("UTC")
BRIEF_MODEL_SECONDS = 10.0  # /brief waits this long for model briefings, then shows extracts


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: a line of text and, optionally, stories or a cited answer.

    Attributes:
        ephemeral: shown only to the user who asked, where the platform can do that; False for
            a change the whole channel should see.
        ok: False for a usage or input error (always answered privately).
        zone: the channel's time zone, for the dates an adapter shows.
    """

    text: str
    digest: Digest | None = None
    answer: Answer | None = None
    ephemeral: bool = True
    ok: bool = True
    zone: ZoneInfo = UTC_ZONE


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, where, and the engine's parts a command may use.

    Attributes:
        can_manage: whether the user may change this channel's sources, schedule and filter
            (adapters map it from the platform's permissions).
        post: sends a digest to this channel in one go (for ``/digest now`` without a
            `delivery`); None with neither: the digest is the reply.
        scheduler: told when a channel's schedule changes; None when nothing is scheduled.
        delivery: the process's digest delivery (``/digest now`` goes through it, so it is
            sent part by part exactly once, retried, and waited for by a shutdown).
        names: the operator's outlet names, built once from ``[feeds] names``.
        writer: the optional language model (``[llm]``) for briefings and answers.
        reads: the process's cache of /brief and /ask results, kept until the store changes;
            None reads afresh every time.
        answers: the process's /ask worker (`bot.commands.answers`); None answers on the
            command's thread.
    """

    store: Store
    settings: Settings
    channel: ChannelRef
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    clock: Callable[[], datetime] = field(default=_utcnow)
    can_manage: bool = True
    post: PostDigest | None = None
    scheduler: Scheduler | None = None
    delivery: Delivery | None = None
    writer: ModelWriter | None = None
    names: OutletNames | None = None
    reads: ReadCache | None = None
    answers: Answers | None = None

    @property
    def zone(self) -> ZoneInfo:
        return _read(
            self,
            ("zone", self.channel),
            lambda: channel_zone(self.store, self.settings, self.channel),
        )


def channel_zone(store: Store, settings: Settings, channel: ChannelRef) -> ZoneInfo:
    """The time zone a channel's dates are shown in: its digest's, else ``[digest] timezone``."""
    stored = store.get_channel(channel)
    name = stored.timezone if stored.digest_time is not None else settings.digest.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


ReadHandler = Callable[[CommandContext, str], Reply]
WriteHandler = Callable[[CommandContext, str], Awaitable[Reply]]


def _read(ctx: CommandContext, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """`compute()`, or its result kept from an earlier identical read of an unchanged store."""
    if ctx.reads is None:
        return compute()
    return ctx.reads.get(ctx.store, key, compute)


def usage(name: str, problem: str = "") -> Reply:
    """The usage line of command `name`, after `problem` when there is one."""
    spec = SPEC[name]
    lead = f"{problem} " if problem else ""
    return Reply(f"{lead}Usage: {spec.usage} (e.g. {spec.example})", ok=False)


def _needs_manage(what: str) -> Reply:
    return Reply(f"Only members who can manage this channel can change its {what}.", ok=False)


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def unquote(args: str) -> str:
    """Let users quote a topic (``/brief "security guarantees"``) without the quotes sticking."""
    try:
        return " ".join(shlex.split(args))
    except ValueError:
        return " ".join(args.replace('"', " ").replace("'", " ").split())


# Reading ---------------------------------------------------------------------------------------


def brief(ctx: CommandContext, topic: str = "") -> Reply:
    """The latest stories, or those matching `topic` through the full-text index."""
    topic = unquote(topic)
    if len(topic) > MAX_TOPIC_CHARS:
        return usage("brief", "That topic is too long.")

    def read() -> tuple[tuple[str, ...], list[Story]]:
        # the channel's filter and sources are read with the stories: a change to either is a
        # write, after which nothing kept is used
        terms = tuple(ctx.store.get_channel(ctx.channel).filter)
        hidden = ctx.store.hidden_sources(ctx.channel, ctx.settings.feeds.urls)
        return terms, latest_stories(
            ctx.store,
            limit=BRIEF_STORIES,
            topic=topic,
            terms=terms,
            hidden=hidden,
            now=ctx.clock(),
        )

    terms, stories = _read(ctx, ("brief", ctx.channel, topic), read)
    if not stories:
        # name the filter: a user who sees "nothing matches" must know what narrowed it
        if topic:
            tail = (
                f" under this channel's filter (only {describe_filter(terms)}; see /filter)"
                if terms
                else ". Try fewer or other words"
            )
            return Reply(f'No stored stories match "{topic}"{tail}.')
        if terms:
            return Reply(
                "No stored stories match this channel's filter "
                f"(only {describe_filter(terms)}; see /filter)."
            )
        return Reply("No stories stored yet. Add a feed with /subscribe <url>.")
    noun = "story" if len(stories) == 1 else "stories"
    header = f'Top {len(stories)} {noun} on "{topic}"' if topic else f"Latest {len(stories)} {noun}"
    digest = Digest(stories=tuple(stories), generated_at=ctx.clock(), overview=header + ".")
    return Reply(header + ".", digest=digest)


async def with_model(ctx: CommandContext, name: str, reply: Reply) -> Reply:
    """The optional model's pass over a read command's reply, on the event loop where its
    HTTP client lives (the read itself ran in a worker thread): /brief's briefings rewritten
    within `BRIEF_MODEL_SECONDS` (extracts for whatever is late), /ask's answer written from
    the quoted sentences and checked against them."""
    if ctx.writer is None:
        return reply
    if name == "brief" and reply.digest is not None and reply.digest.stories:
        stories = await ctx.writer.rewrite(list(reply.digest.stories), within=BRIEF_MODEL_SECONDS)
        return replace(reply, digest=replace(reply.digest, stories=tuple(stories)))
    if name == "ask" and reply.answer is not None and reply.answer.answered:
        answer = await ctx.writer.answer(reply.answer)
        if not answer.answered:
            return Reply("The stored articles I found don't say.", answer=answer)
        return replace(reply, answer=answer)
    return reply


def ask(ctx: CommandContext, question: str = "") -> Reply:
    """Answer from stored articles, each sentence with its source; say so when they don't."""
    question, problem = _question(question)
    if problem is not None:
        return problem
    answer = _read(ctx, ("ask", question), lambda: answer_question(ctx.store, question))
    return _answered(answer)


async def ask_async(ctx: CommandContext, answers: Answers, question: str = "") -> Reply:
    """`ask` on the event loop, awaiting the worker process that answers (`answers`)."""
    question, problem = _question(question)
    if problem is not None:
        return problem
    compute = functools.partial(answers.answer, question)
    if ctx.reads is None:
        return _answered(await compute())
    return _answered(await ctx.reads.get_async(ctx.store, ("ask", question), compute))


def _question(text: str) -> tuple[str, Reply | None]:
    """The question asked, and the usage reply when it cannot be asked."""
    question = " ".join(text.split())
    if not any(ch.isalnum() for ch in question):
        return question, usage("ask", "Ask a question.")
    if len(question) > MAX_QUESTION_CHARS:
        return question, usage(
            "ask", f"That question is too long (over {MAX_QUESTION_CHARS} characters)."
        )
    return question, None


def _answered(answer: Answer) -> Reply:
    if not answer.answered:
        return Reply("I found nothing in the stored articles that answers that.", answer=answer)
    articles = len({c.article_id for c in answer.citations})
    return Reply(f"From {_plural(articles, 'article')}:", answer=answer)


def sources(ctx: CommandContext, args: str = "") -> Reply:
    """The channel's sources with their state, and the feeds every channel gets."""
    lines = []
    for sub in ctx.store.subscriptions(ctx.channel):
        title = ctx.store.feed_title(sub.source)
        state = ctx.store.get_feed_state(sub.source)
        status = ""
        if state and state.error_count:
            alert = ctx.store.alert(FEED, sub.source)
            since = alert.since if alert and alert.since else state.last_polled
            status = (
                f" (failing since {_utc(since)}: {state.last_error}; "
                f"{_plural(state.error_count, 'failed poll')}; next try {_utc(state.next_poll)})"
            )
        elif state and state.last_ok and state.entries == 0:
            status = f" (checked {_utc(state.last_ok)}: no entries to read)"
        elif state and state.last_ok:
            status = f" (checked {_utc(state.last_ok)})"
        name = f"{title} - {sub.source}" if title else sub.source
        lines.append(f"{sub.id}. {name}{status}")
    if not lines:
        text = (
            "This channel follows no feeds of its own: it gets the bot's shared feeds and "
            "articles. Add one with /subscribe <url>."
        )
    else:
        text = "This channel follows:\n" + "\n".join(lines)
    if ctx.settings.feeds.urls:
        text += "\nEvery channel also gets: " + ", ".join(ctx.settings.feeds.urls)
    health = _digest_health(ctx)
    if health:
        text += "\n" + health
    return Reply(text)


def help_(ctx: CommandContext, args: str = "") -> Reply:
    """Every command with one example."""
    width = max(len(s.usage) for s in SPECS)
    lines = [f"{s.usage.ljust(width)}  {s.summary}, e.g. {s.example}" for s in SPECS]
    return Reply("Commands:\n" + "\n".join(lines))


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
        f"({_plural(alert.failures, 'failed attempt')}); {plan}."
    )


# Sources ---------------------------------------------------------------------------------------


def _without_password(url: str) -> str:
    """`url` without its user name and password, to echo it back (the fetcher refuses them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST = re.compile(r"^(?:[\w-]+\.)*[\w-]+\.?$|^\[[0-9A-Fa-f:.]+\]$")


def _address(text: str) -> tuple[str | None, str]:
    """A web address from what a user typed, or None and why not.

    A bare ``example.org/rss`` gets ``https://``; anything with a scheme keeps it, so a
    mistyped ``http:/host`` is called malformed instead of becoming ``https://http:/host``.
    """
    url = text.strip().strip("<>")
    if "://" not in url and not _SCHEME.match(url) and "." in url:
        url = "https://" + url
    if not url.lower().startswith(("http://", "https://")):
        if _SCHEME.match(url) and url.split(":", 1)[0].lower() in ("http", "https"):
            return None, f"{_without_password(url)!r} is a malformed address"
        return None, "Give an http:// or https:// address."
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None, f"{_without_password(url)!r} is a malformed address"
    host = host.rsplit(":", 1)[0] if port is not None or host.endswith(":") else host
    if not host or not _HOST.match(host):
        return None, f"{_without_password(url)!r} is a malformed address"
    return url, ""


async def subscribe(ctx: CommandContext, text: str = "") -> Reply:
    """Follow a feed (or the feed a page names) in this channel, after fetching it once."""
    if not ctx.can_manage:
        return _needs_manage("sources")
    text = text.strip()
    if not text or " " in text:
        return usage("subscribe")
    url, problem = _address(text)
    if url is None:
        return usage("subscribe", problem + ("" if problem.endswith(".") else "."))
    subs = ctx.store.subscriptions(ctx.channel)
    if len(subs) >= MAX_SUBSCRIPTIONS:
        return Reply(f"This channel follows {len(subs)} sources already, the most allowed.")
    if canonical_url(url) in {s.source for s in subs}:
        return Reply(f"This channel already follows {canonical_url(url)}.")
    names = ctx.names or OutletNames.from_settings(ctx.settings.feeds.names)
    try:
        feed, title, result = await subscribe_feed(
            url, ctx.store, ctx.policy, now=ctx.clock(), names=names, workers=default_workers()
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
        f"Subscribed to {name} as source {sub.id}: {_plural(count, 'article')} now, new ones "
        f"polled every {_interval(ctx.settings.feeds.poll_interval)}.{notes}",
        ephemeral=False,
    )


def _interval(seconds: int) -> str:
    """``900`` -> "15 minutes", ``60`` -> "minute", ``3600`` -> "hour", ``90`` -> "90 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


async def unsubscribe(ctx: CommandContext, target: str = "") -> Reply:
    """Stop following a source, by its id from /sources or its URL."""
    if not ctx.can_manage:
        return _needs_manage("sources")
    target = target.strip().strip("<>")
    if not target or " " in target:
        return usage("unsubscribe")
    shown = _without_password(target)
    subs = ctx.store.subscriptions(ctx.channel)
    if target.isdecimal():
        number = int(target) if len(target) < 20 else MAX_SOURCE_ID + 1
        found = next((s for s in subs if s.id == number), None)
    else:
        key = canonical_url(target)
        found = next((s for s in subs if s.source == key), None)
    if found is None or found.id is None:
        return Reply(f"This channel does not follow {shown}. See /sources.", ok=False)
    ctx.store.remove_subscription(ctx.channel, str(found.id))
    title = ctx.store.feed_title(found.source)
    name = f"{title} ({found.source})" if title else found.source
    return Reply(f"Unsubscribed from {name}.", ephemeral=False)


# Schedule --------------------------------------------------------------------------------------

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
        return usage("digest", f"{words[0][:40]!r} is not a time like 07:30.")
    zone_text = " ".join(words[1:])
    zone = parse_zone(zone_text) if zone_text else ctx.zone.key
    if zone is None:
        return usage(
            "digest",
            f"Unknown time zone {zone_text[:60]!r}: use a name like Europe/Kyiv or "
            "America/New_York.",
        )
    ctx.store.put_channel(replace(settings, digest_time=at, timezone=zone, enabled=True))
    _reschedule(ctx)
    return Reply(f"Daily digest set for {at} {zone}.", ephemeral=False)


def _reschedule(ctx: CommandContext) -> None:
    if ctx.scheduler is not None:
        ctx.scheduler.schedule(ctx.store.get_channel(ctx.channel))


def _nothing_new(built: Digest) -> str:
    since = f" since {built.since:%Y-%m-%d %H:%M} UTC" if built.since else ""
    return f"Nothing new{since}, so no digest was posted."


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
        if built.empty:
            return Reply(_nothing_new(built))
        return Reply(built.overview, digest=built, ephemeral=False)
    outcome = await _send_now(ctx, now)
    if outcome.status == "sent" and outcome.digest is not None and outcome.digest.empty:
        return Reply(_nothing_new(outcome.digest))
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
        post_empty=ctx.settings.digest.post_empty,
    )


async def filter_(ctx: CommandContext, args: str = "") -> Reply:
    """Show, set or clear (``off``) the words and phrases stories must (or must not) match."""
    settings = ctx.store.get_channel(ctx.channel)
    if not args.strip():
        if not settings.filter:
            return Reply(
                'No filter: every story reaches this channel. Set one: /filter "AI" chips -sport'
            )
        return Reply(f"Filter: only {describe_filter(settings.filter)}.")
    if not ctx.can_manage:
        return _needs_manage("filter")
    if args.strip().lower() == "off":
        ctx.store.put_channel(replace(settings, filter=()))
        return Reply("Filter removed: every story reaches this channel.", ephemeral=False)
    terms = parse_filter(args)
    if not terms:
        return usage("filter")
    if len(terms) > MAX_FILTER_TERMS or any(len(t) > MAX_FILTER_TERM_CHARS for t in terms):
        return usage(
            "filter",
            f"Use at most {MAX_FILTER_TERMS} words or phrases of up to "
            f"{MAX_FILTER_TERM_CHARS} characters.",
        )
    ctx.store.put_channel(replace(settings, filter=terms))
    return Reply(f"From now on only {describe_filter(terms)} reach this channel.", ephemeral=False)


# Read commands whose result the context's `reads` keeps: the dispatcher looks there on the
# event loop first, and hops to a worker thread only for what is not kept.
KEPT_READS = frozenset({"brief", "ask"})
READ_HANDLERS: dict[str, ReadHandler] = {
    "brief": brief,
    "ask": ask,
    "sources": sources,
    "help": help_,
}
WRITE_HANDLERS: dict[str, WriteHandler] = {
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "digest": digest,
    "filter": filter_,
}
