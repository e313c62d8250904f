"""Exactly-once digests: claims in a real SQLite file shared by concurrent senders and restarts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.delivery import Delivery, retry_unsent, send_digest, slot_key
from bot.digest import build_digest
from bot.errors import DeliveryError
from bot.ingest.files import iter_files, read_file
from bot.models import Article, ChannelRef, Digest, Receipt
from bot.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = ChannelRef("slack", "C1")
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)


def seeded(path: str) -> str:
    with open_store(path) as store:
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


async def test_a_slot_is_posted_once_and_its_articles_not_again(
    db_target: str, tmp_path: Path
) -> None:
    with open_store(seeded(db_target)) as store:
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


def test_two_concurrent_senders_on_one_database_file_post_once(
    db_target: str, tmp_path: Path
) -> None:
    path = seeded(db_target)
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
    path: str,
    channel: ChannelRef,
    platform: Recorder,
    slot: str,
    start: threading.Barrier,
    outcomes: list[str],
) -> None:
    with open_store(path) as store:  # each sender has its own connection, as a process would
        start.wait()
        outcome = asyncio.run(send_digest(store, channel, platform.post, slot=slot))
        outcomes.append(outcome.status)


HANGING_SENDER = """
import asyncio, sys
from bot.delivery import send_digest
from bot.models import ChannelRef
from bot.store import Store, open_store

async def hang(channel, digest):
    await asyncio.sleep(3600)  # claimed and sending when it is killed

