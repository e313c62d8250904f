"""Composition root: builds the store, settings and adapters, and runs the bot.

Only this module (and the CLI above it) imports adapters, lazily, so a console run never loads
slack_bolt or discord.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from bot import commands
from bot.config import Settings
from bot.delivery import now_slot, send_digest
from bot.engine import Engine
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import IngestResult, Progress, ingest
from bot.models import ChannelRef
from bot.scheduler import Scheduler
from bot.store import Store

if TYPE_CHECKING:
    from adapters.base import ChatAdapter

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = ChannelRef("console", "terminal")


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """One line per event on standard error; the level from ``[log] level``."""
    logging.basicConfig(
        level=settings.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream or sys.stderr,
        force=True,
    )
    # its per-run INFO lines ("Running job ...") would bury ours every poll
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def fetch_policy(settings: Settings) -> FetchPolicy:
    f = settings.fetch
    return FetchPolicy(
        timeout=f.timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        allow_private=f.allow_private,
        user_agent=f.user_agent,
    )


async def ingest_sources(
    settings: Settings, store: Store, sources: list[str], progress: Progress | None = None
) -> IngestResult:
    return await ingest(sources, store, fetch_policy(settings), progress=progress)


async def run_console(
    settings: Settings,
    store: Store,
    sources: list[str],
    *,
    stdin: TextIO,
    stdout: TextIO,
    interactive: bool = False,
) -> int:
    """Ingest `sources`, print the console's digest, then serve typed commands until EOF.

    While it serves, the scheduler polls feeds and prints the console's scheduled digests.

    Returns:
        The exit code: 1 when a source failed to ingest, else 0.
    """
    from adapters.console import ConsoleAdapter

    # the terminal is the user interface here: keep routine log lines out of the conversation
    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))
    tz = ZoneInfo(settings.digest.timezone)
    failed = False
    if sources:
        result = await ingest_sources(settings, store, sources)
        for source, reason in result.failures:
            stdout.write(f"error: {source}: {reason}\n")
        stdout.write(result.summary() + "\n\n")
        failed = not result.ok

    engine = Engine(store=store, settings=settings, policy=fetch_policy(settings))

    async def handle(line: str) -> commands.Reply:
        return await commands.handle(
            engine.context(CONSOLE_CHANNEL, post=console.post_digest), line
        )

    console = ConsoleAdapter(handle, stdin=stdin, stdout=stdout, tz=tz, interactive=interactive)
    scheduler = Scheduler(store, settings, {"console": console.post_digest}, policy=engine.policy)
    engine.scheduler = scheduler
    now = datetime.now(UTC)
    outcome = await send_digest(
        store,
        CONSOLE_CHANNEL,
        console.post_digest,
        slot=now_slot(now),
        now=now,
        max_stories=settings.digest.max_stories,
        shared=settings.feeds.urls,
    )
    if outcome.digest is not None and outcome.digest.empty:
        stdout.write("Type /brief for the latest stories, /help for more.\n\n")
    await scheduler.start()
    try:
        await console.start()
    finally:
        scheduler.shutdown()
        await console.close()
    return 1 if failed else 0


def platforms_configured(settings: Settings) -> bool:
    """Whether a chat platform's token is set; without one, `run` serves the console."""
    return bool(settings.secrets.slack_bot_token or settings.secrets.discord_bot_token)


async def run_platforms(
    settings: Settings, store: Store, sources: list[str], *, stop: asyncio.Event | None = None
) -> int:
    """Serve the configured chat platforms until SIGTERM or SIGINT (or `stop` is set).

    Returns:
        The exit code: 0 after a clean stop.
    """
    if sources:
        result = await ingest_sources(settings, store, sources)
        log.info("%s", result.summary())
    engine = Engine(store=store, settings=settings, policy=fetch_policy(settings))
    adapters: list[ChatAdapter] = []
    if settings.secrets.slack_bot_token:
        from adapters.slack import SlackAdapter

        adapters.append(SlackAdapter(engine))
    if settings.secrets.discord_bot_token:
        from adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(engine))
    scheduler = Scheduler(
        store, settings, {a.name: a.post_digest for a in adapters}, policy=engine.policy
    )
    engine.scheduler = scheduler
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        for adapter in adapters:
            await adapter.start()
        await scheduler.start()
        log.info("newsbrief running on %s", ", ".join(a.name for a in adapters))
        await stopping.wait()
        log.info("stopping")
    finally:
        scheduler.shutdown()
        for adapter in adapters:
            await adapter.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0
