"""Feed claims: replicas on one database poll each due feed once between them, share the work,
and take over the feeds of a replica that died once its claims run out."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import load_settings
from bot.health import HealthServer
from bot.models import FeedState
from bot.scheduler import POLL_BATCH, Scheduler
from bot.store import Store, open_store
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
# a replica that claims the feeds it is given for an hour, then hangs before polling them
CLAIMING_REPLICA = """
import sys, time
from datetime import UTC, datetime, timedelta
from bot.delivery import owner_id
from bot.store import open_store
with open_store(sys.argv[1]) as store:
    now = datetime.now(UTC)
    store.claim_feeds(sys.argv[2:], owner_id(), now, now + timedelta(hours=1), 100)
    print("claimed", flush=True)
    time.sleep(600)
"""
URLS = [f"https://example.org/feed{n}.xml" for n in range(10)]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_claimed_feed_is_nobody_elses_until_it_is_due_again(any_store: Store) -> None:
    first = any_store.claim_feeds(URLS[:3], "a", T0, T0 + timedelta(minutes=2), limit=10)
    assert first == URLS[:3]
    # another replica, a moment later: those three are taken, the rest are free
    second = any_store.claim_feeds(URLS[:5], "b", T0, T0 + timedelta(minutes=2), limit=10)
    assert second == URLS[3:5]
    # "a" polled them: free again only when due, 15 minutes on
    any_store.release_feeds(URLS[:3], "a", T0 + timedelta(minutes=15))
    later = T0 + timedelta(minutes=5)
    assert any_store.claim_feeds(URLS[:3], "b", later, later + timedelta(minutes=2), 10) == []
    due = T0 + timedelta(minutes=15)
    assert any_store.claim_feeds(URLS[:3], "b", due, due + timedelta(minutes=2), 10) == URLS[:3]
    assert {url: owner for url, (owner, _) in any_store.feed_claims().items()} == {
        **{url: "b" for url in URLS[:5]}
    }


def test_a_dead_replicas_claims_run_out_and_release_only_touches_ones_own(
    any_store: Store,
) -> None:
    assert any_store.claim_feeds(URLS[:2], "dead", T0, T0 + timedelta(minutes=2), 10) == URLS[:2]
    # another replica cannot end the dead one's claims, only wait for them to run out
    any_store.release_feeds(URLS[:2], "b", T0)
    assert any_store.claim_feeds(URLS[:2], "b", T0 + timedelta(minutes=1), T0, 10) == []
    after = T0 + timedelta(minutes=2)
    assert any_store.claim_feeds(URLS[:2], "b", after, after + timedelta(minutes=2), 1) == [URLS[0]]


def test_replicas_claiming_at_the_same_moment_take_different_feeds(db_target: str) -> None:
    with open_store(db_target) as store:
        store.claim_feeds([], "none", T0, T0, 1)  # migrated before the threads start
    claims: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def replica(name: str) -> None:
        with open_store(db_target) as store:
            start.wait()
            taken: list[str] = []
            while got := store.claim_feeds(URLS, name, T0, T0 + timedelta(minutes=2), 2):
                taken += got
            claims[name] = taken

    threads = [threading.Thread(target=replica, args=(f"r{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    taken = [url for urls in claims.values() for url in urls]
    assert sorted(taken) == sorted(URLS)  # every feed claimed, by exactly one replica


async def test_two_replicas_poll_each_feed_once_and_share_the_work(
    any_store: Store, loopback: LoopbackServer
) -> None:
    feeds = [
        loopback.add(f"/f{n}.xml", body=_rss(loopback, n), content_type="application/rss+xml")
        for n in range(3 * POLL_BATCH)
    ]
    settings = load_settings(
        None, {"NEWSBRIEF_FEEDS_URLS": ",".join(feeds), "NEWSBRIEF_FEEDS_POLL_INTERVAL": "600"}
    )
    clock = Clock(T0)
    replicas = [
        Scheduler(any_store, settings, {}, policy=loopback.policy(), clock=clock) for _ in "ab"
    ]
    results = await asyncio.gather(*(r.poll_feeds() for r in replicas))
    polled = [len(loopback.requests_for(f"/f{n}.xml")) for n in range(len(feeds))]
    assert polled == [1] * len(feeds)
    added = [len(r.added) if r else 0 for r in results]
    assert sum(added) == len(feeds) and min(added) >= POLL_BATCH  # both did a share
    # ten minutes on, every feed is due again: polled once more, by whichever replica is first
    clock.now += timedelta(minutes=5)
    assert await replicas[0].poll_feeds() is None and await replicas[1].poll_feeds() is None
    clock.now += timedelta(minutes=5)
    await asyncio.gather(*(r.poll_feeds() for r in replicas))
    polled = [len(loopback.requests_for(f"/f{n}.xml")) for n in range(len(feeds))]
    assert polled == [2] * len(feeds)

    # the health check names which replica polled each feed, and until when it holds it
    _, body = await HealthServer(any_store, settings).readiness()
    owners = {replica.delivery.owner for replica in replicas}
    assert {body["feeds"][url]["polled_by"] for url in feeds} <= owners
    assert all(body["feeds"][url]["claimed_until"] for url in feeds)


def _rss(loopback: LoopbackServer, n: int) -> str:
    link = loopback.url(f"/story{n}")
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire {n}</title>
<link>{link}</link><description>d</description>
<item><title>Harbour works in town {n} reach stage two</title><link>{link}</link>
<description>The harbour works of town {n} reached their second stage on Monday, the council
said, after a vote that split the chamber {n + 10} to {n + 3}. The works cost {n + 2} million
euros and end next spring, the mayor said.</description></item></channel></rss>"""


async def test_the_feeds_of_a_replica_killed_mid_poll_are_polled_at_once(
    db_target: str, loopback: LoopbackServer
) -> None:
    feeds = [
        loopback.add(f"/k{n}.xml", body=_rss(loopback, n), content_type="application/rss+xml")
        for n in range(2)
    ]
    settings = load_settings(
        None, {"NEWSBRIEF_FEEDS_URLS": ",".join(feeds), "NEWSBRIEF_FEEDS_POLL_INTERVAL": "600"}
    )
    with open_store(db_target) as store:
        store.claim_feeds([], "none", T0, T0, 1)  # migrated before the other process opens it
        other = subprocess.Popen(
            [sys.executable, "-c", CLAIMING_REPLICA, db_target, *feeds],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert other.stdout is not None and other.stdout.readline() == "claimed\n"
            replica = Scheduler(store, settings, {}, policy=loopback.policy())
            # alive, it holds them: not polled here
            assert await replica.poll_feeds() is None
            assert all(not loopback.requests_for(f"/k{n}.xml") for n in range(2))
            other.kill()
            other.wait(timeout=30)
            # killed: its claims are ended without waiting an hour, and the feeds polled once
            result = await replica.poll_feeds()
            assert result is not None and len(result.added) == 2
            assert [len(loopback.requests_for(f"/k{n}.xml")) for n in range(2)] == [1, 1]
        finally:
            other.kill()
            other.wait(timeout=30)


def test_feed_states_are_read_together(any_store: Store) -> None:
    for url in URLS[:2]:
        any_store.put_feed_state(FeedState(url=url, last_polled=T0, error_count=1))
    states = any_store.get_feed_states([URLS[1], URLS[0], URLS[2], URLS[1]])
    assert sorted(states) == URLS[:2]
    assert states[URLS[0]].last_polled == T0 and states[URLS[1]].error_count == 1
    assert [s.url for s in any_store.feed_states()] == URLS[:2]
