"""A loopback Discord: REST API and gateway on 127.0.0.1, for the real discord.py client.

`FakeDiscord` answers what the adapter uses: login (``GET /users/@me``,
``GET /oauth2/applications/@me``), command sync (``PUT .../commands``), interaction callbacks,
webhook follow-ups and ``POST /channels/{id}/messages``, and serves a gateway that sends HELLO,
reads IDENTIFY, sends READY, acks heartbeats and pushes ``INTERACTION_CREATE`` on demand.

Every JSON answer carries exactly ``Content-Type: application/json`` (discord.py reads a body
with ``; charset=utf-8`` as text), and a 429 carries a ``Via`` header (without one discord.py
takes it for a Cloudflare ban).

Channel messages honour ``enforce_nonce`` as Discord does: a create with a nonce already used
in that channel returns the first message instead of making a second (`created` holds what
users see). It fails the way Discord can after creating a message: ``accept_then`` answers the
next creates with a 5xx or drops the connection once the message exists, and `kill_after`
SIGKILLs a client process once it has created its n-th message, before answering.

Example:
    async with FakeDiscord() as fake:
        settings = replace(settings, discord=replace(settings.discord, **fake.urls()))
        ...
        sent = await fake.push_command("brief", {"topic": "energy"})
        callback = await fake.wait_callback(sent)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from aiohttp import WSMsgType, web

APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
GUILD_ID = "900000000000000003"
CHANNEL_ID = "123"
DISCORD_EPOCH_MS = 1_420_070_400_000
MANAGE_CHANNELS = 1 << 4
SEND_MESSAGES = 1 << 11
MEMBER_PERMISSIONS = (1 << 10) | SEND_MESSAGES  # view channel + send messages
_OPTION_TYPES = {str: 3, int: 4, bool: 5}


class DiscordUrls(TypedDict):
    """The `[discord]` settings that point a client at the fake."""

    api_base_url: str
    gateway_url: str


class UserPayload(TypedDict):
    id: str
    username: str
    discriminator: str
    avatar: str | None
    global_name: str | None
    bot: NotRequired[bool]


class OptionPayload(TypedDict):
    name: str
    type: int
    value: str | int | bool
    focused: NotRequired[bool]


class CommandDataPayload(TypedDict):
    id: str
    name: str
    type: int
    options: list[OptionPayload]


class InteractionPayload(TypedDict):
    id: str
    application_id: str
    type: int
    token: str
    version: int
    data: CommandDataPayload
    guild_id: str
    channel_id: str
    channel: dict[str, Any]
    member: dict[str, Any]
    app_permissions: str
    locale: str
    guild_locale: str
    entitlements: list[Any]
    authorizing_integration_owners: dict[str, str]
    context: int
    attachment_size_limit: int


@dataclass(slots=True)
class Recorded:
    """One request the fake received: method, path, JSON body, and when (perf_counter)."""

    method: str
    path: str
    body: Any
    at: float


@dataclass(slots=True)
class Planned:
    """A canned answer for the next matching request: status, JSON body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def user_payload(user_id: str, name: str, *, bot: bool = False) -> UserPayload:
    user: UserPayload = {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "avatar": None,
        "global_name": None,
    }
    if bot:
        user["bot"] = True
    return user


