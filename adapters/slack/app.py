"""The Slack adapter: a slack_bolt `AsyncApp` serving slash commands and posting digests.

Socket Mode (the default: an ``xapp-`` token, no public URL) or HTTP mode (``[slack] mode =
"http"``: Slack posts signed requests to ``host:port`` + ``path``; a request whose timestamp,
signature or body is malformed is refused 400/401 before bolt sees it). A slash command becomes
a `CommandRequest` for the core's dispatcher (`bot.commands`), which also decides how fast to
answer and who sees it; this module only translates. Slash commands carry no per-channel
permission in Slack, so every user who can run a command may manage the channel
(``can_manage=True``); restrict who may use the commands in the app's settings if needed.
Tokens are checked at start: one Slack refuses stops the Slack side (`PlatformError`).

Example:
    adapter = SlackAdapter(engine)
    await adapter.start()        # returns once connected (Socket Mode) or listening (HTTP)
    ...                          # keep the event loop alive; the scheduler posts digests
    await adapter.close()
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, TypedDict, cast

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.render import SlackMessage, escape_mrkdwn, to_slack_messages, to_slack_reply
from bot.commands import SPECS, Reply, request, respond_in_time
from bot.delivery import OutgoingPart
from bot.engine import Engine
from bot.errors import ConfigError, DeliveryError, PlatformError
from bot.models import ChannelRef, Digest

log = logging.getLogger(__name__)
_WEBHOOK_LOG = logging.getLogger(__name__ + ".webhook")  # slack_sdk's, for response_url posts

# Slack wants an ack within 3 s. A command that has its answer within this budget answers in
# the ack; a slower one (or one queued behind others) acks "working on it" and answers through
# respond(). A kept answer (a /brief or /ask asked again) is ready in a few ms, a fresh /ask in
# about 15: waiting longer for the rest only delays every ack queued behind them (50 ms gave a
# p99 3x a bare bolt app's in a burst of 50 commands, 20 ms 2x: benches/slack_ack.py).
ACK_BUDGET = 0.02
WORKING = "Working on it…"
# Errors after which posting to a channel can never succeed without a human acting.
PERMANENT_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "not_authed",
        "restricted_action",
        "missing_scope",
        "team_access_not_granted",
    }
)
# Errors after which Slack may have kept the message all the same ("It's possible some aspect
# of the operation succeeded before the error was raised").
AMBIGUOUS_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable"})
# Errors that stop us looking a message up: without the history scopes a part whose fate is
# unknown is posted again (at most a repeat), rather than never.
UNCHECKABLE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 2
# Posts again, at once, of a part that failed ambiguously and was then found not to be there
# (a blip); after that the core's backoff takes over.
AMBIGUOUS_RETRIES = 1
# Digest parts carry this metadata event type, with the run and the part, to be found again.
EVENT_TYPE = "newsbrief_digest_part"
# Looking a part up: messages since the run was claimed (less this much for clocks that
# differ), at most this many pages of this many messages.
CLOCK_SKEW = 120.0
LOOKUP_PAGES = 5
LOOKUP_LIMIT = 100
# Seconds before looking for a part whose send failed ambiguously (a message Slack has just
# taken may need a moment to show in the history).
RECONCILE_DELAY = 1.0
# Errors that mean a token is wrong for good: the Slack side stops instead of retrying.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "not_authed", "account_inactive", "token_expired"}
)
# HTTP mode: a signed request's body is a small form; a timestamp is seconds, in digits.
MAX_BODY = 64 * 1024
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class SlashCommand(TypedDict, total=False):
    """The fields of a slash-command payload this adapter reads."""

    command: str
    text: str
    channel_id: str
    user_id: str
    team_id: str
    response_url: str


def command_names(prefix: str) -> dict[str, str]:
    """User-visible command (``/news-brief`` with prefix ``news-``) -> core command name."""
    return {f"/{prefix}{spec.name}": spec.name for spec in SPECS}


def _unescape(text: str) -> str:
    # Slack sends command text with &, < and > escaped; the core wants what the user typed
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _pinned(logger: logging.Logger) -> logging.Logger:
    """`logger` with its level set to the one it inherits now. bolt and slack_sdk test
    ``logger.level <= DEBUG`` before building a debug message, and a logger's own level is
    NOTSET (0) unless set: every request formatted messages (a body, its headers) that logging
    then dropped."""
    logger.setLevel(logging.NOTSET)  # what it inherits, not what an earlier adapter pinned
    logger.setLevel(logger.getEffectiveLevel())
    return logger


class _QuietClientToken(logging.Filter):
    """Drops bolt's "As you gave `client` as well, `token` will be unused": bolt reads
    SLACK_BOT_TOKEN from the environment by itself, though the client we give it has it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in str(record.msg)


