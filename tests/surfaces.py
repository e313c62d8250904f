"""All three surfaces at once, on one engine: the console, the real Slack app (HTTP mode) and
the real discord.py client, against the loopback fakes, on an event loop of their own thread.

A synchronous test (a hypothesis property, say) sends a command through each and reads what a
user would see: the console's printed text, Slack's ack and `response_url` posts, Discord's
interaction callback and follow-ups.

Example:
    with Surfaces(store) as s:
        s.console("/help")        # printed text
        s.slack("help", "")       # the JSON bodies Slack got back
        s.discord("help", {})     # the JSON bodies Discord got back
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp

from adapters.console import ConsoleAdapter
from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from adapters.slack.app import WORKING
from bot.config import DiscordSettings, FetchSettings, Secrets, Settings, SlackSettings
from bot.engine import Engine
from bot.models import ChannelRef
from bot.store import Store
from tests.discord_fakes import MANAGE_CHANNELS, MEMBER_PERMISSIONS, FakeDiscord
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body

T = TypeVar("T")
CONSOLE = ChannelRef("console", "terminal")


class Surfaces:
    """Starts the fakes, the adapters and one engine on a background loop; see the module."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.base = settings or Settings()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._out = io.StringIO()

    def __enter__(self) -> Surfaces:
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.fake_slack = await FakeSlack().__aenter__()
        self.fake_discord = await FakeDiscord().__aenter__()
        settings = replace(
            self.base,
            fetch=replace(self.base.fetch, timeout=2.0)
            if self.base.fetch == FetchSettings()
            else self.base.fetch,
            slack=SlackSettings(
                mode="http", host="127.0.0.1", port=0, api_base_url=self.fake_slack.api_url
            ),
            discord=DiscordSettings(**self.fake_discord.urls()),
            secrets=Secrets(
                slack_bot_token="xoxb-test",
                slack_signing_secret=SIGNING_SECRET,
                discord_bot_token="test-token",
            ),
        )
        self.engine = Engine(self.store, settings)
        self.slack_adapter = SlackAdapter(self.engine, ack_budget=2.0)
        self.discord_adapter = DiscordAdapter(self.engine, guild_ready_timeout=0.01)
        self.console_adapter = ConsoleAdapter(
            self.engine.commands.dispatch, channel=CONSOLE, stdin=io.StringIO(), stdout=self._out
        )
        for adapter in (self.slack_adapter, self.discord_adapter, self.console_adapter):
            self.engine.attach(adapter)
        await self.slack_adapter.start()
        await self.discord_adapter.start()
        self.session = aiohttp.ClientSession()

    async def _stop(self) -> None:
        await self.session.close()
        await self.slack_adapter.close()
        await self.discord_adapter.close()
        self.engine.close()
        await self.fake_discord.__aexit__()
        await self.fake_slack.__aexit__()

    # Sending ----------------------------------------------------------------------------------

    def console(self, line: str) -> str:
        """What the console prints for `line`."""
        return self.call(self._console(line))

    async def _console(self, line: str) -> str:
        start = len(self._out.getvalue())
        # the adapter's own loop, on a one-line input
        adapter = ConsoleAdapter(
            self.engine.commands.dispatch,
            channel=CONSOLE,
            stdin=io.StringIO(line.replace("\n", " ") + "\n"),
            stdout=self._out,
        )
        await adapter.start()
        return self._out.getvalue()[start:]

    def slack(self, name: str, text: str) -> tuple[int, list[dict[str, Any]]]:
        """The HTTP status of the ack, and every body Slack got back (the ack's, then the
        `response_url` posts)."""
        return self.call(self._slack(name, text))

    async def _slack(self, name: str, text: str) -> tuple[int, list[dict[str, Any]]]:
        before = len(self.fake_slack.responses)
        body = slash_body(f"/{name}", text, response_url=self.fake_slack.response_url)
        url = f"http://127.0.0.1:{self.slack_adapter.port}/slack/events"
        async with self.session.post(url, data=body, headers=signed_headers(body)) as response:
            status, raw = response.status, await response.text()
        bodies = [json.loads(raw)] if raw.startswith("{") else []
        deadline = time.monotonic() + 10
        # "working on it" (a loaded machine, a slow answer): the answer follows on its own time
        while (
            bodies and bodies[0].get("text") == WORKING and not self.fake_slack.responses[before:]
        ):
            assert time.monotonic() < deadline, "no follow-up"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.02)  # a follow-up posted right after the ack
        return status, bodies + self.fake_slack.responses[before:]

    def discord(
        self, name: str, options: dict[str, str | bool], *, manage: bool = True
    ) -> list[dict[str, Any]]:
        """The interaction callback's body, then the follow-ups', for ``/name`` with `options`."""
        return self.call(self._discord(name, options, manage))

    async def _discord(
        self, name: str, options: dict[str, str | bool], manage: bool
    ) -> list[dict[str, Any]]:
        permissions = MEMBER_PERMISSIONS | (MANAGE_CHANNELS if manage else 0)
        sent = await self.fake_discord.push_command(name, options, permissions=permissions)
        callback = await self.fake_discord.wait_callback(sent)
        deadline = time.monotonic() + 10
        # a deferred answer (type 5) follows as a webhook post
        while callback.body.get("type") == 5 and not self.fake_discord.followups(sent):
            assert time.monotonic() < deadline, "no follow-up"
            await asyncio.sleep(0.02)
        return [callback.body, *(r.body for r in self.fake_discord.followups(sent))]


def slack_text(bodies: list[dict[str, Any]]) -> str:
    """All text a Slack user sees in `bodies`: fallback text and every text object."""
    parts = []
    for body in bodies:
        parts.append(str(body.get("text", "")))
        for block in body.get("blocks", []):
            for obj in [block.get("text"), *block.get("elements", [])]:
                if isinstance(obj, dict):
                    parts.append(str(obj.get("text", "")))
    return "\n".join(parts)


def discord_text(bodies: list[dict[str, Any]]) -> str:
    """All text a Discord user sees in `bodies` (callback data and follow-ups), unescaped."""
    parts = []
    for body in bodies:
        data = body.get("data", body) if "type" in body else body
        parts.append(str(data.get("content") or ""))
        for embed in data.get("embeds") or []:
            parts += [str(embed.get(k) or "") for k in ("title", "description")]
            parts.append(str((embed.get("footer") or {}).get("text", "")))
    return "\n".join(parts)
