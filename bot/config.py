"""Settings: defaults, then a TOML file, then `NEWSBRIEF_*` environment variables, then flags.

Secrets (chat tokens) come from the environment only, never from the file.

Example:
    settings = load_settings(Path("config.toml"), os.environ)
    settings.fetch.timeout  # 15.0 unless the file or NEWSBRIEF_FETCH_TIMEOUT says otherwise
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

ENV_PREFIX = "NEWSBRIEF_"
# Environment variables that are read but are not `section.key` overrides.
ENV_CONFIG_PATH = "NEWSBRIEF_CONFIG"
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_BOT_TOKEN")
# The model server's key: named like an `[llm]` key, but a secret, so never read from the file.
LLM_KEY_ENV = "NEWSBRIEF_LLM_API_KEY"
LLM_FEATURES = ("briefings", "stories", "ask")
STORE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    """Whether `url` names a PostgreSQL database (else SQLite: a ``sqlite:///`` URL or none)."""
    return url.lower().startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """`url` with its password masked, fit for a log line or an error message.

    Example:
        redact_url("postgresql://bot:s3cret@db/newsbrief")  # "postgresql://bot:***@db/newsbrief"
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    # the last "@" ends the user part: an unencoded password may hold "@" itself (masking
    # too much beats showing a piece of it)
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        rest = rest[:at].split(":", 1)[0] + ":***" + rest[at:]
    rest = re.sub(r"([?&]password=)[^&#]*", r"\1***", rest, flags=re.IGNORECASE)
    return f"{scheme}{sep}{rest}"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    path: str = "data/newsbrief.db"
    url: str = ""
    """The database as a URL: ``sqlite:///path/to/file.db`` or ``postgresql://user@host/db``
    (several replicas share one PostgreSQL database); empty: the SQLite file at `path`. Its
    password is never shown: see `redact_url`."""

    def __repr__(self) -> str:
        return f"StoreSettings(path={self.path!r}, url={redact_url(self.url)!r})"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "newsbrief/0.1 (+https://github.com/newsbrief/newsbrief)"


@dataclass(frozen=True, slots=True)
class FeedSettings:
    urls: tuple[str, ...] = ()
    poll_interval: int = 900
    names: tuple[str, ...] = ()
    """The operator's outlet names, ``"KEY = Name"`` with KEY a feed or page URL or a host
    (see `bot.ingest.outlets.OutletNames`)."""


@dataclass(frozen=True, slots=True)
class DigestSettings:
    max_stories: int = 10
    timezone: str = "UTC"
    missed_grace: int = 3600
    retry_delays: tuple[int, ...] = (30, 120, 600)
    """Seconds from a digest's first failure to its 1st retry, then from each retry to the next;
    the last one repeats."""
    post_empty: bool = False
    """Post a short "nothing new" line when a digest has no new stories; by default nothing is
    posted (and ``/digest now`` says so to the user)."""
    claim_lease: int = 60
    """Seconds a sending process holds a digest claim without renewing it (every quarter of
    it); after that another process, or the next start, takes the claim over."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    after_failures: int = 3
    """Consecutive failures of a feed or of a channel's digest before people are told."""
    channel: str = ""
    """``platform:channel`` that gets every notice (an operators' channel); empty: the channel
    concerned."""


@dataclass(frozen=True, slots=True)
class SlackSettings:
    mode: str = "socket"
    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    api_base_url: str = "https://slack.com/api/"
    command_prefix: str = ""


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    guild_ids: tuple[str, ...] = ()
    api_base_url: str = ""
    gateway_url: str = ""
    shard_count: int = 0
    shard_ids: tuple[int, ...] = ()
    """The shards of `shard_count` this process connects (each replica its own); empty: all."""
    manage_permission: str = "manage_channels"


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """Several `run` processes sharing one PostgreSQL database (`[store] url`); with SQLite the
    one process always leads and these are unused."""

    lease_check: float = 3.0
    """Seconds between a follower's tries to become the leader (the one replica that runs the
    digest schedule), and between the leader's checks of its database connection."""
    schedule_refresh: float = 30.0
    """Seconds between the leader's reads of every channel's schedule, so a ``/digest`` change
    made on another replica is followed."""


@dataclass(frozen=True, slots=True)
class HealthSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class RunSettings:
    shutdown_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """An optional OpenAI-compatible model for briefings and answers (`bot.summarize.llm`).

    Off by default: nothing is sent anywhere and briefings stay extractive. The key comes
    from ``NEWSBRIEF_LLM_API_KEY`` only.
    """

    enabled: bool = False
    base_url: str = ""
    """The Chat Completions API's base, e.g. ``https://api.openai.com/v1`` or an Ollama,
    vLLM or llama.cpp server's ``http://127.0.0.1:11434/v1``."""
    model: str = ""
    timeout: float = 20.0
    """Seconds one request may take, retries included."""
    max_concurrency: int = 4
    max_output_tokens: int = 600
    daily_token_budget: int = 2_000_000
    """Tokens (prompt and reply) a UTC day may spend; 0: no limit."""
    features: tuple[str, ...] = LLM_FEATURES
    allow_private: bool = False
    """Allow `base_url` to be on a private or loopback address (the operator's own server);
    every other address rule of `[fetch]` still applies."""
    digest_deadline: float = 20.0
    """Seconds a digest waits for the model at most; what is not written by then is extractive."""
    max_retries: int = 3


@dataclass(frozen=True, slots=True)
class Secrets:
    """Tokens from the environment. `repr` masks them so they never reach a log."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    discord_bot_token: str | None = field(default=None, repr=False)
    llm_api_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if getattr(self, f.name) else None}" for f in dataclasses.fields(self)
        )
        return f"Secrets({shown})"


@dataclass(frozen=True, slots=True)
class Settings:
    store: StoreSettings = StoreSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: FeedSettings = FeedSettings()
    digest: DigestSettings = DigestSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    replicas: ReplicaSettings = ReplicaSettings()
    health: HealthSettings = HealthSettings()
    run: RunSettings = RunSettings()
    alerts: AlertSettings = AlertSettings()
    log: LogSettings = LogSettings()
    llm: LlmSettings = LlmSettings()
    secrets: Secrets = Secrets()
    source: str = "defaults"


_SECTIONS: dict[str, type[Any]] = {
    "store": StoreSettings,
    "fetch": FetchSettings,
    "feeds": FeedSettings,
    "digest": DigestSettings,
    "slack": SlackSettings,
    "discord": DiscordSettings,
    "replicas": ReplicaSettings,
    "health": HealthSettings,
    "run": RunSettings,
    "alerts": AlertSettings,
    "log": LogSettings,
    "llm": LlmSettings,
}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_settings(
    path: Path | None, env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from defaults, the TOML file at `path`, `env`, then `overrides`.

    Args:
        path: a TOML file, or None for defaults and environment only.
        env: the environment (pass `os.environ`; tests pass a dict).
        overrides: ``{"section.key": value}`` from command-line flags.

    Raises:
        ConfigError: naming every unknown key and bad value, and where it came from.
    """
    problems: list[tuple[str, str]] = []
    values: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    where = "defaults"

    if path is not None:
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([(str(path), "config file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([(str(path), f"cannot read config file: {exc}")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([(str(path), f"not valid TOML: {exc}")]) from None
        for section, table in data.items():
            if section not in _SECTIONS:
                problems.append((section, f"unknown section in {path}"))
                continue
            if not isinstance(table, dict):
                problems.append((section, f"must be a [table] in {path}"))
                continue
            for key, raw in table.items():
                _put(values, section, key, raw, f"in {path}", problems)

    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in (ENV_CONFIG_PATH, LLM_KEY_ENV):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in _SECTIONS or not key:
            problems.append((name, "unknown NEWSBRIEF_ environment variable"))
            continue
        _put(values, section, key, raw, f"from environment variable {name}", problems, text=True)

    for dotted, raw in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        _put(values, section, key, raw, "from the command line", problems)

    # the values that parsed are still checked, so one run names every bad key
    sections = {name: cls(**values[name]) for name, cls in _SECTIONS.items()}
    settings = Settings(**sections, secrets=_secrets(env), source=where)
    _validate(settings, problems)
    if problems:
        raise ConfigError(problems)
    return settings


def _secrets(env: Mapping[str, str]) -> Secrets:
    tokens = {name.lower(): env.get(name) or None for name in SECRET_ENV}
    return Secrets(**tokens, llm_api_key=env.get(LLM_KEY_ENV) or None)


def _put(
    values: dict[str, dict[str, Any]],
    section: str,
    key: str,
    raw: Any,
    where: str,
    problems: list[tuple[str, str]],
    *,
    text: bool = False,
) -> None:
    dotted = f"{section}.{key}"
    cls = _SECTIONS.get(section)
    hints = typing.get_type_hints(cls) if cls else {}
    if key not in hints:
        hint = ""
        if section == "slack" and ("token" in key or "secret" in key):
            hint = "; Slack tokens come from the environment (SLACK_BOT_TOKEN, SLACK_APP_TOKEN, "
            hint += "SLACK_SIGNING_SECRET)"
        if section == "discord" and "token" in key:
            hint = "; the Discord token comes from the environment (DISCORD_BOT_TOKEN)"
        if section == "llm" and "key" in key:
            hint = f"; the model's API key comes from the environment ({LLM_KEY_ENV})"
        problems.append((dotted, f"unknown key {where}{hint}"))
        return
    try:
        values[section][key] = _coerce(raw, hints[key], text=text)
    except ValueError as exc:
        problems.append((dotted, f"{exc} {where}"))


def _coerce(raw: Any, kind: Any, *, text: bool) -> Any:
    """Check (file) or parse (environment text) one value against its annotated type."""
    if typing.get_origin(kind) is tuple:
        items: Any = raw
        if text and isinstance(raw, str):
            items = [part.strip() for part in raw.split(",") if part.strip()]
        if typing.get_args(kind)[0] is int:
            if isinstance(items, list):
                try:
                    return tuple(_coerce(item, int, text=text) for item in items)
                except ValueError:
                    pass
            raise ValueError(f"must be a list of whole numbers, not {raw!r}")
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return tuple(items)
        raise ValueError(f"must be a list of strings, not {raw!r}")
    if isinstance(kind, types.UnionType):
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if kind is bool:
        if text and isinstance(raw, str):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
        if isinstance(raw, bool):
            return raw
        raise ValueError(f"must be true or false, not {raw!r}")
    if kind is int:
        if text and isinstance(raw, str):
            try:
                return int(raw.strip().replace("_", ""))
            except ValueError:
                pass
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        raise ValueError(f"must be a whole number, not {raw!r}")
    if kind is float:
        if text and isinstance(raw, str):
            try:
                return float(raw.strip())
            except ValueError:
                pass
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        raise ValueError(f"must be a number, not {raw!r}")
    if isinstance(raw, str):
        return raw
    raise ValueError(f"must be a string, not {raw!r}")


def _validate(settings: Settings, problems: list[tuple[str, str]]) -> None:
    if settings.fetch.timeout <= 0:
        problems.append(("fetch.timeout", "must be more than 0 seconds"))
    if settings.fetch.max_bytes < 1024:
        problems.append(("fetch.max_bytes", "must be at least 1024"))
    if not 0 <= settings.fetch.max_redirects <= 20:
        problems.append(("fetch.max_redirects", "must be between 0 and 20"))
    if settings.feeds.poll_interval < 60:
        problems.append(("feeds.poll_interval", "must be at least 60 seconds"))
    for url in settings.feeds.urls:
        if not url.lower().startswith(("http://", "https://")):
            problems.append(("feeds.urls", f"{url!r} is not an http(s) URL"))
    for entry in settings.feeds.names:
        key, sep, name = entry.rpartition("=")
        if not sep or not key.strip() or not name.strip():
            problems.append(
                ("feeds.names", f'{entry!r} is not "KEY = Name" (KEY a feed URL or a host)')
            )
    if settings.digest.missed_grace < 0:
        problems.append(("digest.missed_grace", "must be 0 or more seconds"))
    if not 1 <= settings.digest.max_stories <= 100:
        problems.append(("digest.max_stories", "must be between 1 and 100"))
    delays = settings.digest.retry_delays
    if not delays or not all(1 <= d <= 86_400 for d in delays):
        problems.append(("digest.retry_delays", "one or more delays of 1 to 86400 seconds"))
    if not 10 <= settings.digest.claim_lease <= 3600:
        problems.append(("digest.claim_lease", "must be between 10 and 3600 seconds"))
    if settings.alerts.after_failures < 1:
        problems.append(("alerts.after_failures", "must be 1 or more"))
    target = settings.alerts.channel
    if target and not re.fullmatch(r"[a-z]+:[^\s:]+", target):
        problems.append(("alerts.channel", 'a "platform:channel" like "slack:C0123", or empty'))
    if not settings.store.path:
        problems.append(("store.path", "must not be empty"))
    url = settings.store.url
    if url and not url.lower().startswith(STORE_SCHEMES):
        problems.append(
            (
                "store.url",
                f"{redact_url(url)!r} is not sqlite:///path.db, postgresql://... or postgres://...",
            )
        )
    elif url.lower().startswith("sqlite:///") and not url[len("sqlite:///") :]:
        problems.append(("store.url", "sqlite:/// needs a file path, e.g. sqlite:///data/news.db"))
    if not 0.5 <= settings.replicas.lease_check <= 10:
        problems.append(("replicas.lease_check", "must be between 0.5 and 10 seconds"))
    if not 1 <= settings.replicas.schedule_refresh <= 3600:
        problems.append(("replicas.schedule_refresh", "must be between 1 and 3600 seconds"))
    if settings.slack.mode not in ("socket", "http"):
        problems.append(("slack.mode", 'must be "socket" or "http"'))
    if not 0 < settings.slack.port < 65536:
        problems.append(("slack.port", "must be a TCP port (1-65535)"))
    if not settings.slack.path.startswith("/"):
        problems.append(("slack.path", 'must start with "/"'))
    if not settings.slack.api_base_url.startswith(("http://", "https://")):
        problems.append(("slack.api_base_url", "must be an http(s) URL"))
    if not re.fullmatch(r"[a-z0-9_-]{0,20}", settings.slack.command_prefix):
        problems.append(("slack.command_prefix", "lower-case letters, digits, - or _ (at most 20)"))
    discord = settings.discord
    for gid in discord.guild_ids:
        if not gid.isdigit():
            problems.append(("discord.guild_ids", f"{gid!r} is not a guild id (digits)"))
    for key in ("api_base_url", "gateway_url"):
        value = getattr(discord, key)
        if value and not value.startswith(("http://", "https://", "ws://", "wss://")):
            problems.append((f"discord.{key}", "must be an http(s) or ws(s) URL, or empty"))
    if discord.shard_count < 0:
        problems.append(("discord.shard_count", "must be 0 (one connection) or more"))
    if discord.shard_ids:
        if discord.shard_count <= 0:
            problems.append(("discord.shard_ids", "needs discord.shard_count (more than 0)"))
        elif not all(0 <= i < discord.shard_count for i in discord.shard_ids):
            top = discord.shard_count - 1
            problems.append(("discord.shard_ids", f"each from 0 to {top} (shard_count - 1)"))
        if len(set(discord.shard_ids)) != len(discord.shard_ids):
            problems.append(("discord.shard_ids", "each shard at most once"))
    if not re.fullmatch(r"[a-z_]+", discord.manage_permission):
        problems.append(("discord.manage_permission", "a permission name like manage_channels"))
    secrets = settings.secrets
    if secrets.slack_bot_token:
        if settings.slack.mode == "socket" and not secrets.slack_app_token:
            problems.append(
                (
                    "SLACK_APP_TOKEN",
                    "Socket Mode needs an app-level token (xapp-...); or set "
                    'slack.mode = "http" with SLACK_SIGNING_SECRET',
                )
            )
        if settings.slack.mode == "http" and not secrets.slack_signing_secret:
            problems.append(
                (
                    "SLACK_SIGNING_SECRET",
                    "HTTP mode needs the app's signing secret to check requests",
                )
            )
    if not 0 < settings.health.port < 65536:
        problems.append(("health.port", "must be a TCP port (1-65535)"))
    if not 0 < settings.run.shutdown_timeout <= 300:
        problems.append(("run.shutdown_timeout", "must be between 0 and 300 seconds"))
    if settings.log.format not in ("text", "json"):
        problems.append(("log.format", 'must be "text" or "json"'))
    if settings.log.level.upper() not in _LOG_LEVELS:
        problems.append(("log.level", f"must be one of {', '.join(_LOG_LEVELS)}"))
    _validate_llm(settings.llm, problems)
    try:
        ZoneInfo(settings.digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            ("digest.timezone", f"unknown time zone {settings.digest.timezone!r} (try Europe/Kyiv)")
        )


def _validate_llm(llm: LlmSettings, problems: list[tuple[str, str]]) -> None:
    if llm.enabled and not llm.base_url:
        problems.append(("llm.base_url", "the model server's URL is needed when llm.enabled"))
    if llm.base_url and not llm.base_url.lower().startswith(("http://", "https://")):
        problems.append(("llm.base_url", "must be an http(s) URL like https://api.openai.com/v1"))
    if "@" in llm.base_url.partition("://")[2].partition("/")[0]:
        problems.append(("llm.base_url", f"no user name or password in the URL; use {LLM_KEY_ENV}"))
    if llm.enabled and not llm.model:
        problems.append(("llm.model", "the model's name is needed when llm.enabled"))
    if llm.timeout <= 0:
        problems.append(("llm.timeout", "must be more than 0 seconds"))
    if not 1 <= llm.max_concurrency <= 64:
        problems.append(("llm.max_concurrency", "must be between 1 and 64"))
    if not 64 <= llm.max_output_tokens <= 32_000:
        problems.append(("llm.max_output_tokens", "must be between 64 and 32000"))
    if llm.daily_token_budget < 0:
        problems.append(("llm.daily_token_budget", "must be 0 (no limit) or more"))
    for feature in llm.features:
        if feature not in LLM_FEATURES:
            known = ", ".join(LLM_FEATURES)
            problems.append(("llm.features", f"{feature!r} is not one of {known}"))
    if llm.digest_deadline <= 0:
        problems.append(("llm.digest_deadline", "must be more than 0 seconds"))
    if not 0 <= llm.max_retries <= 10:
        problems.append(("llm.max_retries", "must be between 0 and 10"))


def describe_settings(settings: Settings) -> str:
    """The effective settings as TOML, secrets masked, and what `run` would serve."""
    lines = [f"# effective configuration (from {settings.source} and the environment)"]
    for name in _SECTIONS:
        lines.append(f"\n[{name}]")
        section = getattr(settings, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if name == "store" and f.name == "url":
                value = redact_url(value)  # a password in the URL never reaches the screen
            lines.append(f"{f.name} = {_toml(value)}")
    lines.append("\n# secrets (environment only)")
    for env_name in SECRET_ENV:
        value = getattr(settings.secrets, env_name.lower())
        lines.append(f"# {env_name}: {'set (***)' if value else 'not set'}")
    key_set = "set (***)" if settings.secrets.llm_api_key else "not set"
    lines.append(f"# {LLM_KEY_ENV}: {key_set}")
    platforms = [
        name
        for name, token in (
            ("slack", settings.secrets.slack_bot_token),
            ("discord", settings.secrets.discord_bot_token),
        )
        if token
    ]
    lines.append(f"# `run` serves: {', '.join(platforms) or 'the console (no chat tokens set)'}")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