class _SlackResponder:
    """Answers one slash command: in the ack, or "working on it" and then through the
    command's ``response_url``, on the adapter's one HTTP session when there is one (bolt's
    `respond()` opens and closes a session, and its connector, for every message)."""

    def __init__(
        self, ack: AsyncAck, respond: AsyncRespond, session: aiohttp.ClientSession | None
    ) -> None:
        self._ack = ack
        self._respond = respond
        self._session = session

    async def answer(self, reply: Reply, *, private: bool) -> None:
        first, *rest = to_slack_reply(reply, reply.zone)
        await self._ack(response_type=_visibility(private), **first)
        await self._send(rest, private)

    async def defer(self, *, private: bool) -> None:
        # the ack is always private: Slack lets the later response choose for itself
        await self._ack(text=WORKING, response_type="ephemeral")

    async def follow_up(self, reply: Reply, *, private: bool) -> None:
        await self._send(to_slack_reply(reply, reply.zone), private)

    async def _send(self, messages: list[SlackMessage], private: bool) -> None:
        url = self._respond.response_url
        for message in messages:
            try:
                if self._session is None or url is None:
                    await self._respond(response_type=_visibility(private), **message)
                    continue
                body: dict[str, Any] = {"text": message["text"]}
                if message["blocks"]:
                    body["blocks"] = message["blocks"]
                body["response_type"] = _visibility(private)
                sent = await AsyncWebhookClient(
                    url, session=self._session, logger=_WEBHOOK_LOG
                ).send_dict(body)
                if sent.status_code != 200:
                    log.warning("slack: response_url post refused: HTTP %s", sent.status_code)
                    return
            except Exception as exc:  # the response_url expired or refused: nothing to retry
                log.warning("slack: response_url post failed: %s", type(exc).__name__)
                return


def _visibility(private: bool) -> str:
    return "ephemeral" if private else "in_channel"


