"""Composition root: builds the store, settings and adapters, and runs the bot.

Only this module (and the CLI above it) imports adapters, lazily, so a console run never loads
slack_bolt or discord.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from bot import commands
from bot.alerts import Alerts
from bot.config import Settings
from bot.delivery import Courier, Delivery, now_slot
from bot.engine import Engine
from bot.health import HealthServer
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.ingest.pipeline import IngestResult, Progress, ingest
from bot.logs import configure_logging as configure_logging  # re-exported: the CLI imports it
from bot.models import ChannelRef
from bot.scheduler import Scheduler
from bot.store import Store
from bot.summarize.llm import ModelWriter

if TYPE_CHECKING:
    from adapters.base import ChatAdapter

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = ChannelRef("console", "terminal")


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
    names = OutletNames.from_settings(settings.feeds.names)
    return await ingest(sources, store, fetch_policy(settings), progress=progress, names=names)


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
        for source, note in result.notes:
            stdout.write(f"note: {source}: {note}\n")
        stdout.write(result.summary() + "\n\n")
        failed = not result.ok

    writer = ModelWriter.from_settings(settings, store)
    engine = Engine(store=store, settings=settings, policy=fetch_policy(settings), writer=writer)

    async def handle(line: str) -> commands.Reply:
        return await commands.handle(engine.context(CONSOLE_CHANNEL), line)

    console = ConsoleAdapter(handle, stdin=stdin, stdout=stdout, tz=tz, interactive=interactive)
    alerts = Alerts(store, settings, {"console": console.post_notice})
    delivery = Delivery.from_settings(store, settings, {"console": console}, alerts=alerts)
    delivery.writer = writer
    scheduler = Scheduler(
        store, settings, {}, policy=engine.policy, delivery=delivery, alerts=alerts
    )
    engine.scheduler, engine.delivery = scheduler, delivery
    now = datetime.now(UTC)
    outcome = await delivery.send(CONSOLE_CHANNEL, now_slot(now), now=now)
    if outcome.digest is not None and outcome.digest.empty:
        stdout.write("Type /brief for the latest stories, /help for more.\n\n")
    await scheduler.start()
    try:
        await console.start()
    finally:
        await scheduler.close()
        await console.close()
        if writer is not None:
            await writer.close()
    return 1 if failed else 0


def platforms_configured(settings: Settings) -> bool:
    """Whether a chat platform's token is set; without one, `run` serves the console."""
    return bool(settings.secrets.slack_bot_token or settings.secrets.discord_bot_token)


class _Scheduler(Scheduler):
    def pause(self) -> None:
        """Start no new job, and leave running ones alone.

        `shutdown` cannot be used for this: APScheduler's asyncio executor cancels the jobs
        still running when it shuts down, which would cut a digest off mid-send.
        """
        if self._aps.running:
            self._aps.pause()


def build_adapters(engine: Engine) -> list[ChatAdapter]:
    """An adapter for each platform whose token is set."""
    adapters: list[ChatAdapter] = []
    if engine.settings.secrets.slack_bot_token:
        from adapters.slack import SlackAdapter

        adapters.append(SlackAdapter(engine))
    if engine.settings.secrets.discord_bot_token:
        from adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(engine))
    return adapters


