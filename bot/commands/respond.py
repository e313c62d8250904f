"""Answer within the platform's time budget, or defer and follow up: one rule for all.

Slack wants an acknowledgement within 3 s and Discord a first interaction response within 3 s.
A command whose reply is ready within the adapter's budget is answered at once (in the ack, or
as the interaction response); a slower one is deferred ("working on it", Discord's "thinking")
and its reply follows. Who sees it is decided here too: a failure only the user; a reply the
user asked to share, or a change the channel should know of, everyone; the rest only the user.

Example:
    await respond_in_time(engine.commands.dispatch, request, responder, budget=0.05)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.commands.dispatch import DEADLINE, LATE, CommandRequest
from bot.commands.handlers import Reply

log = logging.getLogger(__name__)


class Responder(Protocol):
    """How one platform answers one command."""

    async def answer(self, reply: Reply, *, private: bool) -> None:
        """The reply, as the first response (within the budget)."""

    async def defer(self, *, private: bool) -> None:
        """Say the answer is coming; `private` is a guess, made before the reply exists."""

    async def follow_up(self, reply: Reply, *, private: bool) -> None:
        """The reply, after `defer`."""


def is_private(request: CommandRequest, reply: Reply) -> bool:
    """Whether only the user who asked sees `reply`."""
    if not reply.ok:
        return True
    return not request.public and reply.ephemeral


async def respond_in_time(
    dispatch: Callable[[CommandRequest], Awaitable[Reply]],
    request: CommandRequest,
    responder: Responder,
    *,
    budget: float,
) -> Reply:
    """Dispatch `request` and answer through `responder`: at once when the reply is ready
    within `budget` seconds, else defer first (at once when the command says it will be late:
    `bot.commands.dispatch.LATE`).

    Returns:
        The reply.
    """
    late = asyncio.Event()
    token = LATE.set(late.set)  # the task takes a copy of this context
    deadline = DEADLINE.set(asyncio.get_running_loop().time() + budget)
    try:
        task = asyncio.ensure_future(dispatch(request))
    finally:
        DEADLINE.reset(deadline)
        LATE.reset(token)
    if budget > 0:  # none: defer at once
        told = asyncio.ensure_future(late.wait())
        try:
            # when the budget runs out, or the command says it will be late, it keeps going
            # and answers later
            await asyncio.wait({task, told}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        finally:
            told.cancel()
    if not task.done():
        spec = request.spec
        # a platform may fix who sees the answer when it defers (Discord does): a command
        # that announces its change, or a shared answer, defers in public
        public = request.public or (spec is not None and spec.announces)
        await responder.defer(private=not public)
        reply = await task
        await responder.follow_up(reply, private=is_private(request, reply))
        return reply
    reply = task.result()
    await responder.answer(reply, private=is_private(request, reply))
    return reply
