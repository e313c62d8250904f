"""Platform-neutral commands: one function per command, each returning a neutral Reply.

Adapters parse their platform's payload and call these; the console calls `handle` with the
line a user typed.

Example:
    reply = await handle(ctx, "/brief ukraine")
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.digest import latest_stories
from bot.models import ChannelRef, Digest
from bot.store import Store
from bot.text import strip_control

MAX_COMMAND_CHARS = 2000
BRIEF_STORIES = 5


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: a line of text and, optionally, stories to render.

    `ephemeral` replies are shown only to the user who asked, where the platform can do that.
    `ok` is False for a usage or input error.
    """

    text: str
    digest: Digest | None = None
    ephemeral: bool = True
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, where, and the engine's parts a command may use."""

    store: Store
    settings: Settings
    channel: ChannelRef
    clock: Callable[[], datetime] = field(default=_utcnow)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    example: str
    summary: str


SPECS: tuple[CommandSpec, ...] = (
    CommandSpec("brief", "/brief [topic]", "/brief security guarantees", "latest stories"),
    CommandSpec("help", "/help", "/help", "this list"),
)


async def brief(ctx: CommandContext, topic: str = "") -> Reply:
    """The latest stories, or those matching `topic` through the full-text index."""
    topic = " ".join(topic.split())
    stories = latest_stories(ctx.store, limit=BRIEF_STORIES, topic=topic)
    if not stories:
        if topic:
            return Reply(f'No stored stories match "{topic}". Try fewer or other words.')
        return Reply("No stories stored yet. Subscribe to a feed, or ingest some articles.")
    noun = "story" if len(stories) == 1 else "stories"
    header = f'Top {len(stories)} {noun} on "{topic}"' if topic else f"Latest {len(stories)} {noun}"
    digest = Digest(stories=tuple(stories), generated_at=ctx.clock(), overview=header + ".")
    return Reply(header + ".", digest=digest)


async def help_(ctx: CommandContext, args: str = "") -> Reply:
    """Every command with one example."""
    width = max(len(s.usage) for s in SPECS)
    lines = [f"{s.usage.ljust(width)}  {s.summary}, e.g. {s.example}" for s in SPECS]
    return Reply("Commands:\n" + "\n".join(lines))


_HANDLERS: dict[str, Callable[[CommandContext, str], Awaitable[Reply]]] = {
    "brief": brief,
    "help": help_,
}


async def handle(ctx: CommandContext, line: str) -> Reply:
    """Parse one typed line (``/name args``) and run the command it names."""
    line = strip_control(line, keep_newlines=False).strip()
    if not line:
        return Reply("Type a command, e.g. /help.", ok=False)
    if len(line) > MAX_COMMAND_CHARS:
        return Reply(f"That command is too long (over {MAX_COMMAND_CHARS} characters).", ok=False)
    name, _, args = line.partition(" ")
    name = name.lstrip("/").lower()
    handler = _HANDLERS.get(name)
    if handler is None:
        return Reply(f"Unknown command /{name}. Type /help for the list.", ok=False)
    return await handler(ctx, _unquote(args))


def _unquote(args: str) -> str:
    """Let users quote a topic ("/brief 'security guarantees'") without the quotes sticking."""
    try:
        return " ".join(shlex.split(args))
    except ValueError:
        return args.strip()
