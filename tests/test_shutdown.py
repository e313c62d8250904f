"""Start and shutdown: start-up's objects are frozen once the platforms are up; in-flight
digests finish within the timeout; a cut-off one is resent once."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import run_platforms
from bot.config import HealthSettings, RunSettings, Settings, StoreSettings
from bot.delivery import INTERRUPTED, OutgoingPart, retry_unsent, slot_key
from bot.models import ChannelRef, ChannelSettings, Digest
from bot.scheduler import previous_slot
from bot.store import Store
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body
from tests.stories import add_stories
from tests.test_run import ROOT, free_port

CHANNEL = ChannelRef("fake", "C1")


@dataclass
class SlowAdapter:
    """A platform whose digest posts take `delay` seconds; a digest is one message, listing the
    ids of the articles it shows."""

    delay: float = 0.0
    name: str = "fake"
    hang_on_start: bool = False
    posting: asyncio.Event = field(default_factory=asyncio.Event)
    posted: list[list[int]] = field(default_factory=list)
    closed: bool = False

    async def start(self) -> None:
        if self.hang_on_start:
            await asyncio.sleep(3600)

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        return [{"articles": [a.id for s in digest.stories for a in s.articles]}]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        self.posting.set()
        await asyncio.sleep(self.delay)
        self.posted.append(list(part.payload["articles"]))
        return str(len(self.posted))

    async def post_notice(self, channel: ChannelRef, text: str) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


def _settings(path: Path, timeout: float) -> Settings:
    return replace(
        Settings(),
        store=StoreSettings(str(path)),
        health=HealthSettings(enabled=False),
        run=RunSettings(shutdown_timeout=timeout),
    )


def _due_digest(store: Store) -> str:
    """Schedule CHANNEL's digest a minute ago, so start-up sends it as missed; its slot."""
    now = datetime.now(UTC)
    settings = ChannelSettings(CHANNEL, digest_time=(now - timedelta(minutes=1)).strftime("%H:%M"))
    store.put_channel(settings)
    due = previous_slot(settings, now)
    assert due is not None
    return slot_key(due)


async def _start(
    settings: Settings, adapter: SlowAdapter
) -> tuple[Store, asyncio.Event, asyncio.Task[int]]:
    store = Store.open(settings.store.path)
    stop = asyncio.Event()
    task = asyncio.create_task(run_platforms(settings, store, [], stop=stop, adapters=[adapter]))
    return store, stop, task


