"""A loopback fake of Slack: the Web API, `response_url`s and the Socket Mode WebSocket.

It records what the real slack_sdk / slack_bolt code sends it, and can answer 429 with
``Retry-After`` or an ``ok: false`` error on demand.

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
    ws_received: list[dict[str, Any]] = field(default_factory=list)
    # method -> how many more times to answer 429; method -> the answers of its next calls,
    # in order: an error code, or "" for success
    rate_limits: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int = 1
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

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
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
        if request.content_type == "application/json":
            params: dict[str, Any] = await request.json()
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
            ts = f"1700000000.{next(self._ts):06d}"
            return web.json_response({"ok": True, "channel": params.get("channel"), "ts": ts})
        return web.json_response({"ok": True})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
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
