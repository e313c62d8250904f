"""One path for every command, whatever the surface: request in, one `Reply` out.

An adapter translates its platform's payload into a `CommandRequest` (`from_line` for a typed
line, `from_options` for Discord's options) and hands it to `Dispatcher.dispatch`, which owns
what every surface must do alike: refuse new commands while the bot stops, give the command a
request id for the logs, clean its input, run read-only commands on a worker thread (off the
event loop that answers the platforms), turn any failure into one apology, mask secrets in
what it answers, and attach the channel's time zone for the dates an adapter shows.

Example:
    request = from_line(ChannelRef("console", "terminal"), "/brief public ukraine")
    reply = await dispatcher.dispatch(request)     # request.public is True
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, replace

from bot.commands.cache import NotKeptError, kept_only
from bot.commands.handlers import (
    KEPT_READS,
    READ_HANDLERS,
    WRITE_HANDLERS,
    CommandContext,
    ReadHandler,
    Reply,
    ask_async,
    with_model,
)
from bot.commands.specs import SPEC, CommandSpec
from bot.errors import StoreFaultError
from bot.logs import mask_secrets, new_request_id
from bot.models import ChannelRef
from bot.text import clean_text

log = logging.getLogger(__name__)

MAX_COMMAND_CHARS = 2000
# Worker threads for read-only commands: a few, since more would fight the loop for the GIL.
WORKERS = 2
# A worker thread computing a read keeps the interpreter lock until the switch interval has
# passed (5 ms by default) each time the event loop, back from a socket or database call, asks
# for it: in a burst every ack waited that long several times over. The dispatcher's pool
# shares the interpreter with the loop, so it shortens the interval to this (never lengthens).
SWITCH_INTERVAL = 0.0005
RESTARTING = "newsbrief is restarting; try again in a minute."

LATE: ContextVar[Callable[[], None] | None] = ContextVar("late", default=None)
"""Set by `bot.commands.respond_in_time` for the command it runs: called as soon as the command
knows its reply cannot be ready within the platform's budget, so the platform is told "working
on it" at once instead of when the budget runs out."""

DEADLINE: ContextVar[float | None] = ContextVar("deadline", default=None)
"""Set beside `LATE`: the event loop's time (``loop.time()``) by which a reply rides in the
platform's first response."""


def clean_input(text: str) -> str:
    """What a user typed, safe for every later step: no control characters, no lone
    surrogates, one line."""
    return clean_text(text, keep_newlines=False).strip()


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One command as a user gave it, in any surface.

    Attributes:
        channel: where it was given (and where a digest it asks for goes).
        name: the core command name (``brief``), or what was typed when it is unknown.
        args: the argument text, parsed by the command itself.
        public: the user asked for the answer to be shown to the channel.
        can_manage: the user may change the channel's sources, schedule and filter.
    """

    channel: ChannelRef
    name: str
    args: str = ""
    public: bool = False
    can_manage: bool = True

    @property
    def spec(self) -> CommandSpec | None:
        return SPEC.get(self.name)


def request(
    channel: ChannelRef, name: str, text: str = "", *, can_manage: bool = True
) -> CommandRequest:
    """A request for command `name` with argument text as typed: ``public`` first shares the
    answer of a command that may be shared (``/brief public ukraine``)."""
    args = clean_input(text)
    public = False
    spec = SPEC.get(name)
    if spec is not None and spec.shareable:
        first, _, rest = args.partition(" ")
        if first.lower() == "public":
            public, args = True, rest.strip()
    return CommandRequest(channel, name, args, public=public, can_manage=can_manage)


def from_line(channel: ChannelRef, line: str, *, can_manage: bool = True) -> CommandRequest:
    """A typed line (``/brief public ukraine``) as a request; the same rules as Slack's."""
    cleaned = clean_input(line)
    name, _, text = cleaned.partition(" ")
    return request(channel, name.lstrip("/").lower(), text, can_manage=can_manage)


def from_options(
    channel: ChannelRef,
    name: str,
    options: Mapping[str, str | bool | None],
    *,
    can_manage: bool = True,
) -> CommandRequest:
    """A request from named options (Discord's): the spec's parameters joined in order, and a
    ``public`` option for a command that may be shared."""
    spec = SPEC[name]
    parts = [str(options.get(p.name) or "") for p in spec.params]
    base = request(channel, name, " ".join(p for p in parts if p), can_manage=can_manage)
    public = bool(options.get("public")) if spec.shareable else False
    return replace(base, public=base.public or public)


