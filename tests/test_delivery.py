"""Exactly-once digests: claims in a real SQLite file shared by concurrent senders and restarts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.delivery import retry_unsent, send_digest, slot_key
from bot.errors import DeliveryError
from bot.ingest.files import iter_files, read_file
from bot.models import Article, ChannelRef, Digest, Receipt
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("slack", "C1")
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)


def seeded(path: Path) -> Path:
    with Store.open(path) as store:
        for file in iter_files(ROOT / "seeds"):
            for item in read_file(file):
                assert isinstance(item, Article)
                store.add_article(item)
    return path


class Recorder:
    """A platform that records what it was asked to post (thread-safe)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.posts: list[tuple[ChannelRef, Digest]] = []
        self.delay = delay
        self.lock = threading.Lock()

    async def post(self, channel: ChannelRef, digest: Digest) -> Receipt:
        await asyncio.sleep(self.delay)
        with self.lock:
            self.posts.append((channel, digest))
        return Receipt(channel, (f"m{len(self.posts)}",))


async def test_a_slot_is_posted_once_and_its_articles_not_again(tmp_path: Path) -> None:
    with Store.open(seeded(tmp_path / "bot.db")) as store:
        platform = Recorder()
        slot = slot_key(NOW)
        first = await send_digest(store, CHANNEL, platform.post, slot=slot, now=NOW)
        again = await send_digest(store, CHANNEL, platform.post, slot=slot, now=NOW)
        assert (first.status, again.status) == ("sent", "skipped")
        assert len(platform.posts) == 1
        assert len(platform.posts[0][1].stories) >= 4
        later = await send_digest(
            store, CHANNEL, platform.post, slot=slot_key(NOW + timedelta(days=1)), now=NOW
        )
        assert later.status == "sent"
        assert later.digest is not None and later.digest.empty
        assert later.digest.overview.startswith("Nothing new since 2026-01-05 07:30")


def test_two_concurrent_senders_on_one_database_file_post_once(tmp_path: Path) -> None:
    path = seeded(tmp_path / "bot.db")
    platform = Recorder(delay=0.05)
    for n in range(10):
        slot = slot_key(NOW + timedelta(days=n))
        channel = ChannelRef("slack", f"C{n}")
        start = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=_send, args=(path, channel, platform, slot, start, outcomes))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["sent", "skipped"]
    assert len(platform.posts) == 10
    assert len({ch for ch, _ in platform.posts}) == 10


def _send(
    path: Path,
    channel: ChannelRef,
    platform: Recorder,
    slot: str,
    start: threading.Barrier,
    outcomes: list[str],
) -> None:
    with Store.open(path) as store:  # each sender has its own connection, as a process would
        start.wait()
        outcome = asyncio.run(send_digest(store, channel, platform.post, slot=slot))
        outcomes.append(outcome.status)


CRASHING_SENDER = """
import asyncio, os, sys
from bot.delivery import send_digest
from bot.models import ChannelRef
from bot.store import Store

async def crash(channel, digest):
    os._exit(17)  # the process dies after claiming, before anything reaches the platform

store = Store.open(sys.argv[1])
asyncio.run(send_digest(store, ChannelRef("slack", "C1"), crash, slot=sys.argv[2]))
"""


async def test_a_crash_between_claim_and_send_is_retried_on_start(tmp_path: Path) -> None:
    path = seeded(tmp_path / "bot.db")
    slot = slot_key(NOW)
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_SENDER, str(path), slot], cwd=ROOT, timeout=60
    )
    assert done.returncode == 17
    with Store.open(path) as store:
        run = store.digest_run(CHANNEL, slot)
        assert run is not None and run.status == "claimed" and run.article_ids
        platform = Recorder()
        # a fresh claim may belong to a live sender: leave it alone
        assert (
            await retry_unsent(store, {"slack": platform.post}, stale_after=timedelta(hours=1))
            == []
        )
        later = datetime.now(UTC) + timedelta(minutes=10)
        outcomes = await retry_unsent(store, {"slack": platform.post}, now=later)
        assert [o.status for o in outcomes] == ["sent"]
        assert len(platform.posts) == 1
        sent_ids = {a.id for s in platform.posts[0][1].stories for a in s.articles}
        assert set(run.article_ids) <= sent_ids
        # the retried digest is now sent: neither a retry nor the slot posts it again
        assert await retry_unsent(store, {"slack": platform.post}, now=later) == []
        again = await send_digest(store, CHANNEL, platform.post, slot=slot)
        assert again.status == "skipped"
        assert len(platform.posts) == 1


