"""What an adapter needs from the core, in one object the composition root builds.

Example (inside an adapter's slash-command handler):
    ctx = engine.context(ChannelRef("slack", channel_id))
    reply = await commands.brief(ctx, topic)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.commands import CommandContext
from bot.config import Settings
from bot.delivery import Delivery
from bot.ingest.http import FetchPolicy
from bot.models import ChannelRef
from bot.scheduler import Scheduler
from bot.store import Store

if TYPE_CHECKING:
    from bot.summarize.llm import ModelWriter


@dataclass(slots=True)
class Engine:
    """The store, settings and fetch policy of this process, and its scheduler and delivery
    once started."""

    store: Store
    settings: Settings
    policy: FetchPolicy
    scheduler: Scheduler | None = None
    delivery: Delivery | None = None
    """Sends digests (``/digest now`` too), so a shutdown waits for every send."""
    stopping: bool = False
    """Set at SIGTERM/SIGINT: commands are refused from then on, in-flight work finishes."""
    writer: ModelWriter | None = None
    """The optional language model (``[llm]``); None: extractive briefings and quotes."""

    def context(self, channel: ChannelRef, *, can_manage: bool = True) -> CommandContext:
        """A command context for one request in `channel`.

        Args:
            can_manage: whether the user may change the channel's sources, schedule, filter.
        """
        return CommandContext(
            store=self.store,
            settings=self.settings,
            channel=channel,
            policy=self.policy,
            can_manage=can_manage,
            scheduler=self.scheduler,
            accepting=lambda: not self.stopping,
            delivery=self.delivery,
            writer=self.writer,
        )
