"""`python -m bot run` with Slack configured: the whole process, as an operator starts it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_serves_slack_until_sigterm_and_keeps_secrets_out_of_logs(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with FakeSlack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-secret-token-123",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "NEWSBRIEF_SLACK_MODE": "http",
                "NEWSBRIEF_SLACK_PORT": str(port),
                "NEWSBRIEF_SLACK_API_BASE_URL": fake.api_url,
                "NEWSBRIEF_LOG_LEVEL": "DEBUG",
            }
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"), "seeds/",
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            body = slash_body("/brief", "bike lanes", response_url=fake.response_url)
            url = f"http://127.0.0.1:{port}/slack/events"
            answer = None
            async with aiohttp.ClientSession() as session:
                for _ in range(200):  # until the process listens
                    try:
                        async with session.post(url, data=body, headers=signed_headers(body)) as r:
                            answer = (r.status, await r.text())
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
            assert answer is not None, "the bot never listened"
            status, text = answer
            assert status == 200
            for _ in range(50):  # answered in the ack, or right after it through response_url
                if "Riverton" in text + json.dumps(fake.responses):
                    break
                await asyncio.sleep(0.1)
            assert "Riverton" in text + json.dumps(fake.responses)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    logs = err.decode()
    assert "newsbrief running on slack" in logs
    assert "stopping" in logs
    assert "xoxb-secret-token-123" not in logs + out.decode()
    assert SIGNING_SECRET not in logs + out.decode()


async def test_run_serves_slack_and_discord_in_one_process(tmp_path: Path) -> None:
    from tests.discord_fakes import FakeDiscord

    async with FakeSlack() as slack, FakeDiscord() as discord:
        urls = discord.urls()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-secret-token-123",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "NEWSBRIEF_SLACK_MODE": "http",
                "NEWSBRIEF_SLACK_PORT": str(free_port()),
                "NEWSBRIEF_SLACK_API_BASE_URL": slack.api_url,
                "DISCORD_BOT_TOKEN": "discord-secret-token-456",
                "NEWSBRIEF_DISCORD_API_BASE_URL": urls["api_base_url"],
                "NEWSBRIEF_DISCORD_GATEWAY_URL": urls["gateway_url"],
                "NEWSBRIEF_DISCORD_GUILD_IDS": "42",
            }
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--db", str(tmp_path / "bot.db"),
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(discord.identified.wait(), timeout=30)
            for _ in range(100):  # the commands are synced to the configured guild once ready
                if discord.calls("PUT", "/applications/"):
                    break
                await asyncio.sleep(0.1)
            assert any(
                "/guilds/42/commands" in r.path for r in discord.calls("PUT", "/applications/")
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    logs = err.decode()
    assert proc.returncode == 0, logs[-2000:]
    assert "newsbrief running on slack, discord" in logs
    assert "discord-secret-token-456" not in logs + out.decode()
