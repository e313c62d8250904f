"""A loopback fake of Slack: the Web API, `response_url`s and the Socket Mode WebSocket.

It records what the real slack_sdk / slack_bolt code sends it, and can answer 429 with
``Retry-After`` or an ``ok: false`` error on demand. Posted messages are kept per channel,
with their thread and metadata, and ``conversations.history`` / ``conversations.replies``
return them as Slack does (metadata only with ``include_all_metadata``; thread replies only in
``replies``). It fails the way Slack can after accepting a message: ``accept_then`` answers
the next posts with a 503 or drops the connection once the message is kept, and `kill_after`
SIGKILLs a client process once it has kept its n-th message, before answering.

Example:
    async with FakeSlack() as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import signal
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

SIGNING_SECRET = "test-signing-secret"


@dataclass
class Call:
    """One Web API call: the method, its parameters and the Authorization header."""

    method: str
    params: dict[str, Any]
    auth: str


@dataclass
class FakeSlack:
    """An aiohttp app on 127.0.0.1:0 that speaks enough of Slack for the adapter's tests."""

    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    responded: list[str] = field(default_factory=list)  # the id of each response's URL
    ws_received: list[dict[str, Any]] = field(default_factory=list)
    # method -> how many more times to answer 429; method -> the answers of its next calls,
    # in order: an error code, or "" for success
    rate_limits: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int = 1
    # the answers to the next chat.postMessage calls that keep their message: "503", "500",
    # "drop" (close the connection unanswered) or "" (answer normally)
    accept_then: list[str] = field(default_factory=list)
    # seconds each chat.postMessage takes; (pid, n): SIGKILL pid once message n (1-based) is kept
    post_delay: float = 0.0
    kill_after: tuple[int, int] | None = None
    # answer every chat.postMessage 503 without keeping it, until this perf_counter() time
    down_until: float = 0.0
    # per channel: its own `accept_then` queue, and an outage (until perf_counter(), and 429
    # or 503) during which its posts are refused and not kept
    accept_then_in: dict[str, list[str]] = field(default_factory=dict)
    outages: dict[str, tuple[float, int]] = field(default_factory=dict)
    # perf_counter() time each message was kept, by ts
    kept_at: dict[str, float] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    base: str = ""
    _runner: web.AppRunner | None = None
    _ws: web.WebSocketResponse | None = None
    _ws_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    @property
    def response_url(self) -> str:
        return self.base + "/response/1"

    def posts(self, method: str = "chat.postMessage") -> list[Call]:
        """Calls of `method` that succeeded (were not answered 429 or an error)."""
        return [c for c in self.calls if c.method == method and c.params.get("_ok", True)]

    def kept(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages Slack kept (what users see), in order, of one channel or of all."""
        if channel is not None:
            return list(self.messages.get(channel, []))
        return [m for kept in self.messages.values() for m in kept]

    def parts(self, channel: str) -> list[tuple[str, int]]:
        """(run, part) of each digest part kept in a channel, from its metadata."""
        found = []
        for message in self.kept(channel):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "run" in payload:
                found.append((str(payload["run"]), int(payload["part"])))
        return found

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/ws", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        call = Call(method, params, request.headers.get("Authorization", ""))
        self.calls.append(call)
        if self.rate_limits.get(method, 0) > 0:
            self.rate_limits[method] -= 1
            params["_ok"] = False
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        error = self.errors[method].pop(0) if self.errors.get(method) else ""
        if error:
            params["_ok"] = False
            return web.json_response({"ok": False, "error": error})
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "bot"}
            )
        if method == "apps.connections.open":
            ws = self.base.replace("http://", "ws://") + "/ws"
            return web.json_response({"ok": True, "url": ws})
        if method == "chat.postMessage":
            return await self._post_message(request, params)
        if method in ("conversations.history", "conversations.replies"):
            return self._history(method, params)
        return web.json_response({"ok": True})

    async def _post_message(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        channel = str(params.get("channel"))
        until, status = self.outages.get(channel, (0.0, 503))
        if time.perf_counter() < max(self.down_until, until):
            params["_ok"] = False
            if status == 429:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(self.retry_after)},
                )
            return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
        ts = f"{time.time():.0f}.{next(self._ts):06d}"
        message: dict[str, Any] = {"ts": ts, "text": params.get("text", "")}
        for key in ("thread_ts", "metadata", "blocks"):
            if params.get(key):
                message[key] = params[key]
        self.messages.setdefault(channel, []).append(message)
        self.kept_at[ts] = time.perf_counter()
        if self.kill_after is not None and len(self.kept()) >= self.kill_after[1]:
            pid, self.kill_after = self.kill_after[0], None
            os.kill(pid, signal.SIGKILL)  # kept, and the sender dies before it hears so
            await asyncio.sleep(0.5)
        queue = self.accept_then_in.get(channel) or self.accept_then
        then = queue.pop(0) if queue else ""
        if then == "drop":
            params["_ok"] = False
            assert request.transport is not None
            request.transport.close()
            return web.json_response({"ok": True})
        if then:
            params["_ok"] = False
            return web.json_response({"ok": False, "error": "internal_error"}, status=int(then))
        return web.json_response({"ok": True, "channel": channel, "ts": ts})

    def _history(self, method: str, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel"))
        oldest = float(params.get("oldest") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        kept = [m for m in self.kept(channel) if float(m["ts"]) >= oldest]
        if method == "conversations.history":
            found = [m for m in kept if m.get("thread_ts") in (None, m["ts"])]
            found.reverse()  # newest first, as Slack answers
        else:
            parent = params.get("ts")
            found = [m for m in kept if m["ts"] == parent or m.get("thread_ts") == parent]
        shown = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in found]
        return web.json_response({"ok": True, "messages": shown, "has_more": False})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self.responded.append(request.match_info["id"])
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        self._ws_ready.set()
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.ws_received.append(json.loads(msg.data))
        return ws

    async def send_envelope(self, envelope: dict[str, Any], timeout: float = 5.0) -> None:
        """Push a Socket Mode envelope once a client has connected."""
        await asyncio.wait_for(self._ws_ready.wait(), timeout)
        assert self._ws is not None
        await self._ws.send_json(envelope)


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with `body`: a v0 HMAC-SHA256 signature over timestamp and body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_body(command: str, text: str, *, response_url: str, channel: str = "C1") -> bytes:
    """A form-encoded slash-command payload, as Slack posts it."""
    form = {
        "command": command,
        "text": text,
        "channel_id": channel,
        "user_id": "U1",
        "team_id": "T1",
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "token": "legacy",
    }
    return urllib.parse.urlencode(form).encode()