def rate_limited(retry_after: float = 0.1) -> Planned:
    """A per-route 429, as Discord sends it (with the `Via` header of its own proxies)."""
    return Planned(
        429,
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
        {"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
    )


NOT_FOUND = Planned(404, {"message": "Unknown Channel", "code": 10003})
FORBIDDEN = Planned(403, {"message": "Missing Access", "code": 50001})


class FakeDiscord:
    """Discord's REST API and gateway on one loopback port; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.plans: dict[str, list[Planned | None]] = {}
        self.pushed_at: dict[str, float] = {}
        self.identified = asyncio.Event()
        self.identified_shards: list[list[int]] = []
        """The ``[shard_id, shard_count]`` of every IDENTIFY, in order."""
        self._last_id = 0
        self._seq = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        # channel messages users see, in order: (channel id, message, request body)
        self.created: list[tuple[str, dict[str, Any], Any]] = []
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        # answers to the next creates that keep their message: "503", "500", "drop" or ""
        self.accept_then: list[str] = []
        # seconds Discord remembers a nonce ("the past few minutes"); None: for ever
        self.nonce_window: float | None = None
        self.post_delay = 0.0
        self.kill_after: tuple[int, int] | None = None
        # answer every channel message create 503 without making it until this perf_counter()
        self.down_until = 0.0
        # per channel: its own `accept_then` queue, and an outage (until perf_counter(), and 429
        # or 503) during which its creates are refused and not made
        self.accept_then_in: dict[str, list[str]] = {}
        self.outages: dict[str, tuple[float, int]] = {}
        self.retry_after = 1.0

    # Lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gw", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def urls(self) -> DiscordUrls:
        """The `[discord]` settings that point a client here."""
        return {
            "api_base_url": f"http://127.0.0.1:{self.port}/api/v10",
            "gateway_url": f"ws://127.0.0.1:{self.port}/gw",
        }

    # REST -----------------------------------------------------------------------------------

    def plan(self, path: str, *answers: Planned | None) -> None:
        """Answer the next requests to `path` (e.g. ``/channels/123/messages``) with `answers`
        (None: as usual)."""
        self.plans.setdefault(path, []).extend(answers)

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def channel_posts(self, channel_id: str) -> list[Recorded]:
        return self.calls("POST", f"/channels/{channel_id}/messages")

    def _next_id(self) -> int:
        """A snowflake of now, as Discord's ids are (so `after=` a time works), never repeated."""
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(stamp, self._last_id + 1)
        return self._last_id

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages created in a channel (what users see), in order."""
        return [m for c, m, _ in self.created if c == channel_id]

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.json() if request.can_read_body else None
        async with self._changed:
            self.requests.append(Recorded(request.method, path, body, time.perf_counter()))
            self._changed.notify_all()
        queued = self.plans.get(path)
        planned = queued.pop(0) if queued else None
        if planned is not None:
            return _json(planned.body, planned.status, planned.headers)
        parts = path.strip("/").split("/")
        if request.method == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            return await self._create(request, parts[1], body or {})
        if request.method == "GET" and parts[0] == "channels" and parts[-1] == "messages":
            after = int(request.query.get("after", "0"))
            limit = int(request.query.get("limit", "50"))
            found = [m for m in self.messages_in(parts[1]) if int(m["id"]) > after]
            # the first `limit` after it, newest first, as Discord answers
            return _json(list(reversed(found[:limit])))
        return self._answer(request.method, path, body)

    async def _create(
        self, request: web.Request, channel: str, body: dict[str, Any]
    ) -> web.Response:
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        until, status = self.outages.get(channel, (0.0, 503))
        if time.perf_counter() < max(self.down_until, until):
            if status == 429:
                limited = rate_limited(self.retry_after)
                return _json(limited.body, 429, limited.headers)
            return _json({"message": "Service Unavailable", "code": 0}, 503)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            first = self._nonces.get((channel, str(nonce)))
            fresh = self.nonce_window is None or (
                first is not None and time.time() - first["_at"] <= self.nonce_window
            )
            if first is not None and fresh:
                # Discord's answer to a repeated create: the first message
                return _json({k: v for k, v in first.items() if k != "_at"})
        message = self._message(channel, body)
        message["nonce"] = nonce
        message["_kept_at"] = time.perf_counter()
        self.created.append((channel, message, body))
        if nonce is not None:
            self._nonces[(channel, str(nonce))] = {**message, "_at": time.time()}
        if self.kill_after is not None and len(self.created) >= self.kill_after[1]:
            pid, self.kill_after = self.kill_after[0], None
            os.kill(pid, signal.SIGKILL)  # created, and the sender dies before it hears so
            await asyncio.sleep(0.5)
        queue = self.accept_then_in.get(channel) or self.accept_then
        then = queue.pop(0) if queue else ""
        if then == "drop":
            assert request.transport is not None
            request.transport.close()
            return _json({})
        if then:
            return _json({"message": "Server Error", "code": 0}, int(then))
        return _json(message)

    def _answer(self, method: str, path: str, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return _json(user_payload(BOT_ID, "newsbrief", bot=True))
        if path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": APP_ID,
                    "name": "newsbrief",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": user_payload("900000000000000009", "owner"),
                    "verify_key": "0" * 64,
                    "flags": 0,
                }
            )
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            return _json([])
        if parts[0] == "interactions" and parts[-1] == "callback":
            return _json({"interaction": {"id": parts[1], "type": 2}})
        if method == "DELETE":
            return web.Response(status=204)
        if method in ("POST", "PATCH") and parts[0] in ("webhooks", "channels"):
            channel = parts[1] if parts[0] == "channels" else CHANNEL_ID
            return _json(self._message(channel, body or {}))
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _message(self, channel_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(self._next_id()),
            "channel_id": channel_id,
            "author": user_payload(BOT_ID, "newsbrief", bot=True),
            "content": body.get("content") or "",
            "timestamp": "2025-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
            "components": [],
        }

    async def wait_for(
        self, method: str, prefix: str, count: int = 1, timeout: float = 10.0
    ) -> list[Recorded]:
        """Wait until `count` requests matching `method` and `prefix` have arrived."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.calls(method, prefix)) >= count), timeout
            )
        return self.calls(method, prefix)

    # Gateway --------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45_000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif frame["op"] == 2:
                shard = frame["d"].get("shard", [0, 1])
                self.identified_shards.append(list(shard))
                await self._dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": user_payload(BOT_ID, "newsbrief", bot=True),
                        "guilds": [],
                        "session_id": "fake-session",
                        "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gw",
                        "application": {"id": APP_ID, "flags": 0},
                        "shard": shard,
                    },
                    ws,  # each shard's (each replica's) own connection
                )
                self.identified.set()
        return ws

    async def _dispatch(
        self, event: str, data: Mapping[str, Any], ws: web.WebSocketResponse | None = None
    ) -> None:
        """Send an event on `ws`, or on the connection that came last."""
        target = ws or self._ws
        assert target is not None, "no client connected to the fake gateway"
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        await target.send_str(json.dumps(frame))

    async def push_command(
        self,
        name: str,
        options: Mapping[str, str | int | bool] | None = None,
        *,
        permissions: int = MEMBER_PERMISSIONS,
        channel_id: str = CHANNEL_ID,
        focused: str | None = None,
    ) -> InteractionPayload:
        """Send an ``INTERACTION_CREATE`` for ``/name`` with `options`; returns its payload.

        With `focused` (an option name) it is an autocomplete request (type 4) instead.
        """
        interaction_id = str(self._next_id())
        opts: list[OptionPayload] = []
        for key, value in (options or {}).items():
            option: OptionPayload = {
                "name": key,
                "type": _OPTION_TYPES[type(value)],
                "value": value,
            }
            if key == focused:
                option["focused"] = True
            opts.append(option)
        payload: InteractionPayload = {
            "id": interaction_id,
            "application_id": APP_ID,
            "type": 2 if focused is None else 4,
            "token": f"token-{interaction_id}",
            "version": 1,
            "data": {
                "id": "800000000000000001",
                "name": name,
                "type": 1,
                "options": opts,
            },
            "guild_id": GUILD_ID,
            "channel_id": channel_id,
            "channel": {
                "id": channel_id,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": "news",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user_payload("900000000000000010", "reader"),
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            },
            "app_permissions": str(MEMBER_PERMISSIONS | (1 << 14)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        self.pushed_at[interaction_id] = time.perf_counter()
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    async def wait_callback(self, sent: InteractionPayload, timeout: float = 10.0) -> Recorded:
        """The interaction callback (``POST /interactions/{id}/{token}/callback``) for `sent`."""
        prefix = f"/interactions/{sent['id']}/"
        calls = await self.wait_for("POST", prefix, timeout=timeout)
        return calls[0]

    def followups(self, sent: InteractionPayload) -> list[Recorded]:
        """Follow-up messages (``POST /webhooks/{app}/{token}``) for `sent`."""
        return self.calls("POST", f"/webhooks/{APP_ID}/{sent['token']}")
