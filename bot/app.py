"""Composition root: builds the store, settings and adapters, and runs the bot.

Only this module (and the CLI above it) imports adapters, lazily, so a console run never loads
slack_bolt or discord.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import Settings
from bot.delivery import Delivery
from bot.engine import Engine, Policies
from bot.errors import PlatformError
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import IngestResult, Progress, ingest
from bot.ingest.prepare import default_workers
from bot.leader import leadership_for
from bot.logs import quiet_libraries
from bot.models import ChannelRef
from bot.store import Store

if TYPE_CHECKING:
    from adapters.base import ChatAdapter
    from bot.health import HealthServer

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = ChannelRef("console", "terminal")
# The exit code of `run` when no chat platform could start (a refused token, no connection).
EXIT_NO_PLATFORM = 2


def fetch_policy(settings: Settings) -> FetchPolicy:
    return Policies.from_settings(settings).fetch


async def ingest_sources(
    settings: Settings, store: Store, sources: list[str], progress: Progress | None = None
) -> IngestResult:
    policies = Policies.from_settings(settings)
    return await ingest(
        sources,
        store,
        policies.fetch,
        progress=progress,
        names=policies.names,
        workers=default_workers(),
    )


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

    # the terminal is the user interface here: keep routine log lines, ours and the
    # libraries', out of the conversation
    quiet_libraries(logging.WARNING)
    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))
    failed = False
    if sources:
        result = await ingest_sources(settings, store, sources)
        for source, reason in result.failures:
            stdout.write(f"error: {source}: {reason}\n")
        for source, note in result.notes:
            stdout.write(f"note: {source}: {note}\n")
        stdout.write(result.summary() + "\n\n")
        failed = not result.ok

    engine = Engine(store, settings)
    console = ConsoleAdapter(
        engine.commands.dispatch,
        channel=CONSOLE_CHANNEL,
        stdin=stdin,
        stdout=stdout,
        tz=engine.digests.view(CONSOLE_CHANNEL).zone,
        interactive=interactive,
    )
    engine.attach(console)
    outcome = await engine.digests.send(CONSOLE_CHANNEL)
    if outcome.digest is not None and outcome.digest.empty:
        # nothing was posted: say so here, where the user is waiting for it
        lead = outcome.digest.overview
        stdout.write(f"{lead} Type /brief for the latest stories, /help for more.\n\n")
    await engine.scheduler.start()
    try:
        await console.start()
    finally:
        await engine.scheduler.close()
        await console.close()
        await engine.aclose()
    return 1 if failed else 0


def platforms_configured(settings: Settings) -> bool:
    """Whether a chat platform's token is set; without one, `run` serves the console."""
    return bool(settings.secrets.slack_bot_token or settings.secrets.discord_bot_token)


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

    The health server (``[health]``) answers from the start. A platform that refuses its
    token or cannot be reached at start is stopped, said so in one log line and in
    ``/readyz``; the others go on, and with none left `run` ends with `EXIT_NO_PLATFORM`. On
    the stop signal: no new scheduled job starts and no command is taken, every digest send
    in progress (scheduled, retried or ``/digest now``) gets ``[run] shutdown_timeout``
    seconds to finish, a send still going then is cut off and its claim marked `INTERRUPTED`
    (the next start resumes it at its next part, at once), and the adapters are closed.
    Nothing touches `store` after this returns, so the caller may close it.

    Args:
        settings: the effective settings.
        store: the open database.
        sources: files, folders or URLs to ingest first.
        stop: set it to stop (tests); SIGTERM and SIGINT set it too.
        adapters: the platforms to serve instead of those the tokens name (tests).

    Returns:
        The exit code: 0 after a clean stop, `EXIT_NO_PLATFORM` when no platform started.
    """
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    health = await _start_health(settings, store)
    # with PostgreSQL several replicas may serve: only the leader runs the daily digests
    engine = Engine(store, settings, leadership=leadership_for(settings))
    served = list(adapters) if adapters is not None else []
    background: list[asyncio.Task[Any]] = []
    code = 0
    try:
        if sources:
            result = await ingest_sources(settings, store, sources)
            log.info("%s", result.summary())
        if adapters is None:
            served = build_adapters(engine)
        for adapter in served:
            engine.attach(adapter)
        if health is not None:
            health.components, health.scheduler = served, engine.scheduler
            health.leadership = engine.scheduler.leadership

        async def serve() -> bool:
            started = []
            for adapter in served:
                try:
                    await adapter.start()
                except PlatformError as exc:
                    # one platform's refused token must not take the others down
                    log.error("%s stopped: %s", adapter.name, exc.reason)
                    if health is not None:
                        health.failed[adapter.name] = exc.reason
                    await _close(adapter)
                    continue
                started.append(adapter.name)
            if not started:
                return False
            # resumes what a shutdown cut off and what a dead process left, then catches up
            await engine.scheduler.start()
            log.info("newsbrief running on %s", ", ".join(started))
            # the /ask worker starts now, not at the first question (it takes half a second)
            await asyncio.to_thread(engine.answers.start)
            # what start-up built lives as long as the bot: from now on no full collection
            # walks it again (one took 25-35 ms of the event loop's thread with 10k articles
            # stored, in the middle of a burst of commands: benches/slack_ack.py)
            gc.freeze()
            return True

        # start-up (connecting, catching up on missed digests) is a task, so a stop signal
        # during it is heard at once, and its sends get the same bounded wait as any other
        startup = asyncio.create_task(serve(), name="newsbrief-startup")
        stopped = asyncio.create_task(stopping.wait())
        background += [startup, stopped]
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if startup.done():
            if not startup.result():  # a platform that failed to start otherwise raises here
                log.error("no chat platform could start: stopping")
                code = EXIT_NO_PLATFORM
                stopping.set()
            await stopped
        else:
            stopped.cancel()
        log.info("stopping")
        engine.stop()  # no new commands or jobs; what is in flight may finish
        if health is not None:
            health.stopping = True
        await _drain(engine.delivery, startup, settings.run.shutdown_timeout)
    finally:
        # after a failed start-up (or our own cancellation) nothing may outlive this call
        for task in background:
            task.cancel()
        await engine.scheduler.close()
        for adapter in served:
            await _close(adapter)
        await engine.aclose()
        if health is not None:
            await health.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
    return code


async def _close(adapter: ChatAdapter) -> None:
    try:
        await adapter.close()
    except Exception:
        log.exception("closing %s failed", adapter.name)


async def _start_health(settings: Settings, store: Store) -> HealthServer | None:
    if not settings.health.enabled:
        return None
    # imported here: its aiohttp server costs ~0.1 s of the start of every other command
    from bot.health import HealthServer

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


async def _drain(delivery: Delivery, startup: asyncio.Task[bool], timeout: float) -> None:
    """Let the sends in progress finish within `timeout`; cut off and mark the rest."""
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
