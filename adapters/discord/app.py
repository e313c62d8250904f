"""The Discord adapter: a discord.py client whose CommandTree serves the core's commands.

Every spec of `bot.commands.SPECS` is registered as one slash command, with a string option per
parameter (autocompleted where the spec says so) and a ``public`` option for a command whose
answer may be shared. An interaction becomes a `CommandRequest` for the core's dispatcher; the
core (`bot.commands.respond_in_time`) decides whether it is answered at once or deferred (Discord
allows 3 s: the budget is `respond_budget`) and who sees the answer; this module only translates.
Digests are posted part by part through `send_part`, which the core's exactly-once delivery
(`bot.delivery.Delivery`) calls. A token Discord refuses, or a Discord it cannot reach, stops
the Discord side with one `PlatformError`.

Example:
    adapter = DiscordAdapter(engine)   # needs DISCORD_BOT_TOKEN in engine.settings.secrets
    await adapter.start()              # logs in, connects, syncs the commands; returns when ready
    ...
    await adapter.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import timedelta
from typing import Any
from zoneinfo import available_timezones

import aiohttp
import discord
import yarl
from discord import app_commands

from adapters.discord.render import (
    MAX_CONTENT,
    DiscordMessage,
    cut,
    escape_mentions,
    to_discord_messages,
    to_discord_reply,
)
from bot.commands import SPECS, CommandSpec, Reply, from_options, respond_in_time
from bot.delivery import OutgoingPart
from bot.engine import Engine
from bot.errors import ConfigError, DeliveryError, PlatformError
from bot.models import ChannelRef, Digest

log = logging.getLogger(__name__)

Interaction = discord.Interaction[discord.Client]
NO_MENTIONS = discord.AllowedMentions.none()
# Discord allows 3 s for the first response; the rest covers the callback's own round trip.
RESPOND_BUDGET = 2.0
MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
MAX_DESCRIPTION = 100  # a command's or option's description
WHEN_CHOICES = ("now", "off", "07:00", "07:30", "08:00", "09:00", "12:00", "18:00")
# Looking a part up: the bot's messages since the run was claimed (less this much for clocks
# that differ), at most this many.
CLOCK_SKEW = 120.0
LOOKUP_LIMIT = 100
RESEND_DELAY = 1.0


def _zones() -> list[str]:
    return sorted(available_timezones())


class DiscordAdapter:
    """Serves slash commands on Discord and posts digests to Discord channels.

    Args:
        engine: the core; its settings give the token, guilds, URLs, shards and permission.
        respond_budget: seconds a command may run before the interaction is deferred.
        guild_ready_timeout: seconds discord.py waits for guilds after READY (tests pass less).
        resend_delay: seconds before sending a part again after a 5xx or a dropped connection.
    """

    name = "discord"

    def __init__(
        self,
        engine: Engine,
        *,
        respond_budget: float = RESPOND_BUDGET,
        guild_ready_timeout: float = 2.0,
        resend_delay: float = RESEND_DELAY,
    ) -> None:
        self.engine = engine
        self._resend_delay = resend_delay
        self._settings = engine.settings.discord
        self._budget = respond_budget
        self._zones: list[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        # No voice here: skip discord.py's warnings about the voice libraries it lacks.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        # Slash commands need no privileged intents; `guilds` keeps channels in the cache.
        intents = discord.Intents.none()
        intents.guilds = True
        self.client: discord.Client
        if self._settings.shard_count > 0:
            # with replicas each process connects its own shards ([discord] shard_ids; none
            # given: all); REST posts reach any guild from any shard
            self.client = discord.AutoShardedClient(
                intents=intents,
                shard_count=self._settings.shard_count,
                shard_ids=list(self._settings.shard_ids or range(self._settings.shard_count)),
                allowed_mentions=NO_MENTIONS,
                guild_ready_timeout=guild_ready_timeout,
            )
        else:
            self.client = discord.Client(
                intents=intents,
                allowed_mentions=NO_MENTIONS,
                guild_ready_timeout=guild_ready_timeout,
            )
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self.client)
        self._register()

    # Lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, connect in the background, wait until ready, then sync the slash commands.

        Raises:
            ConfigError: when DISCORD_BOT_TOKEN is not set.
            discord.LoginFailure: when Discord refuses the token.
        """
        token = self.engine.settings.secrets.discord_bot_token
        if not token:
            raise ConfigError([("DISCORD_BOT_TOKEN", "set it to the bot's token to use Discord")])
        self._apply_urls()
        try:
            await self.client.login(token)
        except discord.LoginFailure:
            raise PlatformError("discord", "Discord refused DISCORD_BOT_TOKEN (401)") from None
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PlatformError(
                "discord", f"cannot reach Discord at {discord.http.Route.BASE} ({_why(exc)})"
            ) from None
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            try:
                self._task.result()  # the connection failed for good: say why
            except (discord.DiscordException, aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise PlatformError(
                    "discord", f"the gateway connection failed ({_why(exc)})"
                ) from None
            raise PlatformError("discord", "the gateway connection ended before it was ready")
        await self._sync()
        log.info("discord ready as %s", self.client.user)

    @property
    def ready(self) -> bool:
        """Whether the gateway connection is up and has seen READY."""
        return self.client.is_ready() and not self.client.is_closed()

    async def close(self) -> None:
        """Disconnect and undo the URL overrides."""
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved_urls
            )
            self._saved_urls = None

    def _apply_urls(self) -> None:
        """Point discord.py at `[discord] api_base_url` / `gateway_url` (proxies and tests).

        discord.py reads both from class attributes (`Route.BASE`, which interaction callbacks
        and webhook follow-ups use too, and `DiscordWebSocket.DEFAULT_GATEWAY`), so the override
        holds for the whole process; `close` restores them.
        """
        base, gateway = self._settings.api_base_url, self._settings.gateway_url
        if not base and not gateway:
            return
        self._saved_urls = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        if base:
            discord.http.Route.BASE = base.rstrip("/")
        if gateway:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
        log.info("discord endpoints overridden: api=%s gateway=%s", base or "-", gateway or "-")

    async def _sync(self) -> None:
        """Register the commands with Discord: per configured guild (instant), else globally."""
        if self._settings.guild_ids:
            for gid in self._settings.guild_ids:
                guild = discord.Object(id=int(gid))
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("discord commands synced to guild %s: %d", gid, len(synced))
        else:
            synced = await self.tree.sync()
            log.info("discord commands synced globally: %d", len(synced))

    # Commands -----------------------------------------------------------------------------

    def _register(self) -> None:
        """One slash command per spec, so no command can be missing here."""
        for spec in SPECS:
            self.tree.add_command(self._command(spec))

    def _command(self, spec: CommandSpec) -> app_commands.Command[Any, ..., None]:
        """The slash command of `spec`: a string option per parameter, and ``public`` for a
        command whose answer may be shared."""

        async def callback(interaction: Interaction, **options: Any) -> None:
            await self._run(interaction, spec, options)

        # discord.py reads the options from the callback's signature: build it from the spec
        params = [
            inspect.Parameter(
                "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Interaction
            )
        ]
        described: dict[str, str] = {}
        for param in spec.params:
            params.append(
                inspect.Parameter(
                    param.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=str if param.required else str | None,
                    default=inspect.Parameter.empty if param.required else None,
                )
            )
            described[param.name] = param.description[:MAX_DESCRIPTION]
        if spec.shareable:
            params.append(
                inspect.Parameter(
                    "public", inspect.Parameter.KEYWORD_ONLY, annotation=bool, default=False
                )
            )
            described["public"] = "Show the answer to everyone"
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        summary = spec.summary[:1].upper() + spec.summary[1:]
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=summary[:MAX_DESCRIPTION],
            callback=app_commands.describe(**described)(callback),
        )
        for param in spec.params:
            completer = {
                "sources": self._complete_sources,
                "zones": self._complete_zones,
                "when": self._complete_when,
            }.get(param.complete)
            if completer is not None:
                command.autocomplete(param.name)(completer)
        return command

    async def _complete_sources(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return self._source_choices(interaction, current)

    async def _complete_zones(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return self._zone_choices(current)

    async def _complete_when(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip()
        picked = [o for o in WHEN_CHOICES if o.startswith(typed.lower())]
        if typed and typed not in picked:
            picked.insert(0, typed[:100])
        return [app_commands.Choice(name=o, value=o) for o in picked[:MAX_CHOICES]]

    def _source_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The channel's subscriptions whose id or address contains what was typed."""
        ref = ChannelRef("discord", str(interaction.channel_id))
        typed = current.strip().lower()
        choices = []
        for sub in self.engine.store.subscriptions(ref):
            label = f"{sub.id}. {sub.source}"
            if typed and typed not in label.lower():
                continue
            choices.append(app_commands.Choice(name=label[:100], value=str(sub.id)))
            if len(choices) == MAX_CHOICES:
                break
        return choices

    def _zone_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """IANA zones containing what was typed (``kyiv`` finds Europe/Kyiv), at most 25."""
        if self._zones is None:
            self._zones = _zones()
        typed = current.strip().lower().replace(" ", "_")
        if not typed:
            picks = ["UTC", self.engine.settings.digest.timezone]
            picks = list(dict.fromkeys(picks))
        else:
            starts = [z for z in self._zones if z.lower().startswith(typed)]
            inside = [z for z in self._zones if typed in z.lower() and z not in starts]
            picks = starts + inside
        return [app_commands.Choice(name=z, value=z) for z in picks[:MAX_CHOICES]]

    def _can_manage(self, interaction: Interaction) -> bool:
        """Whether the user holds `[discord] manage_permission` in this channel.

        `interaction.permissions` is what Discord resolved for the member in the channel,
        overwrites included. Outside a guild (a DM with the bot) nobody else shares the channel.
        """
        if interaction.guild_id is None:
            return True
        name = self._settings.manage_permission
        return bool(getattr(interaction.permissions, name, False))

    async def _run(self, interaction: Interaction, spec: CommandSpec, options: Any) -> None:
        """Translate the interaction into a request, and let the core run and answer it."""
        ref = ChannelRef("discord", str(interaction.channel_id))
        wanted = from_options(ref, spec.name, options, can_manage=self._can_manage(interaction))
        await respond_in_time(
            self.engine.commands.dispatch,
            wanted,
            _DiscordResponder(interaction),
            budget=self._budget,
        )

    # Digests ------------------------------------------------------------------------------

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        """A digest as its messages (Discord's limits: 10 embeds, 6,000 characters each)."""
        return [
            {"content": m.content, "embeds": [e.to_dict() for e in m.embeds]}
            for m in to_discord_messages(digest)
        ]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        """Post one part of a digest run; returns its message id.

        Every part goes with a `nonce` made from its run and number, which discord.py sends
        with ``enforce_nonce``: Discord answers a repeated create with the message it made the
        first time instead of a second one. So a retry (discord.py's own after a 500, or the
        core's after a 503, a timeout or a restart) never posts a part twice, and no part
        needs looking up. A 429 is waited out by discord.py's rate limiter.

        Raises:
            DeliveryError: `permanent` for 404 (channel gone) and 403 (no access), which make
                the core disable the channel's schedule; transient for other failures.
        """
        if not channel.channel.isdigit():
            raise DeliveryError(
                "discord", channel.channel, "not a channel id", permanent=True, landed=False
            )
        target = self.client.get_partial_messageable(int(channel.channel))
        if part.unsure:
            found = await self._find_part(target, part)
            if found is not None:
                log.info("discord: part %d of %s had landed as %s", part.index + 1, part.key, found)
                return found
        embeds = [discord.Embed.from_dict(e) for e in part.payload.get("embeds") or []]
        content = str(part.payload.get("content") or "") or None
        try:
            try:
                sent = await target.send(
                    content, embeds=embeds, allowed_mentions=NO_MENTIONS, nonce=part.nonce
                )
            except (discord.DiscordServerError, aiohttp.ClientError, TimeoutError, OSError):
                # a blip (a 503 discord.py does not retry, a dropped connection): once more,
                # at once; the nonce makes Discord answer with the first message if it was made
                await asyncio.sleep(self._resend_delay)
                sent = await target.send(
                    content, embeds=embeds, allowed_mentions=NO_MENTIONS, nonce=part.nonce
                )
        except discord.NotFound as exc:
            raise DeliveryError(
                "discord",
                channel.channel,
                f"channel not found (404, code {exc.code})",
                permanent=True,
                landed=False,
            ) from None
        except discord.Forbidden as exc:
            raise DeliveryError(
                "discord",
                channel.channel,
                f"missing access (403, code {exc.code})",
                permanent=True,
                landed=False,
            ) from None
        except discord.RateLimited as exc:
            raise DeliveryError(
                "discord",
                channel.channel,
                f"rate limited at part {part.index + 1}",
                landed=False,
                retry_after=exc.retry_after,
            ) from None
        except discord.HTTPException as exc:
            # a 4xx was refused; a 5xx may have been created (the nonce makes a retry safe)
            raise DeliveryError(
                "discord",
                channel.channel,
                f"send failed at part {part.index + 1}: HTTP {exc.status}",
                landed=False if exc.status < 500 else None,
                retry_after=_retry_after(exc),
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(
                "discord",
                channel.channel,
                f"send failed at part {part.index + 1}: {type(exc).__name__}",
            ) from None
        return str(sent.id)

    async def _find_part(
        self, target: discord.PartialMessageable, part: OutgoingPart
    ) -> str | None:
        """The id of a part already in the channel, posted by an attempt whose outcome is
        unknown; None when it is not there.

        Discord honours a nonce for a few minutes only: a part retried later (after a
        backoff or a restart) is looked for among the bot's messages since the run was
        claimed, by its content and embed titles and descriptions.

        Raises:
            DeliveryError: Discord could not be asked (`landed` None: still unknown).
        """
        after = None
        if part.since is not None:
            moment = part.since - timedelta(seconds=CLOCK_SKEW)
            after = discord.Object(id=discord.utils.time_snowflake(moment))
        want = _fingerprint(
            str(part.payload.get("content") or ""),
            [(e.get("title"), e.get("description")) for e in part.payload.get("embeds") or []],
        )
        me = self.client.user
        try:
            async for message in target.history(limit=LOOKUP_LIMIT, after=after):
                if me is not None and message.author.id != me.id:
                    continue
                got = _fingerprint(
                    message.content, [(e.title, e.description) for e in message.embeds]
                )
                if got == want:
                    return str(message.id)
        except discord.Forbidden:
            # without Read Message History only the nonce guards it (a few minutes)
            log.warning(
                "discord: cannot read %s to look for part %d of %s (Read Message History); "
                "sending it again with its nonce",
                target.id,
                part.index + 1,
                part.key,
            )
            return None
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(
                "discord",
                str(target.id),
                f"cannot check whether part {part.index + 1} landed: {type(exc).__name__}",
            ) from None
        return None

    async def post_notice(self, channel: ChannelRef, text: str) -> None:
        """Post a line of plain text (a failing feed or digest) to a channel."""
        if not channel.channel.isdigit():
            raise DeliveryError("discord", channel.channel, "not a channel id", permanent=True)
        target = self.client.get_partial_messageable(int(channel.channel))
        try:
            await target.send(cut(escape_mentions(text), MAX_CONTENT), allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError("discord", channel.channel, type(exc).__name__) from None


class _DiscordResponder:
    """Answers one interaction: the interaction response, or a defer and follow-ups."""

    def __init__(self, interaction: Interaction) -> None:
        self._interaction = interaction
        self._deferred_private = True

    async def answer(self, reply: Reply, *, private: bool) -> None:
        first, *rest = to_discord_reply(reply, reply.zone)
        await self._interaction.response.send_message(
            first.content or None,
            embeds=first.embeds,
            ephemeral=private,
            allowed_mentions=NO_MENTIONS,
        )
        for message in rest:
            await self._send(message, private)

    async def defer(self, *, private: bool) -> None:
        # ephemeral or not is fixed here, for the "thinking..." and every follow-up
        await self._interaction.response.defer(ephemeral=private, thinking=True)
        self._deferred_private = private

    async def follow_up(self, reply: Reply, *, private: bool) -> None:
        if private and not self._deferred_private:
            # the public "thinking..." cannot turn private: drop it, answer privately
            await self._interaction.delete_original_response()
        for message in to_discord_reply(reply, reply.zone):
            await self._send(message, private)

    async def _send(self, message: DiscordMessage, private: bool) -> None:
        await self._interaction.followup.send(
            message.content or discord.utils.MISSING,
            embeds=message.embeds,
            ephemeral=private,
            allowed_mentions=NO_MENTIONS,
        )


def _why(exc: BaseException) -> str:
    """An error in a few words, for one log line."""
    text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fingerprint(content: str, embeds: list[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """What tells one digest part from another: its text and its embeds' titles and texts."""
    return (content.strip(), *(f"{t or ''}\n{d or ''}".strip() for t, d in embeds))


def _retry_after(exc: discord.HTTPException) -> float | None:
    """The wait a 429 that outlasted discord.py's retries asked for."""
    if exc.status != 429:
        return None
    value = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None