class Dispatcher:
    """Runs requests for one process.

    Args:
        context: builds a command's context for a channel and a user's rights.
        stopping: set while the bot stops: new commands are refused from then on.
        secrets: values never to show in a reply (tokens that a user may paste back).
        executor: where read-only commands run (a small thread pool by default).
    """

    def __init__(
        self,
        context: Callable[[ChannelRef, bool], CommandContext],
        stopping: asyncio.Event,
        *,
        secrets: Iterable[str | None] = (),
        executor: Executor | None = None,
    ) -> None:
        self._context = context
        self._stopping = stopping
        self._secrets = [s for s in secrets if s]
        if executor is None:
            executor = ThreadPoolExecutor(
                max_workers=WORKERS, thread_name_prefix="newsbrief-command"
            )
            if sys.getswitchinterval() > SWITCH_INTERVAL:
                sys.setswitchinterval(SWITCH_INTERVAL)
        self._executor = executor

    async def dispatch(self, request: CommandRequest) -> Reply:
        """Run `request` and return its reply; never raises."""
        new_request_id()  # every log line of this command, in any task it spawns, carries it
        if self._stopping.is_set():
            return Reply(RESTARTING, ok=False)
        log.info("/%s in %s", request.name[:40], request.channel)
        ctx = self._context(request.channel, request.can_manage)
        reply = await run(ctx, request, executor=self._executor)
        return replace(reply, text=mask_secrets(reply.text, self._secrets))

    def close(self) -> None:
        """Stop the worker threads (a read still running finishes on its own)."""
        if isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)


async def run(
    ctx: CommandContext,
    request: CommandRequest,
    *,
    executor: Executor | None = None,
) -> Reply:
    """Run one request in `ctx`: the same steps for the dispatcher and for callers that build
    their own context (tests, the CLI).

    Args:
        executor: where read commands compute (/ask with a worker process awaits it instead).
    """
    spec = request.spec
    if not request.name:
        return Reply("Type a command, e.g. /help.", ok=False)
    if len(request.args) + len(request.name) > MAX_COMMAND_CHARS:
        return Reply(f"That command is too long (over {MAX_COMMAND_CHARS} characters).", ok=False)
    if spec is None:
        shown = request.name[:40]
        return Reply(f"Unknown command /{shown}. Type /help for the list.", ok=False)
    try:
        read = READ_HANDLERS.get(spec.name)
        if read is not None:
            reply = _kept(ctx, spec.name, read, request.args)
            if reply is None and spec.name == "ask" and ctx.answers and ctx.answers.in_workers:
                if ctx.answers.expected_wait() > _time_left():
                    _late()  # queued behind questions that take longer than the budget
                # the loop awaits the worker process itself: no thread waits for it
                reply = await ask_async(ctx, ctx.answers, request.args)
            elif reply is None:
                loop = asyncio.get_running_loop()
                reply = await loop.run_in_executor(executor, read, ctx, request.args)
            reply = await with_model(ctx, spec.name, reply)
        else:
            reply = await WRITE_HANDLERS[spec.name](ctx, request.args)
        return replace(reply, zone=ctx.zone)
    except StoreFaultError as exc:
        # never "saved" when it was not: say what is wrong, and that nothing changed
        return Reply(
            f"newsbrief cannot save anything right now, so nothing changed: {exc.reason}. "
            "The bot's operator needs to fix its database.",
            ok=False,
        )
    except Exception:
        # one failing command must not leave the user without an answer
        log.exception("/%s failed in %s", spec.name, ctx.channel)
        return Reply(f"Sorry, /{spec.name} failed. Please try again in a moment.", ok=False)


def _time_left() -> float:
    """Seconds left before the reply misses the platform's first response (none: no limit)."""
    deadline = DEADLINE.get()
    return float("inf") if deadline is None else deadline - asyncio.get_running_loop().time()


def _late() -> None:
    late = LATE.get()
    if late is not None:
        late()


def _kept(ctx: CommandContext, name: str, read: ReadHandler, args: str) -> Reply | None:
    """The reply of read command `name` when the context's cache keeps its result (or no
    result is needed, as for a usage error), made on the event loop without a thread hop;
    None when a worker thread must compute it."""
    if ctx.reads is None or name not in KEPT_READS:
        return None
    try:
        with kept_only():
            return read(ctx, args)
    except NotKeptError:
        return None


async def handle(ctx: CommandContext, line: str) -> Reply:
    """Parse one typed line (``/name args``) and run it in `ctx` (no shutdown check: that is
    the dispatcher's)."""
    return await run(ctx, from_line(ctx.channel, line, can_manage=ctx.can_manage))
