"""Logs: one line per event, JSON when asked, request ids, and never a secret."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.config import LogSettings, Secrets, Settings
from bot.logs import configure_logging, new_request_id, request_id
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body
from tests.test_health import SLACK_TOKEN, running_bot, until_ready

APP_TOKEN = "xapp-1-A0SECRET-abcdef123456"
DISCORD_TOKEN = "discord.secret.token-456"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _configure(fmt: str) -> io.StringIO:
    settings = replace(
        Settings(),
        log=LogSettings(level="DEBUG", format=fmt),
        secrets=Secrets(
            slack_bot_token=SLACK_TOKEN,
            slack_app_token=APP_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            discord_bot_token=DISCORD_TOKEN,
        ),
    )
    stream = io.StringIO()
    configure_logging(settings, stream)
    return stream


def _in_request(fn: object) -> str:
    """Run `fn` in a context of its own with a fresh request id, as a command handler does."""

    def body() -> str:
        rid = new_request_id()
        fn()  # type: ignore[operator]
        return rid

    return contextvars.copy_context().run(body)


def test_json_lines_parse_and_carry_the_request_id(restore_logging: None) -> None:
    stream = _configure("json")
    log = logging.getLogger("newsbrief.test")
    log.info("plain %s", "event")
    rid = _in_request(lambda: log.warning("slack: /%s in %s", "brief", "C1"))
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("it failed")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    plain, command, failure = (json.loads(line) for line in lines)
    assert plain["message"] == "plain event"
    assert plain["level"] == "INFO" and plain["logger"] == "newsbrief.test"
    assert plain["time"].endswith("+00:00") and "request_id" not in plain
    assert command["request_id"] == rid and len(rid) == 8
    assert command["message"] == "slack: /brief in C1"
    assert "ValueError: boom\nsecond line" in failure["exc"]
    assert request_id.get() is None  # the id stayed in the command's context


def test_text_is_one_line_per_event_with_the_request_id(restore_logging: None) -> None:
    stream = _configure("text")
    log = logging.getLogger("newsbrief.test")
    rid = _in_request(lambda: log.info("first\nsecond"))
    try:
        raise RuntimeError("bad")
    except RuntimeError:
        log.exception("failed")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert f"INFO newsbrief.test: [req={rid}] first\\nsecond" in lines[0]
    assert "ERROR newsbrief.test: failed\\nTraceback" in lines[1]
    assert "RuntimeError: bad" in lines[1]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_messages_arguments_and_tracebacks(
    restore_logging: None, fmt: str
) -> None:
    stream = _configure(fmt)
    log = logging.getLogger("slack_sdk.web")
    log.info("Authorization: Bearer %s", SLACK_TOKEN)
    log.warning(f"app token {APP_TOKEN} and signing secret {SIGNING_SECRET}")
    log.error("discord said %r", {"token": DISCORD_TOKEN})
    log.info("someone pasted xoxp-1234567890-abcdefghij in a message")
    try:
        raise PermissionError(f"bad token {SLACK_TOKEN}")
    except PermissionError:
        log.exception("login failed")

    text = stream.getvalue()
    for secret in (SLACK_TOKEN, APP_TOKEN, SIGNING_SECRET, DISCORD_TOKEN, "xoxp-1234567890"):
        assert secret not in text
    assert text.count("***") >= 6
    assert len(text.splitlines()) == 5


def test_payload_loggers_stay_at_info_even_at_debug(restore_logging: None) -> None:
    stream = _configure("text")
    logging.getLogger("discord.gateway").debug("WebSocket Event: {whole payload}")
    logging.getLogger("bot.scheduler").debug("our own debug line")
    text = stream.getvalue()
    assert "whole payload" not in text
    assert "our own debug line" in text


def test_long_messages_are_cut(restore_logging: None) -> None:
    stream = _configure("json")
    logging.getLogger("x").info("%s", "a" * 10_000)
    entry = json.loads(stream.getvalue())
    assert len(entry["message"]) < 2100
    assert entry["message"].endswith("more chars)")


async def test_the_running_bot_logs_json_with_request_ids_and_no_secrets(tmp_path: Path) -> None:
    async with (
        FakeSlack() as fake,
        running_bot(tmp_path, fake, NEWSBRIEF_LOG_FORMAT="json") as bot,
    ):
        await until_ready(bot.health_url)
        url = f"http://127.0.0.1:{bot.slack_port}/slack/events"
        async with aiohttp.ClientSession() as session:
            for words in ("bike lanes", "city budget"):
                body = slash_body("/brief", words, response_url=fake.response_url)
                async with session.post(url, data=body, headers=signed_headers(body)) as r:
                    assert r.status == 200
        await asyncio.sleep(0.2)  # let any response_url follow-up log
        await bot.stop()
    assert bot.proc.returncode == 0, bot.err.decode()[-2000:]
    entries = [json.loads(line) for line in bot.err.decode().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    commands = [e for e in entries if e["message"].startswith("/brief in slack:")]
    assert len(commands) == 2
    ids = {e.get("request_id") for e in commands}
    assert len(ids) == 2 and None not in ids  # a fresh id per command
    assert all("request_id" not in e for e in entries if e["message"] == "stopping")
    everything = bot.err.decode() + bot.out.decode()
    assert SLACK_TOKEN not in everything and SIGNING_SECRET not in everything
