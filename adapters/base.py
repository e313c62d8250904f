"""The one seam between the core and a chat platform."""

from __future__ import annotations

from typing import Any, Protocol

from bot.delivery import OutgoingPart
from bot.models import ChannelRef, Digest


class ChatAdapter(Protocol):
    """A platform connection: serves commands once started, posts digests when asked.

    Digests go part by part (`bot.delivery.Courier`): `render_parts` turns a digest into the
    platform's messages, stored with the claim, and `send_part` posts one, returning its
    message id, so a retried digest resumes at the first part not recorded. `post_notice`
    posts a line of plain text (a failing feed, a failing digest).
    """

    name: str

    async def start(self) -> None: ...

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]: ...

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str: ...

    async def post_notice(self, channel: ChannelRef, text: str) -> None: ...

    async def close(self) -> None: ...
