"""Start-up: `python -m bot --help` and `health` import none of the heavy libraries.

The container's health check runs `python -m bot health` every 30 s, and importing the fetch,
database and chat libraries cost 0.5 s of each run (issue 17). Each command now imports what it
runs inside its function; these tests keep it that way by reading ``-X importtime`` of the real
process, not by timing it (benches/startup.py prints the times).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_run import ROOT, free_port

HEAVY = frozenset(
    {
        "aiohttp",
        "apscheduler",
        "charset_normalizer",
        "courlan",
        "dateparser",
        "discord",
        "feedparser",
        "htmldate",
        "httpx",
        "justext",
        "lxml",
        "psycopg",
        "psycopg_pool",
        "pysbd",
        "slack_bolt",
        "slack_sdk",
        "Stemmer",
        "trafilatura",
    }
)
"""Top-level packages that neither `--help` nor `health` needs, each costing milliseconds to
tenths of a second to import."""

_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$")


def run_bot(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, set[str]]:
    """Run ``python -X importtime -m bot ARGS`` from the repository root.

    Returns:
        The exit code, standard output, standard error without the import lines, and the
        top-level package of every module the process imported.
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
    environ.pop("DISCORD_BOT_TOKEN", None)
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *args],
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    packages: set[str] = set()
    errors: list[str] = []
    for line in proc.stderr.splitlines():
        found = _IMPORT_LINE.match(line)
        if found:
            packages.add(found.group(1).split(".")[0])
        elif not line.startswith("import time:"):
            errors.append(line)
    return proc.returncode, proc.stdout, "\n".join(errors), packages


def test_help_lists_the_commands_and_imports_nothing_heavy() -> None:
    code, out, err, packages = run_bot("--help")
    assert code == 0, err
    for command in ("ingest", "articles", "digest", "summarize", "run", "health", "migrate"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), (command, out)
    assert "bot" in packages  # the parse of -X importtime found our own modules
    assert packages & HEAVY == set()


def test_health_with_nothing_listening_fails_clearly_and_imports_nothing_heavy() -> None:
    port = free_port()  # closed again: nothing listens on it
    for args in (["health", "--live"], ["health"]):
        code, out, err, packages = run_bot(*args, env={"NEWSBRIEF_HEALTH_PORT": str(port)})
        assert code == 1, (args, out, err)
        path = "healthz" if "--live" in args else "readyz"
        assert f"unhealthy: no answer from http://127.0.0.1:{port}/{path}" in err, err
        assert packages & HEAVY == set(), args


def test_migrate_help_imports_nothing_heavy() -> None:
    """The CLI imports `bot.migrate` for its parser on every start."""
    code, out, err, packages = run_bot("migrate", "--help")
    assert code == 0, err
    assert "--to POSTGRESQL_URL" in out
    assert packages & HEAVY == set()


def test_digest_loads_no_fetch_parse_scheduler_or_postgres_library(tmp_path: Path) -> None:
    """`digest` prints what is stored: the store's own libraries only (httpx still comes with
    the fetch policy the engine is built with)."""
    code, _out, err, packages = run_bot("digest", "--dry-run", "--db", str(tmp_path / "bot.db"))
    assert code == 0, err
    assert packages & HEAVY <= {"httpx", "Stemmer"}, packages & HEAVY


def test_the_cli_names_the_console_channel_as_the_app_does() -> None:
    """The CLI writes the console's channel out rather than import bot.app for it."""
    from bot import cli
    from bot.app import CONSOLE_CHANNEL

    assert str(CONSOLE_CHANNEL) == cli.CONSOLE
