"""compose.yaml's profile "replicas": PostgreSQL and two bots that share it, checked as the bot
would read their environment. (The default single-container setup: test_container.py.)"""

from __future__ import annotations

from typing import Any

from bot.config import is_postgres_url, load_settings, redact_url
from tests.test_container import COMPOSE, EXAMPLE_CONFIG, parse_yaml

PROFILE = "replicas"


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = parse_yaml(COMPOSE.read_text(encoding="utf-8"))
    return compose


def test_the_default_setup_starts_one_sqlite_bot_and_nothing_of_the_profile() -> None:
    services = _compose()["services"]
    default = [name for name, service in services.items() if not service.get("profiles")]
    assert default == ["newsbrief"]
    assert "depends_on" not in services["newsbrief"]
    assert "NEWSBRIEF_STORE_URL" not in services["newsbrief"]["environment"]


def test_the_replicas_profile_runs_postgres_and_two_bots_on_it() -> None:
    compose = _compose()
    profiled = {n: s for n, s in compose["services"].items() if PROFILE in s.get("profiles", [])}
    postgres = profiled.pop("postgres")
    assert postgres["image"] == "postgres:16"
    (data,) = postgres["volumes"]
    volume, _, target = data.partition(":")
    assert volume in compose["volumes"] and target == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    env = postgres["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")  # no default password

    assert len(profiled) >= 2, "at least two replicas"
    shards: list[int] = []
    for name, bot in profiled.items():
        assert bot["build"] == "." and bot["env_file"] == [".env"], name
        assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}, name
        environment = bot["environment"]
        url = environment["NEWSBRIEF_STORE_URL"]
        assert url == "postgresql://newsbrief:${POSTGRES_PASSWORD}@postgres/newsbrief", name
        # the environment compose gives the bot is valid, with the example config mounted
        given = {k: v.replace("${POSTGRES_PASSWORD}", "pw") for k, v in environment.items()}
        settings = load_settings(EXAMPLE_CONFIG, given)
        assert is_postgres_url(settings.store.url) and "pw" not in redact_url(settings.store.url)
        assert settings.discord.shard_count == len(profiled)
        shards += settings.discord.shard_ids
        (config,) = [v for v in bot["volumes"] if isinstance(v, dict)]
        assert config["target"] == environment["NEWSBRIEF_CONFIG"] and config["read_only"]
        assert "health" in " ".join(bot["healthcheck"]["test"])
        assert int(bot["stop_grace_period"].rstrip("s")) > settings.run.shutdown_timeout
    # every Discord shard in exactly one replica
    assert sorted(shards) == list(range(len(profiled)))
