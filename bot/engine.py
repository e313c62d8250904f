"""The core of one process, complete when built: store, settings, policies, delivery, alerts,
scheduler, digests and the command dispatcher, each made once from the settings.

Adapters receive the engine and translate: a platform payload becomes a `CommandRequest` for
`engine.commands`, and `engine.attach(adapter)` lets digests and notices reach the platform.
The composition root (`bot.app`) builds it, attaches the adapters, starts the scheduler and,
at SIGTERM, calls `stop`.

Example:
    engine = Engine(store, settings)
    engine.attach(console)
    reply = await engine.commands.dispatch(from_line(channel, "/brief ukraine"))
    outcome = await engine.digests.send(channel)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.alerts import Alerts, PostNotice
from bot.commands import CommandContext, Dispatcher, ReadCache, channel_zone
from bot.commands.answers import Answers
from bot.config import Settings
from bot.delivery import Courier, Delivery, Outcome, now_slot
from bot.digest import build_digest
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.leader import Leadership
from bot.models import ChannelRef, ChannelSettings, Digest
from bot.scheduler import Scheduler
from bot.store import Store

if TYPE_CHECKING:
    from bot.summarize.llm import ModelWriter


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Platform(Courier, Protocol):
    """What the engine needs of an adapter to reach its platform: a courier for digests, and
    a way to post a notice."""

    name: str

    async def post_notice(self, channel: ChannelRef, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Policies:
    """The rules made once from the settings and handed to every stage."""

    fetch: FetchPolicy
    names: OutletNames

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        f = settings.fetch
        return cls(
            fetch=FetchPolicy(
                timeout=f.timeout,
                max_bytes=f.max_bytes,
                max_redirects=f.max_redirects,
                allow_private=f.allow_private,
                user_agent=f.user_agent,
            ),
            names=OutletNames.from_settings(settings.feeds.names),
        )


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A channel as its digests see it: its stored settings, the zone its dates are shown
    in, and the subscribed sources that are not its own."""

    channel: ChannelRef
    settings: ChannelSettings
    zone: ZoneInfo
    hidden: tuple[str, ...]


class Digests:
    """Build, send and look at digests, with the settings applied in one place."""

    def __init__(self, store: Store, settings: Settings, delivery: Delivery) -> None:
        self._store = store
        self._settings = settings
        self._delivery = delivery

    def build(self, channel: ChannelRef, *, now: datetime | None = None) -> Digest:
        """What `channel` would get now (nothing is recorded)."""
        return build_digest(
            self._store,
            channel,
            max_stories=self._settings.digest.max_stories,
            now=now,
            shared=self._settings.feeds.urls,
        )

    async def send(
        self, channel: ChannelRef, slot: str | None = None, *, now: datetime | None = None
    ) -> Outcome:
        """Send `channel`'s digest once for `slot` (an on-demand slot of its own by default)."""
        moment = now or _utcnow()
        return await self._delivery.send(channel, slot or now_slot(moment), now=moment)

    def view(self, channel: ChannelRef) -> ChannelView:
        """`channel`'s settings, time zone and hidden sources."""
        return ChannelView(
            channel=channel,
            settings=self._store.get_channel(channel),
            zone=channel_zone(self._store, self._settings, channel),
            hidden=tuple(self._store.hidden_sources(channel, self._settings.feeds.urls)),
        )


class Engine:
    """Everything of the core one process runs, built from `settings`.

    Args:
        store: the open database.
        settings: the effective settings.
        policy: a fetch policy to use instead of the one the settings give (tests).
        clock: the time (tests).
        leadership: whether this process runs the daily digests, of several replicas on one
            database (`bot.leader.leadership_for`); None: it always does.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        policy: FetchPolicy | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        leadership: Leadership | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        built = Policies.from_settings(settings)
        self.policies = Policies(policy or built.fetch, built.names)
        self.clock = clock
        # set at SIGTERM/SIGINT: commands are refused from then on, in-flight work finishes
        self.stopping = asyncio.Event()
        self.alerts = Alerts(store, settings, {}, clock=clock)
        self.delivery = Delivery.from_settings(store, settings, {}, alerts=self.alerts, clock=clock)
        self.scheduler = Scheduler(
            store,
            settings,
            {},
            policy=self.policies.fetch,
            clock=clock,
            delivery=self.delivery,
            alerts=self.alerts,
            leadership=leadership,
        )
        # the optional language model ([llm]): None keeps briefings and answers extractive
        self.writer: ModelWriter | None = None
        if settings.llm.enabled:
            from bot.summarize.llm import ModelWriter  # httpx client, only when configured

            self.writer = ModelWriter.from_settings(settings, store)
        self.delivery.writer = self.writer
        self.digests = Digests(store, settings, self.delivery)
        # /brief and /ask results, kept until the store changes (see bot.commands.cache)
        self.reads = ReadCache()
        # /ask computed in a worker process, so it never holds the event loop's interpreter
        self.answers = Answers(store)
        s = settings.secrets
        self.commands = Dispatcher(
            self._context,
            self.stopping,
            secrets=(s.slack_bot_token, s.slack_app_token, s.slack_signing_secret,
                     s.discord_bot_token),
        )  # fmt: skip

    @property
    def policy(self) -> FetchPolicy:
        return self.policies.fetch

    def attach(self, platform: Platform) -> None:
        """Let digests and notices reach `platform`."""
        self.delivery.add(platform.name, platform)
        notice: PostNotice = platform.post_notice
        self.alerts.add(platform.name, notice)

    def platforms(self) -> Sequence[str]:
        return tuple(self.delivery.couriers)

    def context(self, channel: ChannelRef, *, can_manage: bool = True) -> CommandContext:
        """A command context for one request in `channel`."""
        return self._context(channel, can_manage)

    def _context(self, channel: ChannelRef, can_manage: bool) -> CommandContext:
        return CommandContext(
            store=self.store,
            settings=self.settings,
            channel=channel,
            policy=self.policies.fetch,
            clock=self.clock,
            can_manage=can_manage,
            scheduler=self.scheduler,
            delivery=self.delivery,
            names=self.policies.names,
            writer=self.writer,
            reads=self.reads,
            answers=self.answers,
        )

    def stop(self) -> None:
        """Take no new command, start no new job and no new send; what runs may finish."""
        self.stopping.set()
        self.scheduler.pause()
        self.delivery.stopping = True

    def close(self) -> None:
        self.commands.close()
        self.answers.close()

    async def aclose(self) -> None:
        """Close what needs the event loop (the model's HTTP client), then the rest."""
        if self.writer is not None:
            await self.writer.close()
        self.close()
