"""Three real `python -m bot run` replicas on one PostgreSQL database, against the loopback Slack
and Discord fakes and loopback feeds; the leader is killed with SIGKILL halfway through the
scheduled digests. Counted as the channels and the feed servers saw it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bot.leader import current_leader
from bot.models import ChannelRef, ChannelSettings
from bot.store import open_store
from tests.discord_fakes import FakeDiscord
from tests.servers import LoopbackServer
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body
from tests.stories import add_stories

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = 3
STORIES = 100
SLACK_PARTS, DISCORD_PARTS = 7, 10  # a 100-story digest: a top message and its thread / 10
SLACK_CHANNELS = ("CREPLICA1", "CREPLICA2")
DISCORD_CHANNELS = ("700001", "700002")
FEEDS = 6
TAKEOVER_BOUND = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss(n: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {n} reports item {i} on the harbour works</title>"
        f"<link>https://example.org/feed{n}/item{i}</link>"
        f"<description>The harbour works of town {n} reached stage {i} on Monday, the council "
        f"said, after a vote that split the chamber {i + 10} to {i + 3}.</description>"
        f"<pubDate>Thu, 03 Dec 2026 0{i}:00:00 +0000</pubDate></item>"
        for i in range(3)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet {n}</title>'
        f"<link>https://example.org/feed{n}</link>{items}</channel></rss>"
    ).encode()


class Replica:
    def __init__(self, index: int, env: dict[str, str], logs: Path) -> None:
        self.index = index
        self.slack_port = free_port()
        self.health_port = free_port()
        self.env = {
            **env,
            "NEWSBRIEF_SLACK_PORT": str(self.slack_port),
            "NEWSBRIEF_HEALTH_PORT": str(self.health_port),
            "NEWSBRIEF_DISCORD_SHARD_IDS": str(index),
        }
        self.log = logs / f"replica-{index}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.log, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                cwd=ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def ready(self, session: aiohttp.ClientSession, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.returncode is None, self.log.read_text()
            try:
                url = f"http://127.0.0.1:{self.health_port}/readyz"
                async with session.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"replica {self.index} not ready: {self.log.read_text()[-3000:]}")

    @property
    def name(self) -> str:
        assert self.proc is not None
        return f"newsbrief:{socket.gethostname()}:{self.proc.pid}"

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(sig)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def seen_slack(slack: FakeSlack, channel: str) -> tuple[int, int]:
    """Distinct parts in the channel, and parts posted more than once."""
    parts = Counter(slack.parts(channel))
    return len(parts), sum(n - 1 for n in parts.values())


def seen_discord(discord: FakeDiscord, channel: str) -> tuple[int, int]:
    made = discord.messages_in(channel)
    parts = Counter(
        (m["content"], tuple((e.get("title"), e.get("description")) for e in m["embeds"]))
        for m in made
    )
    return len(parts), sum(n - 1 for n in parts.values())


def polls_cut_short(url: str, replica: Replica, feeds: list[str]) -> set[str]:
    """The feeds `replica` (stopped, about to be killed) has claimed and not finished polling."""
    assert replica.proc is not None
    with open_store(url) as store:
        states = store.get_feed_states(feeds)
        return {
            feed
            for feed, (owner, _) in store.feed_claims().items()
            if owner.split("/")[2:3] == [str(replica.proc.pid)] and feed not in states
        }


def whole(slack: FakeSlack, discord: FakeDiscord) -> bool:
    """Whether every channel has every part of its digest."""
    return all(seen_slack(slack, c)[0] >= SLACK_PARTS for c in SLACK_CHANNELS) and all(
        seen_discord(discord, c)[0] >= DISCORD_PARTS for c in DISCORD_CHANNELS
    )


async def until(condition: object, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - start < timeout, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_three_replicas_a_killed_leader_each_digest_once_each_feed_polled_once(
    tmp_path: Path, pg_url: str
) -> None:
    # the channels' digests were due a minute ago: the leader sends them at start, as missed
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    with open_store(pg_url) as store:
        add_stories(store, STORIES)
        for channel in SLACK_CHANNELS:
            store.put_channel(ChannelSettings(ChannelRef("slack", channel), digest_time=due))
        for channel in DISCORD_CHANNELS:
            store.put_channel(ChannelSettings(ChannelRef("discord", channel), digest_time=due))

    with LoopbackServer() as feeds:
        urls = [
            feeds.add(f"feed{n}.xml", rss(n), content_type="application/rss+xml")
            for n in range(FEEDS)
        ]
        async with FakeSlack() as slack, FakeDiscord() as discord:
            # a digest takes a few seconds, so the kill lands in the middle of one
            slack.post_delay = discord.post_delay = 0.25
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))
            }
            env.update(
                {
                    "SLACK_BOT_TOKEN": "xoxb-replicas",
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "DISCORD_BOT_TOKEN": "replicas-token",
                    "NEWSBRIEF_STORE_URL": pg_url,
                    "NEWSBRIEF_SLACK_MODE": "http",
                    "NEWSBRIEF_SLACK_API_BASE_URL": slack.api_url,
                    "NEWSBRIEF_DISCORD_API_BASE_URL": discord.urls()["api_base_url"],
                    "NEWSBRIEF_DISCORD_GATEWAY_URL": discord.urls()["gateway_url"],
                    "NEWSBRIEF_DISCORD_GUILD_IDS": "42",
                    "NEWSBRIEF_DISCORD_SHARD_COUNT": str(REPLICAS),
                    "NEWSBRIEF_DIGEST_MAX_STORIES": str(STORIES),
                    "NEWSBRIEF_FEEDS_URLS": ",".join(urls),
                    "NEWSBRIEF_FEEDS_POLL_INTERVAL": "3600",
                    "NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true",
                    "NEWSBRIEF_REPLICAS_LEASE_CHECK": "1",
                    "NEWSBRIEF_RUN_SHUTDOWN_TIMEOUT": "2",
                    "NEWSBRIEF_LOG_LEVEL": "INFO",
                }
            )
            replicas = [Replica(i, env, tmp_path) for i in range(REPLICAS)]
            try:
                for replica in replicas:
                    await replica.start()
                async with aiohttp.ClientSession() as session:
                    deadline = time.monotonic() + 90
                    for replica in replicas:
                        await replica.ready(session, deadline)

                    # every Discord shard is connected, each by exactly one replica
                    assert sorted(discord.identified_shards) == [[n, REPLICAS] for n in range(3)]
                    # one leader, and it is one of ours
                    await until(lambda: current_leader(pg_url) is not None, 20, "a leader")
                    first = current_leader(pg_url)
                    (leader,) = [r for r in replicas if r.name == first]

                    # kill it once the digests are under way, none finished
                    def started() -> bool:
                        return any(seen_slack(slack, c)[0] for c in SLACK_CHANNELS) or any(
                            seen_discord(discord, c)[0] for c in DISCORD_CHANNELS
                        )

                    await until(started, 60, "the leader starts the missed digests")
                    # feeds the leader is polling when it dies: the fetch may have reached the
                    # feed, but nothing of it was stored, so polling it again is right. Read
                    # while it is stopped (alive to the others, so its claims are still its
                    # own): once it is dead, a replica may take them over before we look
                    assert leader.proc is not None
                    leader.proc.send_signal(signal.SIGSTOP)
                    cut_short = polls_cut_short(pg_url, leader, urls)
                    await leader.stop(signal.SIGKILL)
                    assert not whole(slack, discord), "the kill came too late to test anything"

                    took = await until(
                        lambda: current_leader(pg_url) not in (None, first), 30, "a new leader"
                    )
                    assert took <= TAKEOVER_BOUND

                    # every digest arrives whole (the new leader resumes the one it finds
                    # half sent, part by part, finding what had landed), and nothing twice
                    await until(lambda: whole(slack, discord), 150, "every digest delivered")
                    await asyncio.sleep(3)  # anything late and duplicated would show by now
                    for channel in SLACK_CHANNELS:
                        assert seen_slack(slack, channel) == (SLACK_PARTS, 0), channel
                    for channel in DISCORD_CHANNELS:
                        assert seen_discord(discord, channel) == (DISCORD_PARTS, 0), channel

                    # Slack HTTP mode answers on every replica left (a load balancer's view)
                    for replica in replicas:
                        if replica is leader:
                            continue
                        body = slash_body("/help", "", response_url=slack.response_url)
                        url = f"http://127.0.0.1:{replica.slack_port}/slack/events"
                        async with session.post(url, data=body, headers=signed_headers(body)) as r:
                            assert r.status == 200

                # each feed was polled once across the replicas in this interval: a feed the
                # killed leader had claimed and not yet polled is taken over at the next look
                # for due feeds (each minute)
                def polled() -> Counter[str]:
                    return Counter(r.path for r in feeds.requests if r.path.startswith("/feed"))

                await until(lambda: len(polled()) == FEEDS, 90, "every feed polled")
                await asyncio.sleep(1)
                for n in range(FEEDS):
                    path = f"/feed{n}.xml"
                    allowed = (1, 2) if feeds.url(path) in cut_short else (1,)
                    assert polled()[path] in allowed, (polled(), cut_short)
            finally:
                for replica in replicas:
                    await replica.stop()
