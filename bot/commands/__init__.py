"""Commands: what they are (`specs`), what they do (`handlers`), how every surface runs them
(`dispatch`) and answers them in time (`respond`).

Example:
    reply = await engine.commands.dispatch(from_line(channel, "/digest 07:30 Europe/Kyiv"))
"""

from __future__ import annotations

from bot.commands.cache import ReadCache
from bot.commands.dispatch import (
    MAX_COMMAND_CHARS,
    CommandRequest,
    Dispatcher,
    clean_input,
    from_line,
    from_options,
    handle,
    request,
    run,
)
from bot.commands.handlers import (
    READ_HANDLERS,
    WRITE_HANDLERS,
    CommandContext,
    Reply,
    channel_zone,
    parse_time,
    parse_zone,
    usage,
)
from bot.commands.respond import Responder, is_private, respond_in_time
from bot.commands.specs import SPEC, SPECS, CommandSpec, Param

__all__ = [
    "MAX_COMMAND_CHARS",
    "READ_HANDLERS",
    "SPEC",
    "SPECS",
    "WRITE_HANDLERS",
    "CommandContext",
    "CommandRequest",
    "CommandSpec",
    "Dispatcher",
    "Param",
    "ReadCache",
    "Reply",
    "Responder",
    "channel_zone",
    "clean_input",
    "from_line",
    "from_options",
    "handle",
    "is_private",
    "parse_time",
    "parse_zone",
    "request",
    "respond_in_time",
    "run",
    "usage",
]