async def test_failed_send_is_retried_and_a_gone_channel_is_disabled(tmp_path: Path) -> None:
    with Store.open(seeded(tmp_path / "bot.db")) as store:

        async def flaky(channel: ChannelRef, digest: Digest) -> Receipt:
            raise DeliveryError("slack", channel.channel, "HTTP 503")

        outcome = await send_digest(store, CHANNEL, flaky, slot="s1", now=NOW)
        assert outcome.status == "failed"
        run = store.digest_run(CHANNEL, "s1")
        assert run is not None and run.status == "failed" and run.error == "HTTP 503"
        platform = Recorder()
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert [
            o.status for o in await retry_unsent(store, {"slack": platform.post}, now=later)
        ] == ["sent"]

        async def gone(channel: ChannelRef, digest: Digest) -> Receipt:
            raise DeliveryError("slack", channel.channel, "not_in_channel", permanent=True)

        other = ChannelRef("slack", "C9")
        outcome = await send_digest(store, other, gone, slot="s2", now=NOW)
        assert outcome.status == "disabled"
        settings = store.get_channel(other)
        assert not settings.enabled and settings.disabled_reason == "not_in_channel"


async def test_an_unexpected_error_in_one_channel_does_not_escape(tmp_path: Path) -> None:
    with Store.open(seeded(tmp_path / "bot.db")) as store:

        async def broken(channel: ChannelRef, digest: Digest) -> Receipt:
            raise RuntimeError("bug in an adapter")

        outcome = await send_digest(store, CHANNEL, broken, slot="s1", now=NOW)
        assert outcome.status == "failed"
        platform = Recorder()
        assert (
            await send_digest(store, ChannelRef("slack", "C2"), platform.post, slot="s1")
        ).status == "sent"


@pytest.mark.parametrize("when", [NOW, NOW.astimezone(timezone(timedelta(hours=3)))])
def test_slot_keys_are_utc_minutes(when: datetime) -> None:
    assert slot_key(when) == "2026-01-05T07:30Z"


async def test_a_retried_digest_marks_reports_that_joined_its_stories_as_sent(
    tmp_path: Path,
) -> None:
    from bot.digest import build_digest
    from bot.ingest.http import FetchPolicy
    from bot.ingest.pipeline import ingest

    seeds = ROOT / "seeds"
    with Store.open(tmp_path / "bot.db") as store:
        await ingest([str(seeds / "000_277b181c6f234e33.txt")], store, FetchPolicy())

        async def down(channel: ChannelRef, digest: Digest) -> Receipt:
            raise DeliveryError("slack", channel.channel, "HTTP 503")

        assert (await send_digest(store, CHANNEL, down, slot="s1", now=NOW)).status == "failed"
        # another outlet's report of the same event arrives before the retry
        await ingest([str(seeds / "001_danube_dispatch_zelenskyy.md")], store, FetchPolicy())
        platform = Recorder()
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert [
            o.status for o in await retry_unsent(store, {"slack": platform.post}, now=later)
        ] == ["sent"]
        [(_, sent)] = platform.posts
        assert sent.stories[0].sources == ("European Pravda", "Danube Dispatch")
        # the retried message showed both reports: the next digest must not repeat the story
        assert build_digest(store, CHANNEL, now=later).empty
