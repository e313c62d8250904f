"""The one seam between the core and a chat platform."""

from __future__ import annotations

from typing import Protocol

from bot.models import ChannelRef, Digest, Receipt


class ChatAdapter(Protocol):
    """A platform connection: serves commands once started, posts digests when asked."""

    name: str

    async def start(self) -> None: ...

    async def post_digest(self, channel: ChannelRef, digest: Digest) -> Receipt: ...

    async def close(self) -> None: ...
