"""Logging: one line per event, as text or JSON, with request ids and secrets masked.

Example:
    configure_logging(settings)          # [log] level and format
    new_request_id()                     # at the start of a slash command
    log.info("slack: /brief in C1")      # ... [req=3f9a1c2b] slack: /brief in C1
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from bot.config import Settings

# The id of the slash command being handled, if any. A ContextVar, so every task the command
# spawns (asyncio copies the context) logs the same id, and concurrent commands never mix.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "newsbrief_request_id", default=None
)

MASK = "***"
# A message longer than this is cut: a log line is for an event, not for a whole payload.
MAX_MESSAGE = 2000
# Tokens that look like Slack's or Discord's are masked even when they are not ours (a pasted
# one, a typo). A Discord bot token is three base64url parts: the user id, a time, an HMAC.
_TOKEN_SHAPES = re.compile(
    r"\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{8,}"
    r"|\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b"
)
# Third-party loggers that write whole request and gateway payloads at DEBUG.
_PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt", "discord", "aiohttp.client", "httpx", "httpcore")
# Libraries whose own ERROR lines are about a page we already report in our words (trafilatura's
# "parsed tree length: 0", "empty HTML tree"): one line of ours per failure is enough.
_NOISY_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(req)s%(message)s"


def mask_secrets(text: str, values: Iterable[str | None] = ()) -> str:
    """`text` with each of `values` (at least 4 characters) and anything shaped like a chat
    token replaced by ``***``."""
    for value in sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _TOKEN_SHAPES.sub(MASK, text)


def new_request_id() -> str:
    """Start a new request: set (and return) a fresh 8-hex-digit id for this context."""
    # imported when used: with hmac and OpenSSL's hashes it costs ~10 ms of every start, and
    # only chat commands carry a request id
    import secrets

    value = secrets.token_hex(4)
    request_id.set(value)
    return value


class RequestIdFilter(logging.Filter):
    """Copies the current request id onto each record (``request_id``, and ``req`` as text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        record.request_id = rid
        record.req = f"[req={rid}] " if rid else ""
        return True


class RedactingFilter(logging.Filter):
    """Masks the configured secrets, and anything shaped like a Slack token, in every record.

    The message is rendered here (``msg % args``) and replaced by its masked text, and so is
    the traceback, so neither formatter can ever print a secret.
    """

    def __init__(self, values: Iterable[str | None]) -> None:
        super().__init__()
        # longest first, so a secret that contains another is masked whole
        self._values = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        return mask_secrets(text, self._values)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the event
            message = f"{record.msg!r} {record.args!r}"
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + f"… ({len(message) - MAX_MESSAGE} more chars)"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class OneLineFormatter(logging.Formatter):
    """The text format, with newlines escaped so that one event is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # json.dumps escapes newlines, so a traceback stays on the event's line
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Log to standard error (or `stream`) at ``[log] level``, as ``[log] format`` says.

    Replaces any handlers the root logger had, so it may be called more than once.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.log.format == "json" else OneLineFormatter(TEXT_FORMAT)
    )
    # filters on the handler, not on loggers, so records of every library pass through them
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter(_secret_values(settings)))
    level = logging.getLevelName(settings.log.level.upper())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # its per-run INFO lines ("Running job ...") would bury ours every poll
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    for name in _PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def quiet_libraries(level: int = logging.WARNING) -> None:
    """Raise the libraries' log levels to at least `level` (the console, where the terminal is
    the conversation: httpx's INFO request lines must not land between the answers)."""
    for name in (*_PAYLOAD_LOGGERS, "apscheduler"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, level))
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _secret_values(settings: Settings) -> list[str | None]:
    s = settings.secrets
    return [
        s.slack_bot_token,
        s.slack_app_token,
        s.slack_signing_secret,
        s.discord_bot_token,
        s.llm_api_key,
    ]
