"""The Discord adapter: a discord.py client whose CommandTree serves the core's commands.

Each core command (`bot.commands.HANDLERS`) is one slash command with typed options. A command
answers within Discord's 3 s: the core runs for at most `respond_budget` seconds; if it is done,
the answer is the interaction response, else the interaction is deferred and the answer follows
as a follow-up. Digests are posted part by part through `send_part`, which the core's
exactly-once delivery (`bot.delivery.Delivery`) calls.

Example:
    adapter = DiscordAdapter(engine)   # needs DISCORD_BOT_TOKEN in engine.settings.secrets
    await adapter.start()              # logs in, connects, syncs the commands; returns when ready
    ...
    await adapter.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
from bot.commands import CommandContext, Reply, handle
from bot.delivery import OutgoingPart
from bot.engine import Engine
from bot.errors import ConfigError, DeliveryError
from bot.logs import new_request_id
from bot.models import ChannelRef, Digest
from bot.text import strip_control

log = logging.getLogger(__name__)

Interaction = discord.Interaction[discord.Client]
NO_MENTIONS = discord.AllowedMentions.none()
# Discord allows 3 s for the first response; the rest covers the callback's own round trip.
RESPOND_BUDGET = 2.0
MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
# Commands whose success is announced to the channel: deferring them must not hide it, since
# ephemeral or not is fixed at defer time.
_PUBLIC_WHEN_DEFERRED = frozenset({"subscribe", "unsubscribe", "filter"})
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
            self.client = discord.AutoShardedClient(
                intents=intents,
                shard_count=self._settings.shard_count,
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
        await self.client.login(token)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()  # the connection failed for good: raise its error here
            raise RuntimeError("the Discord connection ended before it was ready")
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
        tree = self.tree

        @tree.command(name="brief", description="The latest stories, or those on a topic")
        @app_commands.describe(topic="Words to look for", public="Show the answer to everyone")
        async def brief(
            interaction: Interaction, topic: str | None = None, public: bool = False
        ) -> None:
            await self._run(interaction, "brief", topic or "", public=public)

        @tree.command(name="ask", description="An answer quoted from stored articles, with sources")
        @app_commands.describe(question="Your question", public="Show the answer to everyone")
        async def ask(interaction: Interaction, question: str, public: bool = False) -> None:
            await self._run(interaction, "ask", question, public=public)

        @tree.command(name="subscribe", description="Follow a feed in this channel")
        @app_commands.describe(url="A feed or page address")
        async def subscribe(interaction: Interaction, url: str) -> None:
            await self._run(interaction, "subscribe", url)

        @tree.command(name="unsubscribe", description="Stop following a source")
        @app_commands.describe(source="Its id from /sources, or its address")
        async def unsubscribe(interaction: Interaction, source: str) -> None:
            await self._run(interaction, "unsubscribe", source)

        @unsubscribe.autocomplete("source")
        async def source_choices(
            interaction: Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return self._source_choices(interaction, current)

        @tree.command(name="sources", description="What this channel follows")
        async def sources(interaction: Interaction) -> None:
            await self._run(interaction, "sources", "")

        @tree.command(name="digest", description="Show, set, send now or stop the daily digest")
        @app_commands.describe(
            when="A time like 07:30, or now, or off (empty: show)",
            timezone="A time zone like Europe/Kyiv",
        )
        async def digest(
            interaction: Interaction, when: str | None = None, timezone: str | None = None
        ) -> None:
            await self._run(interaction, "digest", f"{when or ''} {timezone or ''}".strip())

        @digest.autocomplete("timezone")
        async def zone_choices(
            interaction: Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return self._zone_choices(current)

        @digest.autocomplete("when")
        async def when_choices(
            interaction: Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            options = ["now", "off", "07:00", "07:30", "08:00", "09:00", "12:00", "18:00"]
            picked = [o for o in options if o.startswith(current.strip().lower())]
            if current.strip() and current.strip() not in picked:
                picked.insert(0, current.strip()[:100])
            return [app_commands.Choice(name=o, value=o) for o in picked[:MAX_CHOICES]]

        @tree.command(name="filter", description="Only stories matching one of these words")
        @app_commands.describe(terms='Words or "quoted phrases", or off (empty: show)')
        async def filter_(interaction: Interaction, terms: str | None = None) -> None:
            await self._run(interaction, "filter", terms or "")

        @tree.command(name="help", description="Every command with an example")
        async def help_(interaction: Interaction) -> None:
            await self._run(interaction, "help", "")

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

    def _tz(self, ref: ChannelRef) -> ZoneInfo:
        try:
            return ZoneInfo(self.engine.store.get_channel(ref).timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    async def _run(
        self, interaction: Interaction, name: str, args: str, *, public: bool = False
    ) -> None:
        """Run core command `name` and answer: at once if it is quick, else defer + follow-up."""
        new_request_id()  # every log line of this command, in any task it spawns, carries it
        ref = ChannelRef("discord", str(interaction.channel_id))
        ctx = self.engine.context(ref, can_manage=self._can_manage(interaction))
        line = f"/{name} {strip_control(args, keep_newlines=False)}".rstrip()
        task = asyncio.ensure_future(self._reply(ctx_line=line, ctx=ctx, name=name))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), self._budget)
        except TimeoutError:
            hidden = not public and name not in _PUBLIC_WHEN_DEFERRED
            await interaction.response.defer(ephemeral=hidden, thinking=True)
            reply = await task
            if not reply.ok and not hidden:
                # the public "thinking..." cannot turn private: drop it, answer privately
                await interaction.delete_original_response()
                hidden = True
            for message in to_discord_reply(reply, self._tz(ref)):
                await self._followup(interaction, message, ephemeral=hidden)
            return
        ephemeral = not reply.ok or (reply.ephemeral and not public)
        messages = to_discord_reply(reply, self._tz(ref))
        first, rest = messages[0], messages[1:]
        await interaction.response.send_message(
            first.content or None,
            embeds=first.embeds,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
        )
        for message in rest:
            await self._followup(interaction, message, ephemeral=ephemeral)

    async def _reply(self, *, ctx_line: str, ctx: CommandContext, name: str) -> Reply:
        try:
            return await handle(ctx, ctx_line)
        except Exception:
            # one broken command must not leave the user staring at "thinking..."
            log.exception("discord /%s failed in %s", name, ctx.channel)
            return Reply(f"Sorry, /{name} failed. Please try again later.", ok=False)

    @staticmethod
    async def _followup(
        interaction: Interaction, message: DiscordMessage, *, ephemeral: bool
    ) -> None:
        await interaction.followup.send(
            message.content or discord.utils.MISSING,
            embeds=message.embeds,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
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