class SlackAdapter:
    """Serves the core's commands as Slack slash commands and posts scheduled digests."""

    name = "slack"

    def __init__(
        self,
        engine: Engine,
        *,
        client: AsyncWebClient | None = None,
        ack_budget: float = ACK_BUDGET,
        reconcile_delay: float = RECONCILE_DELAY,
    ) -> None:
        """Build the bolt app; nothing connects until `start`.

        Args:
            engine: the core's store, settings and scheduler.
            client: a Web API client to use instead of one built from the settings.
            ack_budget: seconds a command may take before the ack says "working on it".
            reconcile_delay: seconds to wait before looking for a part whose send failed
                ambiguously.

        Raises:
            ConfigError: a token or secret the configured mode needs is missing.
        """
        settings = engine.settings
        secrets = settings.secrets
        self.engine = engine
        self.settings = settings.slack
        self._ack_budget = ack_budget
        problems: list[tuple[str, str]] = []
        if client is None and not secrets.slack_bot_token:
            problems.append(("SLACK_BOT_TOKEN", "the bot token (xoxb-...) is required for Slack"))
        if self.settings.mode == "socket" and not secrets.slack_app_token:
            problems.append(
                ("SLACK_APP_TOKEN", 'an app token (xapp-...) is needed in "socket" mode')
            )
        if self.settings.mode == "http" and not secrets.slack_signing_secret:
            problems.append(("SLACK_SIGNING_SECRET", 'the signing secret is needed in "http" mode'))
        if problems:
            raise ConfigError(problems)
        self.client = client or AsyncWebClient(
            token=secrets.slack_bot_token,
            base_url=self.settings.api_base_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                # sleeps Retry-After (plus jitter) on 429, then sends the same request again
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
            ],
        )
        # Posts get a client of their own that retries only a 429 (a message Slack refused):
        # after a dropped connection or a 5xx the message may have landed, and a blind resend
        # would post it twice. `send_part` looks it up instead.
        self._poster = AsyncWebClient(
            token=self.client.token,
            base_url=self.client.base_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
        )
        self._reconcile_delay = reconcile_delay
        _pinned(_WEBHOOK_LOG)
        bolt_log = _pinned(logging.getLogger(__name__ + ".bolt"))
        if not any(isinstance(f, _QuietClientToken) for f in bolt_log.filters):
            bolt_log.addFilter(_QuietClientToken())
        self.app = AsyncApp(
            client=self.client,
            # an explicit value, so bolt never falls back to reading the environment itself
            signing_secret=secrets.slack_signing_secret or "",
            request_verification_enabled=self.settings.mode == "http",
            logger=bolt_log,
        )
        self._verifier = SignatureVerifier(secrets.slack_signing_secret or "")
        self._names = command_names(self.settings.command_prefix)
        # one listener for every command: bolt tries its listeners in turn, each try building
        # the matcher's arguments, so /ask, the second command, cost two tries
        every = "|".join(re.escape(visible) for visible in self._names)
        self.app.command(re.compile(f"^(?:{every})$"))(self._on_command)
        self._app_token = secrets.slack_app_token
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        # follow-ups to response URLs: one session for the process, opened at start
        self._session: aiohttp.ClientSession | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Check the tokens, then connect (Socket Mode) or start listening (HTTP mode); return
        once serving.

        Raises:
            PlatformError: Slack refused a token, or could not be reached.
        """
        await self._check_tokens()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if self.settings.mode == "http":
            http = web.Application()
            http.router.add_post(self.settings.path, self._on_http)
            runner = web.AppRunner(http, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            await site.start()
            self._runner = runner
            # the bound port, which differs from the setting when that is 0 (tests)
            self.port = int(runner.addresses[0][1])
            log.info(
                "slack: serving HTTP on %s:%s%s", self.settings.host, self.port, self.settings.path
            )
            return
        assert self._app_token is not None  # checked in __init__
        self._socket = AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        log.info("slack: connected in Socket Mode")

    async def _check_tokens(self) -> None:
        """Ask Slack once whether it takes the bot token (and, for Socket Mode, the app token):
        a refused token would otherwise be retried every few seconds for ever."""
        calls: list[tuple[str, Any]] = [("SLACK_BOT_TOKEN", self.client.auth_test)]
        if self.settings.mode == "socket" and self._app_token:
            token = self._app_token
            calls.append(
                ("SLACK_APP_TOKEN", lambda: self.client.apps_connections_open(app_token=token))
            )
        for name, call in calls:
            try:
                await call()
            except SlackApiError as exc:
                error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
                if error in AUTH_ERRORS:
                    raise PlatformError("slack", f"Slack refused {name} ({error})") from None
                log.warning("slack: checking %s: %s", name, error)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise PlatformError(
                    "slack",
                    f"cannot reach Slack at {self.client.base_url} ({type(exc).__name__})",
                ) from None

    async def _on_http(self, http: web.Request) -> web.Response:
        """One HTTP-mode request: refused quietly unless its timestamp, signature and body are
        well formed, then handed to bolt (which checks the signature again, as it always does)."""
        raw = await http.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return web.Response(status=413, text="request too large")
        try:
            body = raw.decode("utf-8")  # Slack sends UTF-8; the verifier would decode it anyway
        except UnicodeDecodeError:
            return web.Response(status=400, text="bad request")
        timestamp = http.headers.get("X-Slack-Request-Timestamp", "")
        signature = http.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP.match(timestamp) or not self._verifier.is_valid(
            body, timestamp, signature
        ):
            return web.Response(status=401, text="invalid request")
        bolt = AsyncBoltRequest(
            body=body,
            query=http.query_string,
            headers=dict(http.headers),
        )
        return await to_aiohttp_response(await self.app.async_dispatch(bolt))

    @property
    def ready(self) -> bool:
        """Whether Slack can reach us: listening (HTTP) or the WebSocket open (Socket Mode)."""
        if self._socket is not None:
            session = getattr(self._socket.client, "current_session", None)
            return session is not None and not session.closed
        return self._runner is not None

    async def close(self) -> None:
        """Disconnect or stop listening."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- slash commands -------------------------------------------------------------------

    async def _on_command(
        self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]
    ) -> None:
        payload = cast(SlashCommand, command)
        name = self._names.get(payload.get("command", ""), "help")
        channel = ChannelRef("slack", payload.get("channel_id", ""))
        wanted = request(channel, name, _unescape(payload.get("text", "")), can_manage=True)
        await respond_in_time(
            self.engine.commands.dispatch,
            wanted,
            _SlackResponder(ack, respond, self._session),
            budget=self._ack_budget,
        )

    # ---- digests --------------------------------------------------------------------------

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        """A digest as its messages: the first in the channel, the rest in its thread."""
        zone = self.engine.digests.view(channel).zone
        return [dict(message) for message in to_slack_messages(digest, zone)]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        """Post one part of a digest run with ``chat.postMessage``; returns its ``ts``.

        Parts after the first go in the first one's thread. Each carries message metadata
        naming its run and part, since Slack has no idempotency key: when a send may have
        landed (an earlier attempt's outcome is unknown, or this one timed out, lost its
        connection or got a 5xx after the request went out), the part is looked for in the
        channel (or the thread) before anything is posted again. 429s are waited out by the
        client; nothing else is retried blindly.

        Raises:
            DeliveryError: Slack refused the message (`landed` False; `permanent` when the bot
                cannot post in the channel any more), or nobody can tell yet whether it
                landed (`landed` None: the core retries later, looking first).
        """
        if part.unsure:
            found = await self._find_part(channel.channel, part)
            if found is not None:
                log.info("slack: part %d of %s had landed as %s", part.index + 1, part.key, found)
                return found
        thread_ts = part.previous[0] if part.index and part.previous else None
        message = cast(SlackMessage, dict(part.payload))
        failure: DeliveryError | None = None
        for _ in range(1 + AMBIGUOUS_RETRIES):
            try:
                return await self._post(channel.channel, message, thread_ts, _metadata(part))
            except DeliveryError as exc:
                if exc.landed is not None:
                    raise
                failure = exc
            # the request went out and nobody knows whether Slack kept it: look before any
            # retry, and post again only when it is not there
            await asyncio.sleep(self._reconcile_delay)
            try:
                found = await self._find_part(channel.channel, part)
            except DeliveryError:
                raise failure from None
            if found is not None:
                log.info(
                    "slack: part %d of %s landed despite %s",
                    part.index + 1,
                    part.key,
                    failure.reason,
                )
                return found
        assert failure is not None
        raise DeliveryError(
            "slack", channel.channel, f"{failure.reason} (not posted)", landed=False
        ) from None

    async def post_notice(self, channel: ChannelRef, text: str) -> None:
        """Post a line of plain text (a failing feed or digest) to a channel."""
        message: SlackMessage = {"text": escape_mrkdwn(text), "blocks": []}
        await self._post(channel.channel, message, None, None)

    async def _post(
        self,
        channel_id: str,
        message: SlackMessage,
        thread_ts: str | None,
        metadata: dict[str, Any] | None,
    ) -> str:
        try:
            response = await self._poster.chat_postMessage(
                channel=channel_id,
                text=message["text"],
                blocks=message["blocks"] or None,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status == 429:
                wait = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                raise DeliveryError(
                    "slack", channel_id, "rate limited", landed=False, retry_after=_seconds(wait)
                ) from None
            # a 5xx, or an error Slack says may follow a partial success: it may have landed
            unsure = status >= 500 or error in AMBIGUOUS_ERRORS
            raise DeliveryError(
                "slack",
                channel_id,
                error,
                permanent=error in PERMANENT_ERRORS,
                landed=None if unsure else False,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # no connection was made: nothing was sent
            raise DeliveryError(
                "slack", channel_id, f"network: {type(exc).__name__}", landed=False
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError("slack", channel_id, f"network: {type(exc).__name__}") from None
        return str(response.get("ts", ""))

    async def _find_part(self, channel_id: str, part: OutgoingPart) -> str | None:
        """The ``ts`` of a part already in the channel (the first part) or in its thread,
        found by its metadata; None when it is not there.

        Raises:
            DeliveryError: Slack could not be asked (`landed` None: still unknown).
        """
        oldest = f"{(part.since.timestamp() - CLOCK_SKEW) if part.since else 0:.6f}"
        parent = part.previous[0] if part.index and part.previous else None
        cursor: str | None = None
        try:
            for _ in range(LOOKUP_PAGES):
                if parent is None:
                    response = await self.client.conversations_history(
                        channel=channel_id,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=LOOKUP_LIMIT,
                        cursor=cursor,
                    )
                else:
                    response = await self.client.conversations_replies(
                        channel=channel_id,
                        ts=parent,
                        include_all_metadata=True,
                        limit=LOOKUP_LIMIT,
                        cursor=cursor,
                    )
                for message in response.get("messages") or []:
                    meta = message.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if (
                        meta.get("event_type") == EVENT_TYPE
                        and payload.get("run") == part.key
                        and str(payload.get("part")) == str(part.index)
                    ):
                        return str(message.get("ts", ""))
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return None
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            if error in UNCHECKABLE_ERRORS:
                # better a repeated message than a lost one; the operator can fix the scope
                log.warning(
                    "slack: cannot look for part %d of %s in %s (%s: add the channels:history "
                    "and groups:history scopes); posting it again, which may repeat it",
                    part.index + 1,
                    part.key,
                    channel_id,
                    error,
                )
                return None
            raise DeliveryError(
                "slack", channel_id, f"cannot check whether part {part.index + 1} landed: {error}"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(
                "slack",
                channel_id,
                f"cannot check whether part {part.index + 1} landed: {type(exc).__name__}",
            ) from None
        return None


def _metadata(part: OutgoingPart) -> dict[str, Any]:
    """What finds a part again in the channel: the run's key and the part's number."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"run": part.key, "part": part.index, "parts": part.count},
    }


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
