"""Settings: defaults, file, environment and flags, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(None, {})
    assert settings.store.path == "data/newsbrief.db"
    assert settings.fetch.allow_private is False
    assert settings.digest.max_stories == 10


def test_example_config_documents_every_key_with_its_default() -> None:
    import dataclasses
    import tomllib

    settings = load_settings(ROOT / "config.example.toml", {})
    defaults = Settings()
    example = tomllib.loads((ROOT / "config.example.toml").read_text("utf-8"))
    for section in dataclasses.fields(Settings):
        if section.name in ("secrets", "source"):
            continue
        keys = {f.name for f in dataclasses.fields(getattr(defaults, section.name))}
        assert set(example.get(section.name, {})) == keys, section.name
        assert getattr(settings, section.name) == getattr(defaults, section.name)


def test_environment_overrides_file_and_flags_override_both(tmp_path: Path) -> None:
    path = write(tmp_path, '[fetch]\ntimeout = 5\n[store]\npath = "file.db"\n')
    env = {"NEWSBRIEF_FETCH_TIMEOUT": "7.5", "NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true"}
    settings = load_settings(path, env, {"store.path": "flag.db"})
    assert settings.fetch.timeout == 7.5
    assert settings.fetch.allow_private is True
    assert settings.store.path == "flag.db"
    assert load_settings(path, {}).store.path == "file.db"


def test_every_bad_key_and_value_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[fetch]\ntimeout = "soon"\nmax_bytez = 10\n[digest]\ntimezone = "Mars/Olympus"\n'
        "[weather]\nx = 1\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {"NEWSBRIEF_FETCH_MAX_REDIRECTS": "many"})
    keys = caught.value.keys
    assert "fetch.timeout" in keys
    assert "fetch.max_bytez" in keys
    assert "weather" in keys
    assert "fetch.max_redirects" in keys
    assert "must be a number" in str(caught.value)
    assert "NEWSBRIEF_FETCH_MAX_REDIRECTS" in str(caught.value)


def test_values_are_checked_after_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, '[digest]\ntimezone = "Mars/Olympus"\nmax_stories = 0\n'), {})
    assert set(caught.value.keys) == {"digest.timezone", "digest.max_stories"}


def test_secrets_come_from_the_environment_only_and_are_masked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, '[slack]\nbot_token = "xoxb-1"\n'), {})
    assert "SLACK_BOT_TOKEN" in str(caught.value)

    settings = load_settings(None, {"SLACK_BOT_TOKEN": "xoxb-very-secret", "SLACK_APP_TOKEN": "x"})
    assert settings.secrets.slack_bot_token == "xoxb-very-secret"
    assert "xoxb-very-secret" not in repr(settings)
    assert "slack_bot_token=***" in repr(settings.secrets)


def test_unreadable_config_files_get_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "missing.toml", {})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[store\npath="), {})


def test_unknown_newsbrief_variable_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSBRIEF_STORE_PTH": "x.db", "HOME": "/root"})
    assert caught.value.keys == ["store.pth"]
    assert "NEWSBRIEF_STORE_PTH" in str(caught.value)


def test_slack_needs_the_token_its_mode_uses() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert caught.value.keys == ["SLACK_APP_TOKEN"]
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"SLACK_BOT_TOKEN": "xoxb-1", "NEWSBRIEF_SLACK_MODE": "http"})
    assert caught.value.keys == ["SLACK_SIGNING_SECRET"]
    ok = load_settings(None, {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert ok.slack.mode == "socket"
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSBRIEF_SLACK_MODE": "webhook", "NEWSBRIEF_SLACK_PORT": "0"})
    assert set(caught.value.keys) == {"slack.mode", "slack.port"}


def test_outlet_names_are_key_equals_name(tmp_path: Path) -> None:
    good = write(tmp_path, '[feeds]\nnames = ["nytimes.com = The New York Times"]\n')
    assert load_settings(good, {}).feeds.names == ("nytimes.com = The New York Times",)
    env = {"NEWSBRIEF_FEEDS_NAMES": "nytimes.com = The New York Times,wsj.com=WSJ"}
    assert len(load_settings(None, env).feeds.names) == 2
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, '[feeds]\nnames = ["The New York Times"]\n'), {})
    assert caught.value.keys == ["feeds.names"]
    assert "KEY = Name" in str(caught.value)


def test_store_url_comes_from_the_environment_and_its_password_is_never_shown() -> None:
    from bot.config import describe_settings, is_postgres_url

    url = "postgresql://newsbrief:s3cret@postgres/newsbrief"
    settings = load_settings(None, {"NEWSBRIEF_STORE_URL": url})
    assert settings.store.url == url and is_postgres_url(url)
    assert not is_postgres_url("sqlite:///data/x.db") and not is_postgres_url("")
    shown = describe_settings(settings)
    assert "s3cret" not in shown and "s3cret" not in repr(settings)
    assert 'url = "postgresql://newsbrief:***@postgres/newsbrief"' in shown
    assert load_settings(None, {"NEWSBRIEF_STORE_URL": "sqlite:///data/x.db"}).store.url

    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSBRIEF_STORE_URL": "mysql://root:hunter2@db/news"})
    assert "store.url" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(None, {"NEWSBRIEF_STORE_URL": "sqlite:///"})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:pw@db:5432/news", "postgresql://bot:***@db:5432/news"),
        ("postgres://bot@db/news", "postgres://bot@db/news"),
        ("postgresql://bot:p@ss:w/rd@db/news", "postgresql://bot:***@db/news"),
        ("postgresql://db/news?user=bot&password=pw&sslmode=require",
         "postgresql://db/news?user=bot&password=***&sslmode=require"),
        ("sqlite:///data/newsbrief.db", "sqlite:///data/newsbrief.db"),
        ("", ""),
    ],
)  # fmt: skip
def test_redact_url_masks_the_password(url: str, shown: str) -> None:
    from bot.config import redact_url

    assert redact_url(url) == shown


def test_discord_shard_ids_are_checked_against_the_shard_count() -> None:
    settings = load_settings(
        None, {"NEWSBRIEF_DISCORD_SHARD_COUNT": "4", "NEWSBRIEF_DISCORD_SHARD_IDS": "2, 3"}
    )
    assert settings.discord.shard_ids == (2, 3)
    assert load_settings(None, {}).discord.shard_ids == ()
    for env, problem in [
        ({"NEWSBRIEF_DISCORD_SHARD_IDS": "0"}, "needs discord.shard_count"),
        ({"NEWSBRIEF_DISCORD_SHARD_COUNT": "2", "NEWSBRIEF_DISCORD_SHARD_IDS": "2"}, "0 to 1"),
        ({"NEWSBRIEF_DISCORD_SHARD_COUNT": "2", "NEWSBRIEF_DISCORD_SHARD_IDS": "-1"}, "0 to 1"),
        ({"NEWSBRIEF_DISCORD_SHARD_COUNT": "2", "NEWSBRIEF_DISCORD_SHARD_IDS": "1,1"}, "at most"),
        ({"NEWSBRIEF_DISCORD_SHARD_IDS": "one"}, "whole numbers"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings(None, env)
        assert "discord.shard_ids" in str(caught.value) and problem in str(caught.value), env


def test_replica_timings_are_bounded() -> None:
    assert load_settings(None, {}).replicas.lease_check == 3.0
    with pytest.raises(ConfigError, match=r"replicas\.lease_check"):
        load_settings(None, {"NEWSBRIEF_REPLICAS_LEASE_CHECK": "30"})
    with pytest.raises(ConfigError, match=r"replicas\.schedule_refresh"):
        load_settings(None, {"NEWSBRIEF_REPLICAS_SCHEDULE_REFRESH": "0"})
