"""Health: the real process's /healthz and /readyz, `python -m bot health`, and a 503."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import run_platforms
from bot.config import HealthSettings, Settings, StoreSettings
from bot.delivery import OutgoingPart
from bot.models import ChannelRef, Digest
from bot.store import Store
from tests.slack_fakes import SIGNING_SECRET, FakeSlack
from tests.test_run import ROOT, free_port

SLACK_TOKEN = "xoxb-secret-token-123"
# a feed nothing listens on: its poll fails, which /readyz reports but does not count against
DEAD_FEED = "http://127.0.0.1:9/feed.xml"


@dataclass
class Bot:
    """A `python -m bot run` process serving Slack (HTTP mode) against the fake."""

    proc: asyncio.subprocess.Process
    env: dict[str, str]
    slack_port: int
    health_port: int
    out: bytes = b""
    err: bytes = b""

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    async def stop(self) -> None:
        """SIGTERM, then collect the output; a second call does nothing."""
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        self.out, self.err = await asyncio.wait_for(self.proc.communicate(), timeout=30)


@asynccontextmanager
async def running_bot(tmp_path: Path, fake: FakeSlack, **extra: str) -> AsyncIterator[Bot]:
    """Start the bot; stop it with SIGTERM when the block ends (or earlier, with `stop`)."""
    slack_port, health_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "NEWSBRIEF_SLACK_MODE": "http",
            "NEWSBRIEF_SLACK_PORT": str(slack_port),
            "NEWSBRIEF_SLACK_API_BASE_URL": fake.api_url,
            "NEWSBRIEF_HEALTH_PORT": str(health_port),
            "NEWSBRIEF_STORE_PATH": str(tmp_path / "bot.db"),
            **extra,
        }
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "seeds/",
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    bot = Bot(proc, env, slack_port, health_port)
    try:
        yield bot
    finally:
        await bot.stop()


async def get_json(url: str, *, attempts: int = 200) -> tuple[int, dict[str, Any]]:
    """GET `url`, retrying while nothing listens yet."""
    async with aiohttp.ClientSession() as session:
        for _ in range(attempts):
            try:
                async with session.get(url) as r:
                    return r.status, await r.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


async def until_ready(url: str, timeout: float = 30.0) -> dict[str, Any]:
    """/readyz's body once it answers 200 (start-up ingests the seeds first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await get_json(url + "/readyz")
        if status == 200:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.1)


async def health_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", *args,
        cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_health_endpoints_and_cli_follow_the_process(tmp_path: Path) -> None:
    async with FakeSlack() as fake:
        async with running_bot(
            tmp_path, fake, NEWSBRIEF_FEEDS_URLS=DEAD_FEED, NEWSBRIEF_FETCH_ALLOW_PRIVATE="true"
        ) as bot:
            status, body = await get_json(bot.health_url + "/healthz")
            assert (status, body) == (200, {"status": "ok"})

            ready = await until_ready(bot.health_url)
            assert ready["status"] == "ok"
            checks = ready["checks"]
            assert checks["database"] == {"ok": True}
            assert checks["slack"] == {"ok": True}
            assert checks["scheduler"] == {"ok": True}
            for _ in range(100):  # the first poll runs right after start-up
                feed = ready["feeds"][DEAD_FEED]
                if feed["last_polled"]:
                    break
                await asyncio.sleep(0.1)
                _, ready = await get_json(bot.health_url + "/readyz")
            assert feed["last_polled"] and feed["error_count"] == 1 and feed["last_error"]
            assert ready["status"] == "ok"  # a dead feed is reported, not a reason to restart

            code, out = await health_cli(bot.env)
            assert code == 0, out
            assert '"database"' in out
            code, out = await health_cli(bot.env, "--live")
            assert code == 0, out
            await bot.stop()

        assert bot.proc.returncode == 0, bot.err.decode()[-2000:]
        logs = bot.err.decode()
        assert f"health: serving on 127.0.0.1:{bot.health_port}" in logs
        assert "stopping" in logs and "stopped" in logs
        code, out = await health_cli(bot.env)
        assert code == 1
        assert "unhealthy" in out


@dataclass
class FakeAdapter:
    """A platform as run_platforms sees it, whose connection state the test sets."""

    name: str = "fake"
    ready: bool = False
    started: bool = False
    closed: bool = False

    async def start(self) -> None:
        self.started = True

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        return [{}]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        return "1"

    async def post_notice(self, channel: ChannelRef, text: str) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


async def test_readyz_is_503_until_the_platform_is_connected(tmp_path: Path) -> None:
    port = free_port()
    settings = replace(
        Settings(),
        store=StoreSettings(str(tmp_path / "bot.db")),
        health=HealthSettings(port=port),
    )
    adapter = FakeAdapter()
    stop = asyncio.Event()
    with Store.open(settings.store.path) as store:
        task = asyncio.create_task(
            run_platforms(settings, store, [], stop=stop, adapters=[adapter])
        )
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            for _ in range(100):
                status, body = await get_json(url)
                if body["checks"]["scheduler"]["ok"]:
                    break
                await asyncio.sleep(0.05)
            assert status == 503
            assert body["status"] == "unavailable"
            assert body["checks"]["fake"] == {"ok": False}
            assert body["checks"]["database"] == {"ok": True}

            adapter.ready = True
            status, body = await get_json(url)
            assert status == 200 and body["status"] == "ok"
        finally:
            stop.set()
            assert await asyncio.wait_for(task, 10) == 0
    assert adapter.closed
    # the health server went with the bot
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz"):
                raise AssertionError("still listening")
        except aiohttp.ClientConnectionError:
            pass


async def test_a_taken_health_port_does_not_stop_the_bot(tmp_path: Path) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    settings = replace(
        Settings(),
        store=StoreSettings(str(tmp_path / "bot.db")),
        health=HealthSettings(port=port),
    )
    stop = asyncio.Event()
    adapter = FakeAdapter(ready=True)
    try:
        with Store.open(settings.store.path) as store:
            task = asyncio.create_task(
                run_platforms(settings, store, [], stop=stop, adapters=[adapter])
            )
            for _ in range(100):
                if adapter.started:
                    break
                await asyncio.sleep(0.02)
            assert adapter.started
            stop.set()
            assert await asyncio.wait_for(task, 10) == 0
    finally:
        blocker.close()
        await blocker.wait_closed()