async def run_platforms(
    settings: Settings,
    store: Store,
    sources: list[str],
    *,
    stop: asyncio.Event | None = None,
    adapters: Sequence[ChatAdapter] | None = None,
) -> int:
    """Serve the configured chat platforms until SIGTERM or SIGINT (or `stop` is set).

    The health server (``[health]``) answers from the start. On the stop signal: no new
    scheduled job starts and no command is taken, every digest send in progress (scheduled,
    retried or ``/digest now``) gets ``[run] shutdown_timeout`` seconds to finish, a send
    still going then is cut off and its claim marked `INTERRUPTED` (the next start resumes it
    at its next part, at once), and the adapters are closed. Nothing touches `store` after
    this returns, so the caller may close it.

    Args:
        settings: the effective settings.
        store: the open database.
        sources: files, folders or URLs to ingest first.
        stop: set it to stop (tests); SIGTERM and SIGINT set it too.
        adapters: the platforms to serve instead of those the tokens name (tests).

    Returns:
        The exit code: 0 after a clean stop.
    """
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    health = await _start_health(settings, store)
    writer = ModelWriter.from_settings(settings, store)
    engine = Engine(store=store, settings=settings, policy=fetch_policy(settings), writer=writer)
    served = list(adapters) if adapters is not None else []
    scheduler: _Scheduler | None = None
    background: list[asyncio.Task[Any]] = []
    try:
        if sources:
            result = await ingest_sources(settings, store, sources)
            log.info("%s", result.summary())
        if adapters is None:
            served = build_adapters(engine)
        couriers: dict[str, Courier] = {a.name: a for a in served}
        alerts = Alerts(store, settings, {a.name: a.post_notice for a in served})
        delivery = Delivery.from_settings(store, settings, couriers, alerts=alerts)
        delivery.writer = writer
        scheduler = _Scheduler(
            store, settings, couriers, policy=engine.policy, delivery=delivery, alerts=alerts
        )
        # `/digest now` goes through the same delivery: a shutdown waits for it too
        engine.scheduler, engine.delivery = scheduler, delivery
        if health is not None:
            health.components, health.scheduler = served, scheduler

        async def serve() -> None:
            for adapter in served:
                await adapter.start()
            assert scheduler is not None
            # resumes what a shutdown cut off and what a dead process left, then catches up
            await scheduler.start()
            log.info("newsbrief running on %s", ", ".join(a.name for a in served))

        # start-up (connecting, catching up on missed digests) is a task, so a stop signal
        # during it is heard at once, and its sends get the same bounded wait as any other
        startup = asyncio.create_task(serve(), name="newsbrief-startup")
        stopped = asyncio.create_task(stopping.wait())
        background += [startup, stopped]
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if startup.done():
            startup.result()  # a platform that failed to start: raise its error here
            await stopped
        else:
            stopped.cancel()
        log.info("stopping")
        engine.stopping = True  # no new commands; what is in flight may finish
        if health is not None:
            health.stopping = True
        await _drain(scheduler, delivery, startup, settings.run.shutdown_timeout)
    finally:
        # after a failed start-up (or our own cancellation) nothing may outlive this call
        for task in background:
            task.cancel()
        if scheduler is not None:
            await scheduler.close()
        for adapter in served:
            try:
                await adapter.close()
            except Exception:
                log.exception("closing %s failed", adapter.name)
        if health is not None:
            await health.close()
        if writer is not None:
            await writer.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
    return 0


async def _start_health(settings: Settings, store: Store) -> HealthServer | None:
    if not settings.health.enabled:
        return None
    health = HealthServer(store, settings)
    try:
        await health.start()
    except OSError as exc:
        # the bot's work matters more than its probe: serve on, and let the failing
        # HEALTHCHECK (and this line) tell the operator
        log.error(
            "health: cannot listen on %s:%s: %s",
            settings.health.host,
            settings.health.port,
            exc.strerror or exc,
        )
        return None
    return health


async def _drain(
    scheduler: _Scheduler, delivery: Delivery, startup: asyncio.Task[None], timeout: float
) -> None:
    """Let the sends in progress finish within `timeout`; cut off and mark the rest."""
    scheduler.pause()
    delivery.stopping = True
    sending = delivery.sending()
    waiting: set[asyncio.Task[Any]] = set(sending)
    if not startup.done() and startup not in sending:
        startup.cancel()  # still connecting or polling, not sending: nothing to wait for
    if not startup.done():
        waiting.add(startup)
    if waiting:
        log.info("waiting up to %gs for %d digest send(s)", timeout, len(sending))
        _, late = await asyncio.wait(waiting, timeout=timeout)
    else:
        late = set()
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=1.0)
    if startup.done() and not startup.cancelled() and startup.exception() is not None:
        log.error("start-up failed while stopping", exc_info=startup.exception())
    # a cancelled send leaves its claim held by this process: release it, marked so the next
    # start resumes it at once at its next part (a part that was in flight is looked for
    # before it is sent again)
    delivery.interrupt()