store = open_store(sys.argv[1])
asyncio.run(send_digest(store, ChannelRef("slack", "C1"), hang, slot=sys.argv[2]))
"""


async def test_a_live_senders_claim_is_left_alone_and_a_killed_ones_taken_over_at_once(
    db_target: str,
    tmp_path: Path,
) -> None:
    path = seeded(db_target)
    slot = slot_key(NOW)
    sender = subprocess.Popen([sys.executable, "-c", HANGING_SENDER, str(path), slot], cwd=ROOT)
    try:
        with open_store(path) as store:
            for _ in range(300):
                run = store.digest_run(CHANNEL, slot)
                if run is not None and run.parts:
                    break
                await asyncio.sleep(0.05)
            assert run is not None and run.status == "claimed" and run.article_ids
            platform = Recorder()
            # its process is alive and its lease runs: nobody else may send it
            assert await retry_unsent(store, {"slack": platform.post}) == []
            sender.kill()
            sender.wait(timeout=30)
            # no need to wait for its lease: the process is gone, the claim is taken at once
            outcomes = await retry_unsent(store, {"slack": platform.post})
            assert [o.status for o in outcomes] == ["sent"]
            assert len(platform.posts) == 1
            sent_ids = {a.id for s in platform.posts[0][1].stories for a in s.articles}
            assert set(run.article_ids) <= sent_ids
            done = store.digest_run(CHANNEL, slot)
            assert done is not None and (done.status, done.attempts) == ("sent", 2)
            # sent: neither a retry nor the slot posts it again
            assert await retry_unsent(store, {"slack": platform.post}) == []
            again = await send_digest(store, CHANNEL, platform.post, slot=slot)
            assert again.status == "skipped"
            assert len(platform.posts) == 1
    finally:
        sender.kill()
        sender.wait(timeout=30)


async def test_a_claim_held_elsewhere_is_taken_over_only_when_its_lease_runs_out(
    db_target: str,
    tmp_path: Path,
) -> None:
    with open_store(seeded(db_target)) as store:
        # a process on another machine (another boot id): whether it lives cannot be checked
        elsewhere = "other-boot/pid:[1]/4242/99/ab12cd34"
        run = store.claim_digest(
            CHANNEL, "s1", [1, 2], NOW, owner=elsewhere, lease_until=NOW + timedelta(seconds=60)
        )
        assert run is not None
        platform = Recorder()
        delivery = Delivery(store, {"slack": platform.post})
        assert await delivery.retry_due(NOW + timedelta(seconds=59)) == []
        outcomes = await delivery.retry_due(NOW + timedelta(seconds=61))
        assert [o.status for o in outcomes] == ["sent"] and len(platform.posts) == 1


async def test_a_sender_keeps_its_claim_while_a_slow_send_outlasts_the_lease(
    db_target: str,
    tmp_path: Path,
) -> None:
    with open_store(seeded(db_target)) as store:
        # a lease of 2 s renewed every 0.5 s: a shared CI machine that stalls the process or
        # the database's commits for up to 1.5 s does not make the claim look abandoned
        slow = Recorder(delay=4.0)
        holder = Delivery(store, {"slack": slow.post}, lease=2)
        holder.start()  # renews every quarter lease
        try:
            sending = asyncio.create_task(holder.send(CHANNEL, "s1"))
            await asyncio.sleep(3.0)  # past the first lease: only the renewals keep the claim
            other = Recorder()
            assert await Delivery(store, {"slack": other.post}, lease=2).retry_due() == []
            assert (await sending).status == "sent"
        finally:
            await holder.close()
        assert len(slow.posts) == 1 and other.posts == []


async def test_a_failed_digest_is_retried_with_backoff_until_its_grace_period(
    db_target: str,
    tmp_path: Path,
) -> None:
    with open_store(seeded(db_target)) as store:
        failures = [3]

        async def flaky(channel: ChannelRef, digest: Digest) -> Receipt:
            if failures[0]:
                failures[0] -= 1
                raise DeliveryError("slack", channel.channel, "HTTP 503")
            return Receipt(channel, ("m1",))

        delivery = Delivery(store, {"slack": flaky}, grace=3600)
        first = await delivery.send(CHANNEL, "s1", now=NOW)
        # retried 30 s, 2 min 30 s and 12 min 30 s after it first failed
        assert first.status == "failed" and _near(first.next_attempt, NOW, 30)
        assert await delivery.retry_due(NOW + timedelta(seconds=29)) == []
        [second] = await delivery.retry_due(NOW + timedelta(seconds=31))
        assert second.status == "failed" and _near(second.next_attempt, NOW, 150)
        # an early attempt (another digest went out, say) that fails does not push it away
        store.hasten_runs("slack", NOW + timedelta(seconds=40))
        [early] = await delivery.retry_due(NOW + timedelta(seconds=40))
        assert early.status == "failed" and _near(early.next_attempt, NOW, 150)
        [sent] = await delivery.retry_due(NOW + timedelta(seconds=151))
        assert sent.status == "sent"
        run = store.digest_run(CHANNEL, "s1")
        assert run is not None and run.status == "sent" and run.attempts == 4

        # a digest still failing an hour after it was due is given up, not posted late;
        # its stories stay undelivered and come in the next digest
        failures[0] = 100
        other = ChannelRef("slack", "C2")
        assert (await delivery.send(other, "s2", now=NOW)).status == "failed"
        for minutes in (1, 4, 15, 26, 37, 48, 59):
            await delivery.retry_due(NOW + timedelta(minutes=minutes))
        gone = store.digest_run(other, "s2")
        assert gone is not None and gone.status == "abandoned"
        assert await delivery.retry_due(NOW + timedelta(hours=2)) == []
        failures[0] = 0
        assert not build_digest(store, other, now=NOW + timedelta(hours=2)).empty


async def test_failed_send_is_retried_and_a_gone_channel_is_disabled(
    db_target: str, tmp_path: Path
) -> None:
    with open_store(seeded(db_target)) as store:

        async def flaky(channel: ChannelRef, digest: Digest) -> Receipt:
            raise DeliveryError("slack", channel.channel, "HTTP 503")

        outcome = await send_digest(store, CHANNEL, flaky, slot="s1", now=NOW)
        assert outcome.status == "failed"
        run = store.digest_run(CHANNEL, "s1")
        assert run is not None and run.status == "failed" and run.error == "HTTP 503"
        platform = Recorder()
        later = NOW + timedelta(minutes=10)
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


async def test_an_unexpected_error_in_one_channel_does_not_escape(
    db_target: str, tmp_path: Path
) -> None:
    with open_store(seeded(db_target)) as store:

        async def broken(channel: ChannelRef, digest: Digest) -> Receipt:
            raise RuntimeError("bug in an adapter")

        outcome = await send_digest(store, CHANNEL, broken, slot="s1", now=NOW)
        assert outcome.status == "failed"
        platform = Recorder()
        assert (
            await send_digest(store, ChannelRef("slack", "C2"), platform.post, slot="s1")
        ).status == "sent"


def _near(moment: datetime | None, base: datetime, seconds: float) -> bool:
    """`moment` is `seconds` after `base` (give or take the second a send takes)."""
    return moment is not None and abs((moment - base).total_seconds() - seconds) < 1.5


@pytest.mark.parametrize("when", [NOW, NOW.astimezone(timezone(timedelta(hours=3)))])
def test_slot_keys_are_utc_minutes(when: datetime) -> None:
    assert slot_key(when) == "2026-01-05T07:30Z"


async def test_a_retried_digest_marks_reports_that_joined_its_stories_as_sent(
    db_target: str,
    tmp_path: Path,
) -> None:
    from bot.ingest.http import FetchPolicy
    from bot.ingest.pipeline import ingest

    seeds = ROOT / "seeds"
    with open_store(db_target) as store:
        await ingest([str(seeds / "000_277b181c6f234e33.txt")], store, FetchPolicy())

        async def down(channel: ChannelRef, digest: Digest) -> Receipt:
            raise DeliveryError("slack", channel.channel, "HTTP 503")

        assert (await send_digest(store, CHANNEL, down, slot="s1", now=NOW)).status == "failed"
        # another outlet's report of the same event arrives before the retry
        await ingest([str(seeds / "001_danube_dispatch_zelenskyy.md")], store, FetchPolicy())
        platform = Recorder()
        later = NOW + timedelta(minutes=10)
        assert [
            o.status for o in await retry_unsent(store, {"slack": platform.post}, now=later)
        ] == ["sent"]
        [(_, sent)] = platform.posts
        assert sent.stories[0].sources == ("European Pravda", "Danube Dispatch")
        # the retried message showed both reports: the next digest must not repeat the story
        assert build_digest(store, CHANNEL, now=later).empty


async def test_a_digest_asked_for_while_another_is_failing_does_not_repeat_its_stories(
    db_target: str,
    tmp_path: Path,
) -> None:
    with open_store(seeded(db_target)) as store:
        down = [True]
        platform = Recorder()

        async def flaky(channel: ChannelRef, digest: Digest) -> Receipt:
            if down[0]:
                raise DeliveryError("slack", channel.channel, "HTTP 503")
            return await platform.post(channel, digest)

        delivery = Delivery(store, {"slack": flaky})
        assert (await delivery.send(CHANNEL, "s1", now=NOW)).status == "failed"
        down[0] = False
        now = await delivery.send(CHANNEL, "now:1", now=NOW + timedelta(seconds=5))
        # its stories belong to the failing digest, which is retried with them
        assert now.status == "sent" and now.digest is not None and now.digest.empty
        [retried] = await delivery.retry_due(NOW + timedelta(minutes=1))
        assert retried.status == "sent"
        shown = [a.id for _, d in platform.posts for s in d.stories for a in s.articles]
        assert len(shown) == len(set(shown)) > 0
