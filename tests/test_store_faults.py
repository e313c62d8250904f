"""Database faults are loud: the real `python -m bot run` whose database file is removed, whose
disk refuses writes, or whose file is read-only; and a database that would be created empty
where an earlier one left its files.

Root runs these tests, and root writes to a file whatever its mode says, so a read-only file
here is one made immutable (`chattr +i`, which binds root too; skipped where the filesystem or
the container does not allow it), and a full disk is the process's file-size limit lowered to
nothing (`prlimit RLIMIT_FSIZE`: the kernel then refuses every write that would grow a file,
as a full disk does, for root as well).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.errors import StoreError
from bot.store import Store
from tests.slack_fakes import FakeSlack, signed_headers, slash_body
from tests.test_health import Bot, get_json, running_bot, until_ready
from tests.test_run import ROOT


async def command(bot: Bot, fake: FakeSlack, name: str, text: str) -> str:
    """Run a slash command on the running bot; everything it answered (ack and follow-ups)."""
    body = slash_body(name, text, response_url=fake.response_url)
    before = len(fake.responses)
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{bot.slack_port}/slack/events"
        async with session.post(url, data=body, headers=signed_headers(body)) as r:
            assert r.status == 200
            answer = await r.text()
    if "Working on it" in answer:
        for _ in range(100):
            if len(fake.responses) > before:
                break
            await asyncio.sleep(0.05)
    return answer + json.dumps(fake.responses[before:])


async def readiness(bot: Bot) -> tuple[int, dict[str, Any]]:
    return await get_json(bot.health_url + "/readyz")


async def test_a_database_removed_while_running_refuses_writes_and_is_not_recreated(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    async with FakeSlack() as fake, running_bot(tmp_path, fake) as bot:
        await until_ready(bot.health_url)
        assert "reach this channel" in await command(bot, fake, "/filter", "ukraine")
        os.remove(db)
        os.remove(f"{db}-wal")
        answer = await command(bot, fake, "/filter", "energy")
        assert "nothing changed" in answer and "removed" in answer
        assert "reach this channel" not in answer
        assert "nothing changed" in await command(bot, fake, "/digest", "07:30")
        status, body = await readiness(bot)
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert "removed" in body["checks"]["database"]["error"]
        await bot.stop()
    assert bot.proc.returncode == 0
    # the next start does not silently begin again with an empty database
    again = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--db", str(db)],
        cwd=ROOT, env=bot.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert again.returncode == 2
    assert "refusing to create a new, empty database" in again.stderr
    assert "bot.db-shm" in again.stderr
    assert not db.exists()


async def test_a_disk_that_refuses_writes_is_refused_and_reported(tmp_path: Path) -> None:
    async with FakeSlack() as fake, running_bot(tmp_path, fake) as bot:
        await until_ready(bot.health_url)
        # from now on the kernel refuses every write that grows a file, as a full disk does
        resource.prlimit(bot.proc.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
        answer = await command(bot, fake, "/filter", "energy")
        assert "nothing changed" in answer and "disk" in answer
        assert "reach this channel" not in answer
        status, body = await readiness(bot)
        assert status == 503 and body["checks"]["database"]["ok"] is False
        assert "disk" in body["checks"]["database"]["error"]
        # room again: the next write works and the probe says so
        resource.prlimit(
            bot.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        )
        assert "reach this channel" in await command(bot, fake, "/filter", "energy")
        assert (await readiness(bot))[0] == 200
        await bot.stop()
    assert bot.proc.returncode == 0
    assert "cannot be written" in bot.err.decode()


def _full_disk() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def test_run_exits_2_when_it_cannot_write_at_start(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with Store.open(db) as store:
        store.check_writable()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--db", str(db)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, preexec_fn=_full_disk,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "disk" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_read_only_database_file_stops_run_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with Store.open(db) as store:
        store.check_writable()
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {made.stderr.strip()}")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
        done = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--db", str(db)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    assert done.returncode == 2, done.stderr
    assert "read-only" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_new_database_is_created_with_a_log_line_but_never_beside_an_old_ones_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fresh = tmp_path / "fresh" / "bot.db"
    Store.open(fresh).close()
    assert f"created a new, empty database at {fresh}" in caplog.text
    caplog.clear()
    Store.open(fresh).close()
    assert "created a new" not in caplog.text
    for leftover in ("bot.db-wal", "bot.db.bak"):
        folder = tmp_path / leftover
        folder.mkdir()
        (folder / leftover).write_bytes(b"")
        with pytest.raises(StoreError, match=f"refusing to create .*{leftover}"):
            Store.open(folder / "bot.db")
        assert not (folder / "bot.db").exists()