def _others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_send_in_progress_finishes_before_the_store_closes(
    seeded_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slot = _due_digest(seeded_store)
    adapter = SlowAdapter(delay=0.5)
    store, stop, task = await _start(_settings(Path(seeded_store.path), timeout=5.0), adapter)
    await asyncio.wait_for(adapter.posting.wait(), 10)
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert _others() == set()  # nothing left that could touch the store
    store.close()

    assert len(adapter.posted) == 1 and adapter.posted[0]
    assert adapter.closed
    run = seeded_store.digest_run(CHANNEL, slot)
    assert run is not None and run.status == "sent"
    messages = [r.getMessage() for r in caplog.records]
    assert "stopping" in messages and "stopped" in messages
    assert "waiting up to 5s for 1 digest send(s)" in messages
    assert messages.index("stopping") < messages.index("stopped")


async def test_a_send_past_the_timeout_is_resent_once_at_the_next_start(
    seeded_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    slot = _due_digest(seeded_store)
    settings = _settings(Path(seeded_store.path), timeout=0.3)
    stuck = SlowAdapter(delay=3600)
    store, stop, task = await _start(settings, stuck)
    await asyncio.wait_for(stuck.posting.wait(), 10)
    began = time.monotonic()
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert time.monotonic() - began < 3  # bounded by the timeout, not by the send
    assert _others() == set()
    store.close()

    assert stuck.posted == []
    run = seeded_store.digest_run(CHANNEL, slot)
    assert run is not None and (run.status, run.error) == ("failed", INTERRUPTED)
    assert "cut off by shutdown" in caplog.text

    # the next start resends it at once, not after the 5 minutes a crashed claim waits
    fresh = SlowAdapter()
    store, stop, task = await _start(settings, fresh)
    for _ in range(200):
        if fresh.posted:
            break
        await asyncio.sleep(0.02)
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    store.close()

    run = seeded_store.digest_run(CHANNEL, slot)
    assert run is not None and run.status == "sent" and run.attempts == 2
    assert len(fresh.posted) == 1  # the same articles the cut-off send carried
    assert set(fresh.posted[0]) == set(run.article_ids)
    # and nothing is left for the stale-claim retry to send a second time
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await retry_unsent(seeded_store, {"fake": fresh}, now=later) == []
    assert len(fresh.posted) == 1


async def test_once_started_what_start_up_built_is_left_out_of_collections(
    tmp_path: Path,
) -> None:
    """A full collection walking every object start-up built took 25-35 ms of the event loop,
    in the middle of a burst of commands (benches/slack_ack.py): once the platforms are up,
    those objects are frozen, and no collection looks at them again."""
    store, stop, task = await _start(_settings(tmp_path / "bot.db", timeout=5.0), SlowAdapter())
    try:
        deadline = time.monotonic() + 30
        while gc.get_freeze_count() == 0:
            assert time.monotonic() < deadline, "start-up's objects were never frozen"
            await asyncio.sleep(0.05)
        # the store was opened before the run started: no generation holds it any more
        assert all(tracked is not store for tracked in gc.get_objects())
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        store.close()


async def test_a_stop_during_start_up_is_heard_at_once(tmp_path: Path) -> None:
    adapter = SlowAdapter(hang_on_start=True)
    store, stop, task = await _start(_settings(tmp_path / "bot.db", timeout=5.0), adapter)
    await asyncio.sleep(0.1)
    began = time.monotonic()
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert time.monotonic() - began < 1  # connecting is not a send: no wait for it
    assert adapter.closed
    assert _others() == set()
    store.close()


async def test_a_platform_that_fails_to_start_stops_the_run_cleanly(tmp_path: Path) -> None:
    class Broken(SlowAdapter):
        async def start(self) -> None:
            raise RuntimeError("login refused")

    adapter = Broken()
    store, _, task = await _start(_settings(tmp_path / "bot.db", timeout=5.0), adapter)
    with pytest.raises(RuntimeError, match="login refused"):
        await asyncio.wait_for(task, 10)
    await asyncio.sleep(0)  # let the cancelled helpers finish
    assert adapter.closed
    assert _others() == set()
    store.close()


async def _slash(port: int, fake: FakeSlack, text: str, channel: str = "C1") -> str:
    """POST a signed /digest slash command to the running bot; its ack's body."""
    body = slash_body("/digest", text, response_url=fake.response_url, channel=channel)
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # until the process listens
            try:
                async with session.post(url, data=body, headers=signed_headers(body)) as r:
                    return await r.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError("the bot never listened")


async def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_sigterm_during_digest_now_cuts_it_off_marked_and_the_next_start_resumes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    with Store.open(path) as store:
        add_stories(store, 100)
    async with FakeSlack() as fake:
        fake.post_delay = 0.3  # 7 parts: about 2 s
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "NEWSBRIEF_SLACK_MODE": "http",
                "NEWSBRIEF_SLACK_PORT": str(port),
                "NEWSBRIEF_SLACK_API_BASE_URL": fake.api_url,
                "NEWSBRIEF_HEALTH_ENABLED": "false",
                "NEWSBRIEF_DIGEST_MAX_STORIES": "100",
                "NEWSBRIEF_RUN_SHUTDOWN_TIMEOUT": "0.5",
            }
        )

        async def start() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--db", str(path),
                cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip

        bot = await start()
        assert "Working on it" in await _slash(port, fake, "now")
        await _until(lambda: len(fake.kept("C1")) >= 2)
        bot.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(bot.communicate(), 30)
        logs = err.decode()
        assert bot.returncode == 0, logs[-2000:]
        # the /digest now send was waited for, then cut off and marked
        assert "waiting up to 0.5s for 1 digest send(s)" in logs
        assert "cut off by shutdown" in logs
        with Store.open(path) as store:
            [run] = store.channel_runs(ChannelRef("slack", "C1"))
            assert (run.status, run.error) == ("failed", INTERRUPTED)
            assert 2 <= run.parts_sent < run.parts == 7
            recorded = run.parts_sent

        bot = await start()  # resumed at once, at its next part: never part 1 again
        await _until(lambda: len(fake.parts("C1")) >= 7)
        await asyncio.sleep(0.5)  # and nothing more comes
        bot.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(bot.communicate(), 30)
        assert bot.returncode == 0
        assert (
            f"retrying digest {run.slot} for slack:C1 at part {recorded + 1} of 7" in err.decode()
        )
    parts = fake.parts("C1")
    assert len({r for r, _ in parts}) == 1 and [p for _, p in parts] == list(range(7))
    top, *rest = fake.kept("C1")
    assert {m["thread_ts"] for m in rest} == {top["ts"]}
    with Store.open(path) as store:
        [run] = store.channel_runs(ChannelRef("slack", "C1"))
        assert run.status == "sent" and run.attempts == 2
